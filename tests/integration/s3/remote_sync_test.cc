// zenith remote sync returns once the bucket holds the WAL up to the end of
// WAL at the call, every local layer and the refs (read back from the
// bucket here), and fails with the reason when the uploader is behind;
// zenith remote status shows the uploader's state (a real Ceph RGW).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/file_util.h"
#include "common/lsn.h"
#include "pageserver/s3/s3_client.h"
#include "pageserver/s3/timeline_index.h"
#include "tests/harness/compute.h"
#include "tests/harness/prometheus_text.h"
#include "tests/harness/s3_test_client.h"
#include "tests/harness/s3_test_env.h"
#include "tests/harness/temp_dir.h"
#include "tests/harness/test_env.h"
#include "tests/harness/wait.h"
#include "tests/harness/zenith_env.h"

namespace zenith::testing {
namespace {


void InitWithRemote(ZenithEnv& env, const TempDir& dir, const S3TestEnv& s3env, const std::string& prefix,
                    double interval) {
  for (const auto& [k, v] : s3env.vars) env.SetEnv(k, v);
  env.SetEnv("HOME", dir.path());
  ASSERT_TRUE(env.MustZenith({"init", "--auth", "trust", "--remote", "s3://" + s3env.bucket + "/" + prefix}).ok());
  env.Zenith({"pageserver", "stop"});
  auto config = nlohmann::json::parse(ReadFileToString(env.repo() + "/config").value());
  config["remote"]["wal_upload_interval"] = interval;
  ASSERT_TRUE(WriteFileDurably(env.repo() + "/config", config.dump(2)).ok());
}

// The page server's metrics at `address` (test failures if unreadable).
Exposition Scrape(const std::string& address) {
  RunResult r = RunCommand({"curl", "-sS", "--max-time", "10", "http://" + address + "/metrics"});
  EXPECT_TRUE(r.ok()) << r.Describe();
  auto e = ParsePrometheusText(r.out);
  EXPECT_TRUE(e.ok()) << e.status().ToString();
  return e.ok() ? *e : Exposition{};
}

TEST(RemoteSync, ReturnsOnceTheBucketHoldsTheEndOfWalAndEveryLayer) {
  ZENITH_REQUIRE_S3(s3env);
  TempDir dir;
  ZenithEnv env(dir);
  const std::string prefix = S3TestEnv::UniquePrefix() + "/repo";
  InitWithRemote(env, dir, s3env, prefix, 0.5);
  ASSERT_TRUE(env.MustZenith({"mount", "main", dir.Sub("main")}).ok());
  Compute compute(env, "main", FreePort());
  compute.Start();
  compute.Query("create table t as select g, repeat('x', 200) as pad from generate_series(1, 5000) g");
  compute.Query("checkpoint");
  compute.Query("insert into t select g, 'late' from generate_series(1, 1000) g");
  const Lsn committed = Lsn::Parse(compute.Query("select pg_current_wal_lsn()")).value();

  RunResult sync = env.MustZenith({"remote", "sync", "--timeout", "60"});
  ASSERT_TRUE(sync.ok());

  s3::S3Client client = TestBucketClient(s3env);
  auto url = s3::ParseS3Url("s3://" + s3env.bucket + "/" + prefix).value();
  auto refs = s3::ReadNewestRefs(client, url, 1).value();
  ASSERT_TRUE(refs.has_value());
  const std::string tl = refs->refs.branches.at("main");
  auto index = s3::ReadNewestIndex(client, url, tl, 1).value();
  ASSERT_TRUE(index.has_value());
  EXPECT_GE(index->index.wal_uploaded, committed) << "sync returned before the WAL of the last commit was up";
  size_t local_layers = 0;
  for (const auto& name : ListDirectory(env.repo() + "/timelines/" + tl + "/layers").value()) {
    if (name.ends_with(".layer")) ++local_layers;
  }
  EXPECT_GE(local_layers, 2u);
  EXPECT_EQ(index->index.layers.size(), local_layers);

  RunResult status = env.MustZenith({"remote", "status"});
  EXPECT_NE(status.out.find("last error: none"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find(tl), std::string::npos) << status.out;
  ASSERT_TRUE(compute.pg().Stop().ok());
}

TEST(RemoteSync, FailsWithTheReasonWhenTheUploaderIsBehind) {
  ZENITH_REQUIRE_S3(s3env);
  TempDir dir;
  ZenithEnv env(dir);
  const std::string prefix = S3TestEnv::UniquePrefix() + "/repo";
  InitWithRemote(env, dir, s3env, prefix, 60);  // no pass during the test
  ASSERT_TRUE(env.MustZenith({"pageserver", "start"}).ok());
  RunResult sync = env.Zenith({"remote", "sync", "--timeout", "2"});
  EXPECT_FALSE(sync.ok());
  EXPECT_NE(sync.err.find("timed out after 2 s"), std::string::npos) << sync.Describe();
  RunResult status = env.MustZenith({"remote", "status"});
  EXPECT_NE(status.out.find("no upload pass yet"), std::string::npos) << status.out;
}

// What a second `zenith attach` does first (claiming generation 2) makes
// the first page server stop publishing: a branch made afterwards never
// reaches the bucket's refs, and `zenith pageserver status` says why.
TEST(RemoteSync, ASupersededPageServerPublishesNothingMoreAndSaysSo) {
  ZENITH_REQUIRE_S3(s3env);
  TempDir dir;
  ZenithEnv env(dir);
  const std::string prefix = S3TestEnv::UniquePrefix() + "/repo";
  InitWithRemote(env, dir, s3env, prefix, 0.3);
  ASSERT_TRUE(env.MustZenith({"pageserver", "start"}).ok());
  ASSERT_TRUE(env.MustZenith({"remote", "sync", "--timeout", "60"}).ok());
  s3::S3Client client = TestBucketClient(s3env);
  auto url = s3::ParseS3Url("s3://" + s3env.bucket + "/" + prefix).value();
  ASSERT_TRUE(client.PutIfAbsent(url.Key("generations/00000000000000000002"), "{}\n").ok());
  ASSERT_TRUE(env.MustZenith({"branch", "dev", "main"}).ok());

  RunResult sync = env.Zenith({"remote", "sync", "--timeout", "3"});
  EXPECT_FALSE(sync.ok()) << sync.out;
  EXPECT_NE(sync.err.find("superseded"), std::string::npos) << sync.Describe();
  auto refs = s3::ReadNewestRefs(client, url, 1).value();
  ASSERT_TRUE(refs.has_value());
  EXPECT_EQ(refs->refs.branches.count("dev"), 0u) << "a superseded page server published refs";
  RunResult status = env.MustZenith({"pageserver", "status"});
  EXPECT_NE(status.out.find("superseded"), std::string::npos) << status.out;
}

// The uploads, their bytes, the passes, the backlog and the owner check in
// the page server's metrics endpoint (README, "Metrics").
TEST(RemoteSync, TheUploadsAndTheOwnerShowInTheMetrics) {
  ZENITH_REQUIRE_S3(s3env);
  TempDir dir;
  ZenithEnv env(dir);
  const std::string prefix = S3TestEnv::UniquePrefix() + "/repo";
  InitWithRemote(env, dir, s3env, prefix, 0.3);
  const std::string address = "127.0.0.1:" + std::to_string(FreePort());
  ASSERT_TRUE(env.MustZenith({"pageserver", "start", "--metrics", address}).ok());
  ASSERT_TRUE(env.MustZenith({"mount", "main", dir.Sub("main")}).ok());
  Compute compute(env, "main", FreePort());
  compute.Start();
  compute.Query("create table t as select g from generate_series(1, 10000) g; checkpoint");
  ASSERT_TRUE(env.MustZenith({"remote", "sync", "--timeout", "60"}).ok());
  ASSERT_TRUE(compute.pg().Stop().ok());
  Exposition e = Scrape(address);
  for (const char* kind : {"layer", "wal", "index", "refs"}) {
    EXPECT_GT(e.Sum("zenith_remote_uploads_total", {{"kind", kind}, {"result", "ok"}}), 0) << kind;
    EXPECT_GT(e.Sum("zenith_remote_upload_bytes_total", {{"kind", kind}}), 0) << kind;
  }
  EXPECT_GT(e.Sum("zenith_remote_upload_bytes_total", {{"kind", "layer"}}), 10000 * 4) << "the table's layer";
  EXPECT_GT(e.Sum("zenith_remote_upload_passes_total", {{"result", "ok"}}), 0);
  EXPECT_GT(e.Sum("zenith_remote_upload_pass_duration_seconds_count"), 0);
  EXPECT_TRUE(e.Has("zenith_remote_backlog_bytes"));
  EXPECT_EQ(e.Sum("zenith_remote_superseded"), 0);
  // Every object storage series the dashboard queries is served.
  auto queried = DashboardSeries(SourceDir() + "/docs/grafana-dashboard.json");
  ASSERT_TRUE(queried.ok()) << queried.status().ToString();
  const std::set<std::string> served = ServedSeries(e);
  int remote = 0;
  for (const auto& q : *queried) {
    if (q.rfind("zenith_remote_", 0) != 0) continue;
    ++remote;
    EXPECT_TRUE(served.count(q)) << q << " is queried by the dashboard but not served";
  }
  EXPECT_GE(remote, 8) << "the dashboard's object storage panels";

  s3::S3Client client = TestBucketClient(s3env);
  auto url = s3::ParseS3Url("s3://" + s3env.bucket + "/" + prefix).value();
  ASSERT_TRUE(client.PutIfAbsent(url.Key("generations/00000000000000000002"), "{}\n").ok());
  ASSERT_TRUE(env.MustZenith({"branch", "dev", "main"}).ok());
  EXPECT_TRUE(WaitUntil([&] { return Scrape(address).Sum("zenith_remote_superseded") == 1; }, std::chrono::seconds(20)));
  EXPECT_GT(Scrape(address).Sum("zenith_remote_upload_passes_total", {{"result", "error"}}), 0);
}

// WAL goes up once: segments each filled in a few passes keep their pieces
// (uploading them again whole would double the bytes a busy database
// sends), while a segment that filled over more than 8 passes (a quiet
// one) goes up again as one object that replaces its pieces in the index.
TEST(RemoteSync, BusyWalGoesUpOnceAndAQuietSegmentBecomesOneObject) {
  ZENITH_REQUIRE_S3(s3env);
  TempDir dir;
  ZenithEnv env(dir);
  const std::string prefix = S3TestEnv::UniquePrefix() + "/repo";
  InitWithRemote(env, dir, s3env, prefix, 0.3);
  const std::string address = "127.0.0.1:" + std::to_string(FreePort());
  ASSERT_TRUE(env.MustZenith({"pageserver", "start", "--metrics", address}).ok());
  auto wal_bytes_uploaded = [&] { return Scrape(address).Sum("zenith_remote_upload_bytes_total", {{"kind", "wal"}}); };
  ASSERT_TRUE(env.MustZenith({"mount", "main", dir.Sub("main")}).ok());
  Compute compute(env, "main", FreePort());
  compute.Start();
  compute.Query("create table t (g int, pad text)");
  auto wal_lsn = [&] { return Lsn::Parse(compute.Query("select pg_current_wal_lsn()")).value(); };
  auto sync = [&] { return env.MustZenith({"remote", "sync", "--timeout", "60"}).ok(); };

  // Busy: 4 segments, each in at least two pieces (a sync every half segment).
  compute.Query("select pg_switch_wal()");
  ASSERT_TRUE(sync());
  const Lsn busy_start = wal_lsn();
  const double uploaded_before = wal_bytes_uploaded();
  for (int i = 0; i < 8; ++i) {
    compute.Query("insert into t select g, repeat('x', 1000) from generate_series(1, 7000) g");
    ASSERT_TRUE(sync());
  }
  compute.Query("select pg_switch_wal()");
  compute.Query("insert into t values (0, 'the next segment')");
  ASSERT_TRUE(sync());
  const double written = static_cast<double>(wal_lsn() - busy_start);
  const double uploaded = wal_bytes_uploaded() - uploaded_before;
  ASSERT_GT(written, 4.0 * kWalSegmentSize);
  EXPECT_LT(uploaded, 1.2 * written) << "the busy WAL went up more than once";

  // Quiet: one segment over 12 passes.
  const Lsn quiet_start = wal_lsn();
  for (int i = 0; i < 12; ++i) {
    compute.Query("insert into t values (" + std::to_string(i) + ", 'quiet')");
    ASSERT_TRUE(sync());
  }
  compute.Query("select pg_switch_wal()");
  compute.Query("insert into t values (0, 'after the quiet segment')");
  ASSERT_TRUE(sync());
  ASSERT_TRUE(compute.pg().Stop().ok());
  s3::S3Client client = TestBucketClient(s3env);
  auto url = s3::ParseS3Url("s3://" + s3env.bucket + "/" + prefix).value();
  const std::string timeline = ListDirectory(env.repo() + "/timelines").value().front();
  auto index = s3::ReadNewestIndex(client, url, timeline, 1).value();
  ASSERT_TRUE(index.has_value());
  std::vector<s3::IndexWalPiece> quiet, busy;
  for (const auto& p : index->index.wal) {
    if (p.segno == quiet_start.segment_number()) quiet.push_back(p);
    if (p.segno == busy_start.segment_number()) busy.push_back(p);
  }
  ASSERT_EQ(quiet.size(), 1u) << "the quiet segment's pieces were not replaced by one object";
  EXPECT_EQ(quiet.front().end, Lsn((quiet_start.segment_number() + 1) * kWalSegmentSize));
  EXPECT_GE(busy.size(), 2u) << "the busy segment went up again whole";
}

}  // namespace
}  // namespace zenith::testing
