// The page server of a repository with a remote uploads each layer once it
// is durable locally, under an immutable key with its generation, and the
// object holds the file's bytes (a real Ceph RGW; tests/run.sh starts it).
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "common/file_util.h"
#include "pageserver/s3/s3_client.h"
#include "tests/harness/compute.h"
#include "tests/harness/s3_test_env.h"
#include "tests/harness/temp_dir.h"
#include "tests/harness/zenith_env.h"

namespace zenith::testing {
namespace {

struct LocalLayer {
  std::string timeline, name, path;
};

std::vector<LocalLayer> LocalLayers(const std::string& repo) {
  std::vector<LocalLayer> out;
  for (const auto& tl : ListDirectory(repo + "/timelines").value_or({})) {
    const std::string dir = repo + "/timelines/" + tl + "/layers";
    for (const auto& name : ListDirectory(dir).value_or({})) {
      if (name.size() > 6 && name.substr(name.size() - 6) == ".layer") out.push_back({tl, name, dir + "/" + name});
    }
  }
  return out;
}

TEST(LayerUpload, EveryDurableLayerAppearsInTheBucketWithItsBytes) {
  ZENITH_REQUIRE_S3(s3env);
  TempDir dir;
  ZenithEnv env(dir);
  for (const auto& [k, v] : s3env.vars) env.SetEnv(k, v);
  env.SetEnv("HOME", dir.path());
  const std::string prefix = S3TestEnv::UniquePrefix() + "/repo";
  ASSERT_TRUE(env.MustZenith({"init", "--auth", "trust", "--remote", "s3://" + s3env.bucket + "/" + prefix}).ok());
  ASSERT_TRUE(env.MustZenith({"mount", "main", dir.Sub("main")}).ok());
  {
    Compute compute(env, "main", FreePort());
    compute.Start();
    compute.Query("create table t as select g, repeat('x', 500) as pad from generate_series(1, 20000) g");
    compute.Query("checkpoint");
    ASSERT_TRUE(compute.pg().Stop().ok());
  }
  auto settings = s3::LoadS3Settings([&](const std::string& n) -> std::optional<std::string> {
    auto it = s3env.vars.find(n);
    return it == s3env.vars.end() ? std::nullopt : std::optional(it->second);
  });
  ASSERT_TRUE(settings.ok());
  s3::S3Client client(*settings, s3env.bucket);

  // The import's layer and the checkpoint's: at least two.
  std::vector<LocalLayer> local;
  std::vector<s3::ObjectInfo> remote;
  for (auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
       std::chrono::steady_clock::now() < deadline; std::this_thread::sleep_for(std::chrono::milliseconds(300))) {
    local = LocalLayers(env.repo());
    remote = client.ListAll(prefix + "/timelines/").value_or({});
    if (local.size() >= 2 && remote.size() >= local.size()) break;
  }
  ASSERT_GE(local.size(), 2u);
  for (const auto& layer : local) {
    const std::string key = prefix + "/timelines/" + layer.timeline + "/layers/" + layer.name + "-00000000000000000001";
    auto got = client.Get(key);
    ASSERT_TRUE(got.ok()) << "layer " << layer.name << " is not in the bucket: " << got.status().ToString();
    EXPECT_TRUE(*got == ReadFileToString(layer.path).value()) << key << " differs from " << layer.path;
  }
  // The page server had the keys in its environment; none reached a file
  // of the repository (its log included).
  RunResult grep = RunCommand({"grep", "-rlF", s3env.vars.at("AWS_SECRET_ACCESS_KEY"), env.repo()});
  EXPECT_EQ(grep.exit_code, 1) << grep.Describe();
}

}  // namespace
}  // namespace zenith::testing
