// The page server of a repository with a remote uploads each layer once it
// is durable locally, under an immutable key with its generation, and the
// object holds the file's bytes (a real Ceph RGW; tests/run.sh starts it).
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "common/file_util.h"
#include "pageserver/s3/s3_client.h"
#include "pageserver/s3/timeline_index.h"
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

TEST(LayerUpload, LayersWalAndAnIndexNamingThemAppearInTheBucket) {
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
    std::erase_if(remote, [](const s3::ObjectInfo& o) { return o.key.find("/layers/") == std::string::npos; });
    if (local.size() >= 2 && remote.size() >= local.size()) break;
  }
  ASSERT_GE(local.size(), 2u);
  for (const auto& layer : local) {
    const std::string key = prefix + "/timelines/" + layer.timeline + "/layers/" + layer.name + "-00000000000000000001";
    auto got = client.Get(key);
    ASSERT_TRUE(got.ok()) << "layer " << layer.name << " is not in the bucket: " << got.status().ToString();
    EXPECT_TRUE(*got == ReadFileToString(layer.path).value()) << key << " differs from " << layer.path;
  }
  // The index of main names every local layer under the key that holds it,
  // and its WAL reaches the end of WAL; the refs name main.
  auto url = s3::ParseS3Url("s3://" + s3env.bucket + "/" + prefix).value();
  const std::string main_tl = local.front().timeline;
  std::optional<s3::VersionedIndex> index;
  std::optional<s3::VersionedRefs> refs;
  for (auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
       std::chrono::steady_clock::now() < deadline; std::this_thread::sleep_for(std::chrono::milliseconds(300))) {
    index = s3::ReadNewestIndex(client, url, main_tl, 1).value_or(std::nullopt);
    refs = s3::ReadNewestRefs(client, url, 1).value_or(std::nullopt);
    if (index && refs && index->index.layers.size() == LocalLayers(env.repo()).size()) break;
  }
  ASSERT_TRUE(index.has_value()) << "no index of timeline " << main_tl;
  ASSERT_TRUE(refs.has_value()) << "no refs";
  EXPECT_EQ(refs->refs.branches.at("main"), main_tl);
  ASSERT_EQ(index->index.layers.size(), LocalLayers(env.repo()).size());
  for (const auto& layer : index->index.layers) {
    auto head = client.Head(s3::LayerKey(url, main_tl, layer.name, layer.generation));
    ASSERT_TRUE(head.ok()) << "the index names a missing layer " << layer.name;
    EXPECT_EQ(head->size, layer.size) << layer.name;
  }
  // The WAL pieces named hold the local WAL's bytes, up to wal_uploaded.
  ASSERT_FALSE(index->index.wal.empty());
  EXPECT_EQ(index->index.wal.back().end, index->index.wal_uploaded);
  EXPECT_GE(index->index.wal_uploaded, index->index.layers.back().valid);
  for (const auto& piece : index->index.wal) {
    auto got = client.Get(s3::WalPieceKey(url, main_tl, piece));
    ASSERT_TRUE(got.ok()) << "the index names a missing WAL piece: " << got.status().ToString();
    const std::string segment =
        ReadFileToString(env.repo() + "/timelines/" + main_tl + "/wal/" + WalSegmentFileName(kPgTimeLineId, piece.segno))
            .value();
    EXPECT_TRUE(*got == segment.substr(piece.start.segment_offset(), piece.end - piece.start))
        << "WAL piece " << piece.start.ToString() << "-" << piece.end.ToString() << " differs from the local segment";
  }
  // The page server had the keys in its environment; none reached a file
  // of the repository (its log included).
  RunResult grep = RunCommand({"grep", "-rlF", s3env.vars.at("AWS_SECRET_ACCESS_KEY"), env.repo()});
  EXPECT_EQ(grep.exit_code, 1) << grep.Describe();
}

}  // namespace
}  // namespace zenith::testing
