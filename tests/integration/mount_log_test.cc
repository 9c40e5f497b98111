// The logs an operator reads (README, "Logs"): every zenith-fs line names
// its branch and mount point, a mount's log is rotated by size as the config
// says, and "log_level" holds for the page server and the mounts.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "common/file_util.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/temp_dir.h"
#include "tests/harness/zenith_env.h"

namespace zenith::testing {
namespace {

using nlohmann::json;

// The one mount log of the repository's datadirs (one branch mounted).
std::string MountLog(const ZenithEnv& env) {
  RunResult r = RunShell("ls " + env.repo() + "/datadirs/*/zenith-fs.log");
  EXPECT_TRUE(r.ok()) << r.Describe();
  return r.out.substr(0, r.out.find('\n'));
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

TEST(MountLogTest, EveryLineNamesTheMountAndTheLogIsRotatedBySize) {
  TempDir dir("mount-log");
  ZenithEnv env(dir);
  ASSERT_TRUE(env.MustZenith({"init"}).ok());
  env.Zenith({"pageserver", "stop"});
  env.EditConfig([](json& c) { c["limits"] = {{"log_max_bytes", 4096}, {"log_max_files", 2}}; });
  const std::string mountpoint = dir.Sub("main");
  for (int i = 0; i < 12; ++i) {
    env.MustZenith({"mount", "main", mountpoint});
    env.MustZenith({"umount", mountpoint});
  }
  const std::string log = MountLog(env);
  auto text = ReadFileToString(log);
  ASSERT_TRUE(text.ok()) << text.status().ToString();
  ASSERT_FALSE(text->empty());
  for (const auto& line : Lines(*text)) {
    EXPECT_NE(line.find("[main " + mountpoint + "] "), std::string::npos) << "a line without its mount: " << line;
  }
  EXPECT_LE(text->size(), 4096u + 1024u) << "rotated once past log_max_bytes";
  EXPECT_TRUE(PathExists(log + ".1")) << "twelve mounts' lines do not fit 4 kB: the log was rotated";
  EXPECT_TRUE(PathExists(log + ".2"));
  EXPECT_FALSE(PathExists(log + ".3")) << "log_max_files is 2";
}

TEST(MountLogTest, TheConfiguredLevelHoldsForThePageServerAndTheMounts) {
  TempDir dir("mount-log-level");
  ZenithEnv env(dir);
  ASSERT_TRUE(env.MustZenith({"init"}).ok());
  env.Zenith({"pageserver", "stop"});
  ASSERT_TRUE(WriteFileDurably(env.repo() + "/pageserver.log", "").ok());
  env.EditConfig([](json& c) { c["log_level"] = "error"; });
  env.MustZenith({"mount", "main", dir.Sub("main")});
  env.MustZenith({"umount", dir.Sub("main")});
  env.MustZenith({"pageserver", "stop"});
  for (const std::string& log : {MountLog(env), env.repo() + "/pageserver.log"}) {
    auto text = ReadFileToString(log);
    ASSERT_TRUE(text.ok()) << log;
    EXPECT_EQ(text->find(" info: "), std::string::npos) << log << " has info lines at level error:\n" << *text;
  }

  env.EditConfig([](json& c) { c["log_level"] = "loud"; });
  RunResult bad = env.Zenith({"branch"});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("'loud' is not a log level"), std::string::npos) << bad.Describe();
}

}  // namespace
}  // namespace zenith::testing
