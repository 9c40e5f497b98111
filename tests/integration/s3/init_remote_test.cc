// `zenith init --remote s3://BUCKET/PREFIX` against a real Ceph RGW: the
// prefix is claimed (repository.json, generation 1), the config keeps the
// remote but no key, and a taken prefix, a missing bucket or wrong keys are
// refused before anything is made locally.
#include <gtest/gtest.h>

#include "common/file_util.h"
#include "pageserver/api/repo_config.h"
#include "pageserver/s3/remote_repository.h"
#include "pageserver/s3/s3_client.h"
#include "tests/harness/s3_test_env.h"
#include "tests/harness/test_env.h"
#include "tests/harness/zenith_env.h"

namespace zenith::testing {
namespace {

class InitRemote : public ::testing::Test {
 protected:
  void UseS3(const S3TestEnv& s3, ZenithEnv& env) {
    for (const auto& [k, v] : s3.vars) env.SetEnv(k, v);
    env.SetEnv("HOME", dir_.path());  // no ~/.aws of the test user's
  }
  std::string Url(const S3TestEnv& s3) const { return "s3://" + s3.bucket + "/" + prefix_; }
  s3::S3Client Client(const S3TestEnv& s3) {
    auto settings = s3::LoadS3Settings([&](const std::string& n) -> std::optional<std::string> {
      auto it = s3.vars.find(n);
      return it == s3.vars.end() ? std::nullopt : std::optional(it->second);
    });
    EXPECT_TRUE(settings.ok());
    return s3::S3Client(*settings, s3.bucket);
  }

  TempDir dir_;
  std::string prefix_ = S3TestEnv::UniquePrefix() + "/repo";
};

TEST_F(InitRemote, ClaimsThePrefixAndKeepsTheRemoteButNoKey) {
  ZENITH_REQUIRE_S3(s3);
  ZenithEnv env(dir_);
  UseS3(s3, env);
  RunResult init = env.MustZenith({"init", "--auth", "trust", "--remote", Url(s3)});
  ASSERT_TRUE(init.ok());
  EXPECT_NE(init.out.find("its remote is " + Url(s3)), std::string::npos) << init.out;

  auto config = pageserver::RepoConfig::Load(env.repo() + "/config");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->remote.url, Url(s3));
  EXPECT_EQ(config->remote.endpoint, s3.vars.at("AWS_ENDPOINT_URL"));
  EXPECT_EQ(config->remote.region, "us-east-1");
  EXPECT_EQ(ReadFileToString(env.repo() + "/generation").value_or(""), "1\n");
  // No file of the repository holds the secret.
  RunResult grep = RunCommand({"grep", "-rlF", s3.vars.at("AWS_SECRET_ACCESS_KEY"), env.repo()});
  EXPECT_EQ(grep.exit_code, 1) << grep.Describe();

  s3::S3Client client = Client(s3);
  auto url = s3::ParseS3Url(Url(s3)).value();
  auto info_json = client.Get(s3::RepositoryJsonKey(url));
  ASSERT_TRUE(info_json.ok()) << info_json.status().ToString();
  auto info = s3::RemoteRepositoryInfo::FromJson(*info_json);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->system_id, config->system_id);
  EXPECT_TRUE(client.Head(s3::GenerationKey(url, 1)).ok());
  EXPECT_EQ(client.Head(s3::GenerationKey(url, 2)).status().code(), StatusCode::kNotFound);
}

TEST_F(InitRemote, AnImportedDataDirectoryClaimsThePrefixToo) {
  ZENITH_REQUIRE_S3(s3);
  RunResult initdb = RunCommand({PgBin("initdb"), "-D", dir_.Sub("pgdata"), "--no-sync", "-A", "trust"});
  ASSERT_TRUE(initdb.ok()) << initdb.Describe();
  ZenithEnv env(dir_);
  UseS3(s3, env);
  ASSERT_TRUE(env.MustZenith({"init", "--from-datadir", dir_.Sub("pgdata"), "--remote", Url(s3)}).ok());
  EXPECT_EQ(pageserver::RepoConfig::Load(env.repo() + "/config").value().remote.url, Url(s3));
  s3::S3Client client = Client(s3);
  EXPECT_TRUE(client.Head(s3::GenerationKey(s3::ParseS3Url(Url(s3)).value(), 1)).ok());
}

TEST_F(InitRemote, APrefixHoldingARepositoryIsRefused) {
  ZENITH_REQUIRE_S3(s3);
  s3::S3Client client = Client(s3);
  auto url = s3::ParseS3Url(Url(s3)).value();
  ASSERT_TRUE(client.Put(s3::RepositoryJsonKey(url), s3::RemoteRepositoryInfo{}.ToJson()).ok());
  ZenithEnv env(dir_);
  UseS3(s3, env);
  RunResult init = env.Zenith({"init", "--auth", "trust", "--remote", Url(s3)});
  EXPECT_NE(init.exit_code, 0);
  EXPECT_NE(init.err.find(Url(s3) + " already holds a zenith repository"), std::string::npos) << init.err;
  EXPECT_FALSE(PathExists(env.repo()));
}

TEST_F(InitRemote, AMissingBucketIsRefused) {
  ZENITH_REQUIRE_S3(s3);
  ZenithEnv env(dir_);
  UseS3(s3, env);
  RunResult init = env.Zenith({"init", "--auth", "trust", "--remote", "s3://no-such-bucket-zenith/x"});
  EXPECT_NE(init.exit_code, 0);
  EXPECT_NE(init.err.find("bucket \"no-such-bucket-zenith\" does not exist"), std::string::npos) << init.err;
  EXPECT_FALSE(PathExists(env.repo()));
}

TEST_F(InitRemote, WrongCredentialsAreRefusedWithoutShowingThem) {
  ZENITH_REQUIRE_S3(s3);
  ZenithEnv env(dir_);
  UseS3(s3, env);
  const std::string wrong = "not-the-secret-4242424242";
  env.SetEnv("AWS_SECRET_ACCESS_KEY", wrong);
  RunResult init = env.Zenith({"init", "--auth", "trust", "--remote", Url(s3)});
  EXPECT_NE(init.exit_code, 0);
  EXPECT_NE(init.err.find("access denied"), std::string::npos) << init.err;
  EXPECT_EQ(init.err.find(wrong), std::string::npos);
  EXPECT_EQ(init.out.find(wrong), std::string::npos);
  EXPECT_FALSE(PathExists(env.repo()));
}

TEST_F(InitRemote, NoCredentialsAtAllSayWhereToPutThem) {
  ZENITH_REQUIRE_S3(s3);
  ZenithEnv env(dir_);
  env.SetEnv("HOME", dir_.path());
  env.SetEnv("AWS_ENDPOINT_URL", s3.vars.at("AWS_ENDPOINT_URL"));
  RunResult init = env.Zenith({"init", "--auth", "trust", "--remote", Url(s3)});
  EXPECT_NE(init.exit_code, 0);
  EXPECT_NE(init.err.find("AWS_ACCESS_KEY_ID"), std::string::npos) << init.err;
  EXPECT_FALSE(PathExists(env.repo()));
}

}  // namespace
}  // namespace zenith::testing
