// zenith-fs's log pattern (fs/mount_log.h): every line names the branch and
// mount point, even ones with '%' in them, and a bad level is refused.
#include "fs/mount_log.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <sstream>

namespace zenith::fs {
namespace {

TEST(MountLog, LinesNameTheBranchAndTheMountPoint) {
  std::ostringstream out;
  auto logger = std::make_shared<spdlog::logger>("t", std::make_shared<spdlog::sinks::ostream_sink_mt>(out));
  logger->set_pattern(MountLogPattern("exp", "/home/u/100%pg"));
  logger->info("mounted");
  const std::string line = out.str();
  EXPECT_NE(line.find("info: [exp /home/u/100%pg] mounted\n"), std::string::npos) << line;
}

TEST(MountLog, ABadLevelIsRefused) {
  MountLogOptions options;
  options.level = "loud";
  Status s = ConfigureMountLog(options, "main", "/m");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("'loud' is not a log level"), std::string::npos);
}

}  // namespace
}  // namespace zenith::fs
