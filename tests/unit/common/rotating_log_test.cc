#include "common/rotating_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <string>

#include "common/file_util.h"
#include "common/unique_fd.h"
#include "tests/harness/temp_dir.h"

namespace zenith {
namespace {

uint64_t FileSize(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}
bool Exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

UniqueFd OpenLog(const std::string& path) {
  return UniqueFd(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
}

TEST(RotatingLogSink, KeepsTheLogAndItsOldFilesBounded) {
  testing::TempDir dir("rotlog");
  const std::string path = dir.Sub("server.log");
  UniqueFd fd = OpenLog(path);
  auto sink = RotatingLogSink::ForFds(path, {fd.get()}, {4096, 3});
  ASSERT_TRUE(sink.ok()) << sink.status().message();
  spdlog::logger logger("rot", *sink);
  logger.set_pattern("%v");
  const std::string line(100, 'x');
  for (int i = 0; i < 2000; ++i) logger.info("{} {}", i, line);  // ~200 KB
  EXPECT_LT(FileSize(path), 4096u + 200);
  for (int i = 1; i <= 3; ++i) {
    EXPECT_TRUE(Exists(path + "." + std::to_string(i))) << i;
    EXPECT_LT(FileSize(path + "." + std::to_string(i)), 4096u + 200);
  }
  EXPECT_FALSE(Exists(path + ".4")) << "only max_files old logs are kept";
  // The newest lines are in the current file.
  EXPECT_NE(ReadFileToString(path).value().find("1999 "), std::string::npos);
}

TEST(RotatingLogSink, TheDescriptorFollowsIntoTheNewFile) {
  testing::TempDir dir("rotlog");
  const std::string path = dir.Sub("server.log");
  UniqueFd fd = OpenLog(path);
  auto sink = RotatingLogSink::ForFds(path, {fd.get()}, {4096, 1});
  ASSERT_TRUE(sink.ok());
  spdlog::logger logger("rot", *sink);
  for (int i = 0; i < 100; ++i) logger.info("{}", std::string(100, 'y'));
  ASSERT_TRUE(Exists(path + ".1"));
  // Whatever else writes to the descriptor (a crash message) lands in the current file.
  ASSERT_EQ(::write(fd.get(), "direct\n", 7), 7);
  EXPECT_NE(ReadFileToString(path).value().find("direct"), std::string::npos);
}

TEST(RotatingLogSink, RefusesADescriptorOnAnotherFile) {
  testing::TempDir dir("rotlog");
  UniqueFd other = OpenLog(dir.Sub("other.log"));
  ASSERT_TRUE(WriteFileDurably(dir.Sub("server.log"), "").ok());
  auto sink = RotatingLogSink::ForFds(dir.Sub("server.log"), {other.get()}, {4096, 2});
  EXPECT_EQ(sink.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(RotatingLogSink::ForFds(dir.Sub("other.log"), {other.get()}, {0, 2}).status().code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace zenith
