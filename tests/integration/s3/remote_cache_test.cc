// The local disk as a cache of the bucket, against a real Ceph RGW
// (docs/design.md §12): with a small "cache_size", the page server sends
// the least recently read layers back to the bucket once a published index
// names them; the layer files left on disk stay within the bound; reads
// that fetch the evicted layers again give identical scans, through a
// restart of PostgreSQL and of the page server, and pg_amcheck is clean.
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/file_util.h"
#include "pageserver/s3/s3_client.h"
#include "pageserver/s3/timeline_index.h"
#include "tests/harness/compute.h"
#include "tests/harness/prometheus_text.h"
#include "tests/harness/remote_repo.h"
#include "tests/harness/s3_test_client.h"
#include "tests/harness/s3_test_env.h"
#include "tests/harness/temp_dir.h"
#include "tests/harness/wait.h"
#include "tests/harness/zenith_env.h"

namespace zenith::testing {
namespace {

constexpr uint64_t kCacheSize = 4 << 20;

// A table of about 12 MB, and what it holds.
std::string FillTable(Compute& compute, const std::string& name) {
  compute.Query("create table " + name + " as select g as id, md5(g::text) || repeat('x', 40) as v "
                "from generate_series(1, 120000) g");
  return compute.Query("select md5(string_agg(id::text || v, ',' order by id)) from " + name);
}

std::string Checksum(Compute& compute, const std::string& name) {
  return compute.Query("select md5(string_agg(id::text || v, ',' order by id)) from " + name);
}

TEST(RemoteCache, EvictedLayersReadBackIdenticallyAndTheDiskStaysWithinTheBound) {
  ZENITH_REQUIRE_S3(s3env);
  TempDir dir;
  ZenithEnv env(dir);
  InitWithRemote(env, dir, s3env, "s3://" + s3env.bucket + "/" + S3TestEnv::UniquePrefix() + "/repo",
                 {{"wal_upload_interval", 0.5}, {"cache_size", kCacheSize}});
  ASSERT_TRUE(env.MustZenith({"mount", "main", dir.Sub("main")}).ok());
  auto compute = std::make_unique<Compute>(env, "main", FreePort());
  compute->Start();
  const std::string a = FillTable(*compute, "a");
  compute->Query("checkpoint");
  const std::string b = FillTable(*compute, "b");
  compute->Query("checkpoint");
  ASSERT_TRUE(env.MustZenith({"remote", "sync", "--timeout", "120"}).ok());

  // The pass after the one that published the last layer evicts.
  LocalLayers local;
  EXPECT_TRUE(WaitUntil(
      [&] {
        local = CountLocalLayers(env.repo());
        return local.stubs > 0 && local.file_bytes <= kCacheSize;
      },
      std::chrono::seconds(30)))
      << local.files << " layer files of " << local.file_bytes << " bytes, " << local.stubs << " stubs";
  RunResult status = env.MustZenith({"remote", "status"});
  EXPECT_NE(status.out.find("cache_size 4.0 MB"), std::string::npos) << status.out;
  EXPECT_EQ(status.out.find(" 0 evicted"), std::string::npos) << status.out;

  // A cold PostgreSQL reads every page of both tables again.
  ASSERT_TRUE(compute->pg().Stop().ok());
  compute->Start();
  EXPECT_EQ(Checksum(*compute, "a"), a);
  EXPECT_EQ(Checksum(*compute, "b"), b);
  RunResult amcheck = Amcheck(*compute);
  EXPECT_TRUE(amcheck.ok() && amcheck.out.empty()) << amcheck.Describe();

  // A new page server opens the stubs it finds.
  ASSERT_TRUE(compute->pg().Stop().ok());
  compute.reset();
  ASSERT_TRUE(env.MustZenith({"umount", dir.Sub("main")}).ok());
  ASSERT_TRUE(env.MustZenith({"pageserver", "stop"}).ok());
  ASSERT_TRUE(env.MustZenith({"mount", "main", dir.Sub("main")}).ok());
  Compute again(env, "main", FreePort());
  again.Start();
  EXPECT_EQ(Checksum(again, "a"), a);
  EXPECT_EQ(Checksum(again, "b"), b);
  // The scans set hint bits: the checkpoint stores a new layer of about
  // the tables' size, which goes up and then out as well.
  again.Query("checkpoint");
  ASSERT_TRUE(env.MustZenith({"remote", "sync", "--timeout", "120"}).ok());
  EXPECT_TRUE(WaitUntil(
      [&] {
        local = CountLocalLayers(env.repo());
        return local.file_bytes <= kCacheSize;
      },
      std::chrono::seconds(30)))
      << local.files << " layer files of " << local.file_bytes << " bytes, " << local.stubs << " stubs";
  EXPECT_EQ(Checksum(again, "a"), a);
  ASSERT_TRUE(again.pg().Stop().ok());
}

// The layer files and stubs of the repository's layers/ directories: a
// stub is a small JSON object, a layer file starts with the layer magic.
std::map<std::string, bool> LayerIsStub(const std::string& repo) {
  std::map<std::string, bool> out;
  for (const auto& tl : ListDirectory(repo + "/timelines").value_or({})) {
    const std::string dir = repo + "/timelines/" + tl + "/layers";
    for (const auto& name : ListDirectory(dir).value_or({})) {
      if (!name.ends_with(".layer")) continue;
      auto text = ReadFileToString(dir + "/" + name);
      out[tl + "/" + name] = text.ok() && !text->empty() && text->front() == '{';
    }
  }
  return out;
}

// Remote layers read often come back whole: layers evicted under a small
// cache_size, then the bound lifted and the table scanned, which reads its
// layer from the bucket; the page server brings that layer back to the
// disk in the stub's place, byte for byte the bucket's object, and reads
// go on from it.
TEST(RemoteCache, ALayerReadOftenComesBackWholeWhenTheCacheHasRoom) {
  ZENITH_REQUIRE_S3(s3env);
  TempDir dir;
  ZenithEnv env(dir);
  const std::string url = "s3://" + s3env.bucket + "/" + S3TestEnv::UniquePrefix() + "/repo";
  InitWithRemote(env, dir, s3env, url, {{"wal_upload_interval", 0.5}, {"cache_size", kCacheSize}});
  ASSERT_TRUE(env.MustZenith({"mount", "main", dir.Sub("main")}).ok());
  auto compute = std::make_unique<Compute>(env, "main", FreePort());
  compute->Start();
  const std::string a = FillTable(*compute, "a");
  compute->Query("checkpoint");
  ASSERT_TRUE(env.MustZenith({"remote", "sync", "--timeout", "120"}).ok());
  LocalLayers local;
  ASSERT_TRUE(WaitUntil(
      [&] {
        local = CountLocalLayers(env.repo());
        return local.stubs > 0 && local.file_bytes <= kCacheSize;
      },
      std::chrono::seconds(30)));
  ASSERT_TRUE(compute->pg().Stop().ok());
  compute.reset();
  ASSERT_TRUE(env.MustZenith({"umount", dir.Sub("main")}).ok());
  ASSERT_TRUE(env.MustZenith({"pageserver", "stop"}).ok());
  const std::map<std::string, bool> before = LayerIsStub(env.repo());
  env.EditConfig([](nlohmann::json& c) { c["remote"]["cache_size"] = 0; });
  const std::string metrics = "127.0.0.1:" + std::to_string(FreePort());
  ASSERT_TRUE(env.MustZenith({"pageserver", "start", "--metrics", metrics}).ok());

  ASSERT_TRUE(env.MustZenith({"mount", "main", dir.Sub("main")}).ok());
  Compute again(env, "main", FreePort());
  again.Start();
  EXPECT_EQ(Checksum(again, "a"), a);
  std::vector<std::string> back;
  EXPECT_TRUE(WaitUntil(
      [&] {
        back.clear();
        for (const auto& [layer, stub] : LayerIsStub(env.repo())) {
          if (!stub && before.count(layer) && before.at(layer)) back.push_back(layer);
        }
        return !back.empty();
      },
      std::chrono::seconds(30)))
      << "no layer read from the bucket came back";
  s3::S3Client client = TestBucketClient(s3env);
  const auto parsed = s3::ParseS3Url(url).value();
  uint64_t back_bytes = 0;
  for (const std::string& layer : back) {
    const std::string timeline = layer.substr(0, layer.find('/')), name = layer.substr(layer.find('/') + 1);
    auto object = client.Get(s3::LayerKey(parsed, timeline, name, 1));
    ASSERT_TRUE(object.ok()) << object.status().ToString();
    auto file = ReadFileToString(env.repo() + "/timelines/" + timeline + "/layers/" + name);
    ASSERT_TRUE(file.ok()) << file.status().ToString();
    EXPECT_TRUE(*object == *file) << layer << " differs from the bucket's object";
    back_bytes += file->size();
  }
  RunResult scraped = RunCommand({"curl", "-sS", "--max-time", "10", "http://" + metrics + "/metrics"});
  ASSERT_TRUE(scraped.ok()) << scraped.Describe();
  auto e = ParsePrometheusText(scraped.out);
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->Sum("zenith_remote_cache_hydrations_total", {{"result", "ok"}}), static_cast<double>(back.size()));
  EXPECT_EQ(e->Sum("zenith_remote_cache_hydrated_bytes_total"), static_cast<double>(back_bytes));
  // The status file is rewritten after each upload pass.
  RunResult status;
  EXPECT_TRUE(WaitUntil(
      [&] {
        status = env.MustZenith({"remote", "status"});
        return status.out.find(" brought back") != std::string::npos &&
               status.out.find(" 0 brought back") == std::string::npos;
      },
      std::chrono::seconds(10)))
      << status.out;
  // A cold PostgreSQL reads the table again, now from the local file.
  ASSERT_TRUE(again.pg().Stop().ok());
  again.Start();
  EXPECT_EQ(Checksum(again, "a"), a);
  RunResult amcheck = Amcheck(again);
  EXPECT_TRUE(amcheck.ok() && amcheck.out.empty()) << amcheck.Describe();
  ASSERT_TRUE(again.pg().Stop().ok());
}

}  // namespace
}  // namespace zenith::testing
