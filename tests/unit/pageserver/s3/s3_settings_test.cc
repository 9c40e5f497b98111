#include "pageserver/s3/s3_settings.h"

#include <gtest/gtest.h>

#include <map>

#include "common/file_util.h"
#include "tests/harness/temp_dir.h"

namespace zenith::s3 {
namespace {

EnvLookup Env(std::map<std::string, std::string> vars) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

TEST(S3SettingsTest, EnvironmentKeysAndDefaultRegion) {
  auto s = LoadS3Settings(Env({{"AWS_ACCESS_KEY_ID", "AK"}, {"AWS_SECRET_ACCESS_KEY", "SK"}}));
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->region, "us-east-1");
  EXPECT_EQ(s->endpoint, "https://s3.us-east-1.amazonaws.com");
  EXPECT_EQ(s->credentials.access_key_id, "AK");
  EXPECT_EQ(s->credentials.secret_access_key.Reveal(), "SK");
}

TEST(S3SettingsTest, EndpointAndRegionFromEnvironmentUnlessGiven) {
  auto env = Env({{"AWS_ACCESS_KEY_ID", "AK"}, {"AWS_SECRET_ACCESS_KEY", "SK"},
                  {"AWS_ENDPOINT_URL", "http://127.0.0.1:7480/"}, {"AWS_REGION", "eu-west-1"}});
  auto s = LoadS3Settings(env);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->endpoint, "http://127.0.0.1:7480");
  EXPECT_EQ(s->region, "eu-west-1");
  s = LoadS3Settings(env, "http://10.0.0.1:80", "zz");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->endpoint, "http://10.0.0.1:80");
  EXPECT_EQ(s->region, "zz");
}

TEST(S3SettingsTest, CredentialsFileProfile) {
  testing::TempDir dir;
  std::string file = dir.path() + "/creds";
  ASSERT_TRUE(WriteFileDurably(file,
                               "[default]\naws_access_key_id = D\naws_secret_access_key = DS\n"
                               "# comment\n[work]\r\naws_access_key_id=W\r\naws_secret_access_key=WS\r\n")
                  .ok());
  auto s = LoadS3Settings(Env({{"AWS_SHARED_CREDENTIALS_FILE", file}}));
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->credentials.access_key_id, "D");
  s = LoadS3Settings(Env({{"AWS_SHARED_CREDENTIALS_FILE", file}, {"AWS_PROFILE", "work"}}));
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->credentials.access_key_id, "W");
  EXPECT_EQ(s->credentials.secret_access_key.Reveal(), "WS");
  s = LoadS3Settings(Env({{"AWS_SHARED_CREDENTIALS_FILE", file}, {"AWS_PROFILE", "nope"}}));
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("[nope]"), std::string::npos) << s.status().message();
}

TEST(S3SettingsTest, MissingCredentialsSayWhatToSetAndNeverTheSecret) {
  auto s = LoadS3Settings(Env({{"HOME", "/nonexistent"}}));
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("AWS_ACCESS_KEY_ID"), std::string::npos);
  s = LoadS3Settings(Env({{"AWS_SECRET_ACCESS_KEY", "topsecret"}}));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().message().find("topsecret"), std::string::npos);
}

TEST(S3SettingsTest, BadEndpointIsRefused) {
  auto s = LoadS3Settings(Env({{"AWS_ACCESS_KEY_ID", "AK"}, {"AWS_SECRET_ACCESS_KEY", "SK"},
                               {"AWS_ENDPOINT_URL", "ftp://x"}}));
  EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(ValidateEndpoint("http://host/path").ok());
  EXPECT_TRUE(ValidateEndpoint("https://host:9000").ok());
}

TEST(S3SettingsTest, ParsesS3Urls) {
  auto u = ParseS3Url("s3://my-bucket/some/prefix/");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->bucket, "my-bucket");
  EXPECT_EQ(u->prefix, "some/prefix");
  EXPECT_EQ(u->Key("repository.json"), "some/prefix/repository.json");
  EXPECT_EQ(u->ToString(), "s3://my-bucket/some/prefix");
  u = ParseS3Url("s3://abc");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->Key("x"), "x");
  EXPECT_FALSE(ParseS3Url("http://abc/x").ok());
  EXPECT_FALSE(ParseS3Url("s3://ab/x").ok());
  EXPECT_FALSE(ParseS3Url("s3://Upper/x").ok());
  EXPECT_FALSE(ParseS3Url("s3://abc//x").ok());
}

}  // namespace
}  // namespace zenith::s3
