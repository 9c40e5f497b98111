#include "pageserver/api/repo_config.h"

#include <gtest/gtest.h>

namespace zenith::pageserver {
namespace {

TEST(RepoConfigTest, RemoteRoundTrips) {
  RepoConfig c;
  c.system_id = 7;
  c.remote = {"s3://bucket/pre/fix", "http://127.0.0.1:7480", "eu-west-1"};
  auto back = RepoConfig::FromJson(c.ToJson());
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->remote, c.remote);
}

TEST(RepoConfigTest, NoRemoteIsNotWritten) {
  RepoConfig c;
  EXPECT_EQ(c.ToJson().find("remote"), std::string::npos);
  auto back = RepoConfig::FromJson(c.ToJson());
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(back->remote.url.empty());
}

TEST(RepoConfigTest, RemoteMustBeAnObjectWithAUrl) {
  std::string text = RepoConfig{}.ToJson();
  text.insert(text.rfind('}'), ", \"remote\": 3");
  EXPECT_EQ(RepoConfig::FromJson(text).status().code(), StatusCode::kCorruption);
  text = RepoConfig{}.ToJson();
  text.insert(text.rfind('}'), ", \"remote\": {\"endpoint\": \"x\"}");
  EXPECT_EQ(RepoConfig::FromJson(text).status().code(), StatusCode::kCorruption);
}

}  // namespace
}  // namespace zenith::pageserver
