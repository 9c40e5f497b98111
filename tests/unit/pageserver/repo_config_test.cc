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

TEST(RepoConfigTest, TheCacheSizeRoundTripsAndMustBeANumberOfBytes) {
  RepoConfig c;
  c.remote = {"s3://bucket/p", "http://127.0.0.1:7480", "us-east-1"};
  c.remote.cache_size = uint64_t{5} << 30;
  auto back = RepoConfig::FromJson(c.ToJson());
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->remote.cache_size, uint64_t{5} << 30);
  c.remote.cache_size = 0;
  EXPECT_EQ(c.ToJson().find("cache_size"), std::string::npos) << "no bound is the default, not written";
  for (const char* bad : {"-1", "\"5GB\"", "1.5"}) {
    std::string text = c.ToJson();
    const size_t at = text.find("\"url\"");
    ASSERT_NE(at, std::string::npos);
    text.insert(at, std::string("\"cache_size\": ") + bad + ", ");
    auto parsed = RepoConfig::FromJson(text);
    EXPECT_EQ(parsed.status().code(), StatusCode::kCorruption) << bad;
    EXPECT_NE(parsed.status().message().find("cache_size"), std::string::npos) << parsed.status().ToString();
  }
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
