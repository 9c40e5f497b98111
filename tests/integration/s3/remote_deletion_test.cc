// Deletion from the bucket (docs/design.md §12, "Deletion") against a real
// Ceph RGW: what compaction and GC removed locally, and a deleted branch's
// timeline, leave the bucket once an index (or refs) no longer naming them
// is there; nothing an index names is deleted, so the bucket still attaches.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/file_util.h"
#include "pageserver/s3/s3_client.h"
#include "pageserver/s3/timeline_index.h"
#include "tests/harness/compute.h"
#include "tests/harness/s3_test_client.h"
#include "tests/harness/s3_test_env.h"
#include "tests/harness/temp_dir.h"
#include "tests/harness/wait.h"
#include "tests/harness/zenith_env.h"

namespace zenith::testing {
namespace {

struct Objects {
  size_t count = 0;
  uint64_t bytes = 0;
};

Objects Under(s3::S3Client& client, const std::string& prefix) {
  Objects o;
  for (const auto& info : client.ListAll(prefix).value()) {
    ++o.count;
    o.bytes += info.size;
  }
  return o;
}

size_t LocalLayers(const ZenithEnv& env, const std::string& timeline) {
  size_t n = 0;
  for (const auto& name : ListDirectory(env.repo() + "/timelines/" + timeline + "/layers").value()) {
    if (name.ends_with(".layer")) ++n;
  }
  return n;
}

std::string BranchTimeline(const ZenithEnv& env, const std::string& branch) {
  std::string id = ReadFileToString(env.repo() + "/refs/branches/" + branch).value();
  return id.substr(0, id.find('\n'));
}

TEST(RemoteDeletion, CollectedLayersAndADeletedBranchLeaveTheBucketAndItStillAttaches) {
  ZENITH_REQUIRE_S3(s3env);
  TempDir dir;
  ZenithEnv env(dir);
  for (const auto& [k, v] : s3env.vars) env.SetEnv(k, v);
  env.SetEnv("HOME", dir.path());
  const std::string url = "s3://" + s3env.bucket + "/" + S3TestEnv::UniquePrefix() + "/repo";
  ASSERT_TRUE(env.MustZenith({"init", "--auth", "trust", "--remote", url}).ok());
  env.Zenith({"pageserver", "stop"});
  auto config = nlohmann::json::parse(ReadFileToString(env.repo() + "/config").value());
  config["remote"]["wal_upload_interval"] = 0.3;
  config["history"]["compaction_period"] = "0s";  // compaction only when `zenith gc` asks
  ASSERT_TRUE(WriteFileDurably(env.repo() + "/config", config.dump(2)).ok());

  ASSERT_TRUE(env.MustZenith({"mount", "main", dir.Sub("main")}).ok());
  Compute main(env, "main", FreePort());
  main.Start();
  main.Query("create table t as select g, repeat('x', 200) as pad from generate_series(1, 20000) g; checkpoint");
  for (int i = 0; i < 12; ++i) main.Query("update t set pad = repeat('y', 200) where g % 12 = " + std::to_string(i) + "; checkpoint");
  const std::string rows = main.Query("select count(*), sum(length(pad)) from t");
  ASSERT_TRUE(env.MustZenith({"remote", "sync", "--timeout", "60"}).ok());
  ASSERT_TRUE(main.pg().Stop().ok());
  ASSERT_TRUE(env.MustZenith({"umount", dir.Sub("main")}).ok());

  s3::S3Client client = TestBucketClient(s3env);
  const auto parsed = s3::ParseS3Url(url).value();
  const std::string tl = BranchTimeline(env, "main");
  const std::string layers = s3::TimelinePrefix(parsed, tl) + "layers/";
  const Objects before = Under(client, layers);
  ASSERT_GE(before.count, 10u) << "every checkpoint's snapshot is a layer in the bucket";

  // Compaction and GC with no window: most layers go locally, then from the bucket.
  ASSERT_TRUE(env.MustZenith({"gc", "--window", "0s"}).ok());
  ASSERT_TRUE(env.MustZenith({"remote", "sync", "--timeout", "60"}).ok());
  const size_t local = LocalLayers(env, tl);
  ASSERT_LT(local, before.count);
  EXPECT_TRUE(WaitUntil([&] { return Under(client, layers).count == local; }, std::chrono::seconds(30)))
      << Under(client, layers).count << " layer objects, " << local << " layers on disk";
  EXPECT_LT(Under(client, layers).bytes, before.bytes);
  auto index = s3::ReadNewestIndex(client, parsed, tl, 1).value();
  ASSERT_TRUE(index.has_value());
  for (const auto& key : s3::NamedKeys(parsed, index->index)) {
    EXPECT_TRUE(client.Head(key).ok()) << key << " is named by the newest index and was deleted";
  }

  // A branch's objects go once it is deleted.
  ASSERT_TRUE(env.MustZenith({"branch", "dev", "main"}).ok());
  ASSERT_TRUE(env.MustZenith({"mount", "dev", dir.Sub("dev")}).ok());
  Compute dev(env, "dev", FreePort());
  dev.Start();
  dev.Query("insert into t select g, 'dev' from generate_series(1, 1000) g; checkpoint");
  ASSERT_TRUE(dev.pg().Stop().ok());
  ASSERT_TRUE(env.MustZenith({"umount", dir.Sub("dev")}).ok());
  const std::string dev_tl = BranchTimeline(env, "dev");
  ASSERT_TRUE(env.MustZenith({"remote", "sync", "--timeout", "60"}).ok());
  const std::string dev_prefix = s3::TimelinePrefix(parsed, dev_tl);
  ASSERT_GT(Under(client, dev_prefix).count, 0u);
  ASSERT_TRUE(env.MustZenith({"branch", "delete", "dev"}).ok());
  EXPECT_TRUE(WaitUntil([&] { return Under(client, dev_prefix).count == 0; }, std::chrono::seconds(30)))
      << Under(client, dev_prefix).count << " objects of the deleted branch are left";

  // What is left is whole: it attaches, and main reads as before.
  TempDir other;
  ZenithEnv attached(other);
  for (const auto& [k, v] : s3env.vars) attached.SetEnv(k, v);
  attached.SetEnv("HOME", other.path());
  ASSERT_TRUE(env.MustZenith({"pageserver", "stop"}).ok());
  ASSERT_TRUE(attached.MustZenith({"attach", url}).ok());
  EXPECT_EQ(attached.MustZenith({"branch"}).out, "main\n");
  ASSERT_TRUE(attached.MustZenith({"mount", "main", other.Sub("main")}).ok());
  Compute again(attached, "main", FreePort());
  again.Start();
  EXPECT_EQ(again.Query("select count(*), sum(length(pad)) from t"), rows);
  ASSERT_TRUE(again.pg().Stop().ok());
}

}  // namespace
}  // namespace zenith::testing
