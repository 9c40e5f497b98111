// kill -9 of the page server in the middle of its uploads, against a real
// Ceph RGW (docs/design.md §12): after each kill, every index in the
// bucket names only objects the bucket holds (an index is the commit point,
// put after what it names); the next start goes on from what the bucket
// says; and after the last, a `zenith attach` of the bucket elsewhere gives
// back every commit.
#include <gtest/gtest.h>

#include <random>
#include <set>
#include <thread>

#include "common/file_util.h"
#include "pageserver/s3/s3_client.h"
#include "pageserver/s3/timeline_index.h"
#include "tests/harness/compute.h"
#include "tests/harness/remote_repo.h"
#include "tests/harness/s3_test_client.h"
#include "tests/harness/s3_test_env.h"
#include "tests/harness/temp_dir.h"
#include "tests/harness/zenith_env.h"

namespace zenith::testing {
namespace {

// Every index under the prefix names only keys the bucket holds; the
// number of indexes seen.
int ExpectEveryIndexComplete(s3::S3Client& client, const s3::S3Url& url, const std::string& when) {
  auto objects = client.ListAll(url.Key(""));
  EXPECT_TRUE(objects.ok()) << objects.status().ToString();
  if (!objects.ok()) return 0;
  std::set<std::string> keys;
  for (const auto& o : *objects) keys.insert(o.key);
  int indexes = 0;
  for (const std::string& key : keys) {
    if (!s3::IndexKeyVersion(key)) continue;
    auto text = client.Get(key);
    EXPECT_TRUE(text.ok()) << key << ": " << text.status().ToString();
    if (!text.ok()) continue;
    auto index = s3::TimelineIndex::FromJson(*text);
    EXPECT_TRUE(index.ok()) << key << ": " << index.status().ToString();
    if (!index.ok()) continue;
    ++indexes;
    for (const std::string& named : s3::NamedKeys(url, *index)) {
      EXPECT_EQ(keys.count(named), 1u) << when << ": " << key << " names " << named << ", which the bucket lacks";
    }
  }
  return indexes;
}

TEST(RemoteCrash, KillNineDuringUploadsLeavesNoIndexNamingAMissingObject) {
  ZENITH_REQUIRE_S3(s3env);
  const std::string url = "s3://" + s3env.bucket + "/" + S3TestEnv::UniquePrefix() + "/repo";
  const s3::S3Url parsed = s3::ParseS3Url(url).value();
  s3::S3Client client = TestBucketClient(s3env);
  TempDir dir;
  ZenithEnv env(dir);
  InitWithRemote(env, dir, s3env, url, {{"wal_upload_interval", 0.3}});
  const unsigned seed = std::random_device{}();
  std::mt19937 rng(seed);
  SCOPED_TRACE("seed " + std::to_string(seed));

  // Each round leaves uploads to do (a new layer, its WAL, the index, the
  // refs of a new branch) and kills the page server somewhere in them.
  int rows = 0;
  for (int round = 0; round < 5; ++round) {
    ASSERT_TRUE(env.MustZenith({"mount", "main", dir.Sub("main")}).ok());
    {
      Compute compute(env, "main", FreePort());
      compute.Start();
      if (round == 0) compute.Query("create table t (round int, pad text)");
      compute.Query("insert into t select " + std::to_string(round) +
                    ", repeat('x', 500) from generate_series(1, 20000)");
      rows += 20000;
      ASSERT_TRUE(compute.pg().Stop().ok());  // the shutdown checkpoint stores a layer
    }
    ASSERT_TRUE(env.MustZenith({"umount", dir.Sub("main")}).ok());
    ASSERT_TRUE(env.MustZenith({"branch", "round" + std::to_string(round), "main"}).ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 700)(rng)));
    const pid_t pid = PageServerPid(env);
    ASSERT_GT(pid, 0);
    KillTree(pid);
    WaitGone({pid});
    ExpectEveryIndexComplete(client, parsed, "after kill " + std::to_string(round + 1));
  }

  // The next start finishes what was left; a new directory attaches it.
  ASSERT_TRUE(env.MustZenith({"pageserver", "start"}).ok());
  ASSERT_TRUE(env.MustZenith({"remote", "sync", "--timeout", "120"}).ok());
  EXPECT_GT(ExpectEveryIndexComplete(client, parsed, "after the sync"), 0);
  if (pid_t pid = PageServerPid(env)) KillTree(pid);
  TempDir other;
  ZenithEnv attached(other);
  for (const auto& [k, v] : s3env.vars) attached.SetEnv(k, v);
  attached.SetEnv("HOME", other.path());
  ASSERT_TRUE(attached.MustZenith({"attach", url}).ok());
  EXPECT_EQ(attached.MustZenith({"branch"}).out, "main\nround0\nround1\nround2\nround3\nround4\n");
  ASSERT_TRUE(attached.MustZenith({"mount", "main", other.Sub("main")}).ok());
  Compute again(attached, "main", FreePort());
  again.Start();
  EXPECT_EQ(again.Query("select count(*) from t"), std::to_string(rows));
  EXPECT_EQ(again.Query("select count(distinct round) from t"), "5");
  RunResult amcheck = Amcheck(again);
  EXPECT_TRUE(amcheck.ok() && amcheck.out.empty()) << amcheck.Describe();
  ASSERT_TRUE(again.pg().Stop().ok());
}

}  // namespace
}  // namespace zenith::testing
