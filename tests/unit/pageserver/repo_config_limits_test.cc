// The "limits" of the repository config (pageserver/api/repo_config.h).
#include <gtest/gtest.h>

#include "pageserver/api/repo_config.h"

namespace zenith::pageserver {
namespace {

std::string ConfigWith(const std::string& limits) {
  return R"({"format": 1, "system_id": "7", "pg_version": 15, "pg_bin_dir": "/x", "port": 64000, "limits": )" +
         limits + "}";
}

TEST(RepoConfigLimits, DefaultsAreSaneAndLeftOutOfTheFile) {
  RepoConfig c;
  EXPECT_EQ(c.limits.max_unauthenticated, 64);
  EXPECT_EQ(c.limits.max_unauthenticated_per_address, 8);
  EXPECT_EQ(c.limits.auth_timeout_seconds, 5);
  EXPECT_EQ(c.ToJson().find("limits"), std::string::npos);
}

TEST(RepoConfigLimits, EveryFieldIsReadAndWrittenBack) {
  auto c = RepoConfig::FromJson(ConfigWith(
      R"({"max_connections": 50, "max_unauthenticated": 10, "max_unauthenticated_per_address": 3,
          "auth_timeout": "2s", "failed_login_delay_max": "30s", "idle_timeout": "1h", "send_timeout": "0",
          "log_max_bytes": 65536, "log_max_files": 2})"));
  ASSERT_TRUE(c.ok()) << c.status().message();
  const LimitsConfig& l = c->limits;
  EXPECT_EQ(l.max_connections, 50);
  EXPECT_EQ(l.max_unauthenticated, 10);
  EXPECT_EQ(l.max_unauthenticated_per_address, 3);
  EXPECT_EQ(l.auth_timeout_seconds, 2);
  EXPECT_EQ(l.failed_login_delay_max_seconds, 30);
  EXPECT_EQ(l.idle_timeout_seconds, 3600);
  EXPECT_EQ(l.send_timeout_seconds, 0);
  EXPECT_EQ(l.log_max_bytes, 65536u);
  EXPECT_EQ(l.log_max_files, 2);
  auto again = RepoConfig::FromJson(c->ToJson());
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(again->limits, l);
}

TEST(RepoConfigLimits, BadValuesAreRefusedByName) {
  for (const char* bad : {R"({"max_unauthenticated": 0})", R"({"auth_timeout": "soon"})", R"({"auth_timeout": "0"})",
                          R"({"log_max_bytes": 10})", R"({"log_max_files": 0})", R"("none")"}) {
    auto c = RepoConfig::FromJson(ConfigWith(bad));
    EXPECT_EQ(c.status().code(), StatusCode::kCorruption) << bad;
    EXPECT_NE(c.status().message().find("limits"), std::string::npos) << c.status().message();
  }
}

// "mount_timeout" sits beside "limits": how long the CLI waits for a mount.
TEST(RepoConfigLimits, MountTimeoutIsReadWrittenBackAndChecked) {
  const std::string base = R"({"format": 1, "system_id": "7", "pg_version": 15, "pg_bin_dir": "/x", "port": 64000)";
  EXPECT_EQ(RepoConfig{}.mount_timeout_seconds, 300);
  EXPECT_EQ(RepoConfig{}.ToJson().find("mount_timeout"), std::string::npos);
  auto c = RepoConfig::FromJson(base + R"(, "mount_timeout": "2m"})");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->mount_timeout_seconds, 120);
  auto again = RepoConfig::FromJson(c->ToJson());
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(again->mount_timeout_seconds, 120);
  for (const char* bad : {R"("0s")", R"("later")"}) {
    auto b = RepoConfig::FromJson(base + R"(, "mount_timeout": )" + bad + "}");
    EXPECT_EQ(b.status().code(), StatusCode::kCorruption) << bad;
    EXPECT_NE(b.status().message().find("mount_timeout"), std::string::npos) << b.status().message();
  }
}

}  // namespace
}  // namespace zenith::pageserver
