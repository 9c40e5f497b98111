// The page server's metrics endpoint (README, "Metrics") scraped with curl as
// Prometheus would, while a real PostgreSQL reads its pages through
// GetPage@LSN: the output parses as the exposition format, the counters
// move with the work done, compaction and GC runs are counted, every metric
// the Grafana dashboard (docs/grafana-dashboard.json) queries exists, and
// anything but GET /metrics is refused.
#include <gtest/gtest.h>

#include <set>

#include "common/file_util.h"
#include "tests/harness/compute.h"
#include "tests/harness/prometheus_text.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/temp_dir.h"
#include "tests/harness/test_env.h"
#include "tests/harness/wait.h"
#include "tests/harness/zenith_env.h"

namespace zenith::testing {
namespace {

class MetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(env_.MustZenith({"init"}).ok());
    // Reads go through the page server's GetPage, as a remote mount's do.
    env_.SetEnv("ZENITH_FS_LOCAL_LAYERS", "0");
    address_ = "127.0.0.1:" + std::to_string(FreePort());
    RunResult start = env_.MustZenith({"pageserver", "start", "--metrics", address_});
    EXPECT_NE(start.out.find("metrics at http://" + address_ + "/metrics"), std::string::npos) << start.out;
  }

  RunResult Curl(const std::vector<std::string>& extra, const std::string& path) const {
    std::vector<std::string> args = {"curl", "-sS", "--max-time", "10", "-o", "-", "-w", "\n%{http_code}"};
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back("http://" + address_ + path);
    return RunCommand(args);
  }
  // The HTTP status of a request (curl's last line).
  static std::string Code(const RunResult& r) { return r.out.substr(r.out.rfind('\n') + 1); }

  Exposition Scrape() const {
    RunResult r = Curl({}, "/metrics");
    EXPECT_EQ(Code(r), "200") << r.Describe();
    auto e = ParsePrometheusText(r.out.substr(0, r.out.rfind('\n')));
    EXPECT_TRUE(e.ok()) << e.status().ToString();
    return e.ok() ? *e : Exposition{};
  }

  TempDir dir_{"metrics"};
  ZenithEnv env_{dir_};
  std::string address_;
};

TEST_F(MetricsTest, CountersMoveUnderLoadAndTheOutputParses) {
  Exposition before = Scrape();
  EXPECT_TRUE(before.Has("zenith_timeline_layers"));
  EXPECT_GT(before.Sum("zenith_timeline_layers", {{"branch", "main"}}), 0);
  EXPECT_GT(before.Sum("zenith_timeline_layer_bytes", {{"branch", "main"}}), 0);
  EXPECT_GT(before.Sum("zenith_timeline_end_of_wal_lsn", {{"branch", "main"}}), 0);
  const double pages_before = before.Sum("zenith_pages_served_total");

  env_.MustZenith({"mount", "main", dir_.Sub("main")});
  Compute pg(env_, "main", FreePort());
  pg.Start();
  EXPECT_EQ(pg.Query("create table t as select g, repeat('x', 200) as pad from generate_series(1, 20000) g;"
                     "select count(*) from t"),
            "20000");
  Exposition during = Scrape();
  EXPECT_GT(during.Sum("zenith_pages_served_total"), pages_before + 10) << "PostgreSQL read pages through GetPage";
  EXPECT_GT(during.Sum("zenith_page_requests_total", {{"kind", "getpage"}, {"result", "ok"}}), 10);
  EXPECT_GE(during.Sum("zenith_page_bytes_served_total"), during.Sum("zenith_pages_served_total") * 8192);
  EXPECT_EQ(during.Sum("zenith_page_request_duration_seconds_count", {{"kind", "getpage"}}),
            during.Sum("zenith_page_requests_total", {{"kind", "getpage"}}));
  EXPECT_GT(during.Sum("zenith_connections_total", {{"kind", "unix"}}), 0) << "the mount's connections";
  EXPECT_GT(during.Sum("zenith_connections_open", {{"kind", "unix"}}), 0) << "the mount holds its lease";

  const double gc_before = during.Sum("zenith_history_runs_total", {{"kind", "gc"}});
  env_.MustZenith({"gc"});
  Exposition after = Scrape();
  EXPECT_GT(after.Sum("zenith_history_runs_total", {{"kind", "gc"}, {"result", "ok"}}), gc_before);
  EXPECT_GT(after.Sum("zenith_history_run_duration_seconds_count", {{"kind", "gc"}}), 0);
}

// A mount reports its own figures with its keepalive (once a second); the
// page server serves them labelled with the mount's branch and directory.
TEST_F(MetricsTest, EachMountsOwnFiguresReachThePageServersEndpoint) {
  const std::string dir = dir_.Sub("main");
  env_.MustZenith({"mount", "main", dir});
  Compute pg(env_, "main", FreePort());
  pg.Start();
  EXPECT_EQ(pg.Query("create table t as select g, repeat('x', 200) as pad from generate_series(1, 20000) g;"
                     "checkpoint; select count(*) from t"),
            "20000");
  const std::map<std::string, std::string> mount = {{"branch", "main"}, {"mountpoint", dir}, {"mode", "read-write"}};
  auto with = [&](const char* name, const char* value) {
    auto labels = mount;
    labels[name] = value;
    return labels;
  };
  auto scraped = [&](const std::string& name, const std::map<std::string, std::string>& labels, double above) {
    return WaitUntil([&] { return Scrape().Sum(name, labels) > above; }, std::chrono::seconds(30));
  };
  EXPECT_TRUE(scraped("zenith_mount_snapshot_uploads_total", with("result", "ok"), 0)) << "the checkpoint's snapshot";
  EXPECT_TRUE(scraped("zenith_mount_snapshot_upload_seconds_total", mount, 0));
  EXPECT_TRUE(scraped("zenith_mount_pages_read_total", with("source", "fetched"), 10)) << "reads went to GetPage";
  Exposition e = Scrape();
  EXPECT_EQ(e.Sum("zenith_mounts", {{"mode", "read-write"}}), 1);
  EXPECT_EQ(e.Sum("zenith_mount_pages_read_total", with("source", "layers")), 0) << "local layers are off here";

  // What the mount wrote is read back from its scratch. The kernel keeps
  // its page cache across opens (keep_cache), so the read bypasses it.
  const std::string file = dir + "/" + pg.Query("select pg_relation_filepath('t')");
  const double scratch = e.Sum("zenith_mount_pages_read_total", with("source", "scratch"));
  ASSERT_TRUE(RunShell("dd if=" + file + " of=/dev/null bs=8192 iflag=direct status=none").ok());
  EXPECT_TRUE(scraped("zenith_mount_pages_read_total", with("source", "scratch"), scratch + 100));
  ASSERT_TRUE(pg.pg().Stop().ok());
  env_.MustZenith({"umount", dir});
  EXPECT_TRUE(WaitUntil([&] { return Scrape().Sum("zenith_mounts", {{"mode", "read-write"}}) == 0; },
                        std::chrono::seconds(10)));
  EXPECT_EQ(Scrape().Sum("zenith_mount_pages_read_total", mount), 0) << "an ended mount's figures go with it";

  // A read-only mount reading the snapshot's layer files itself.
  env_.SetEnv("ZENITH_FS_LOCAL_LAYERS", "1");
  const std::string ro = dir_.Sub("ro");
  env_.MustZenith({"mount", "--read-only", "main", ro});
  ASSERT_TRUE(RunShell("cat " + ro + "/base/*/* > /dev/null").ok());
  const std::map<std::string, std::string> layers = {
      {"branch", "main"}, {"mountpoint", ro}, {"mode", "read-only"}, {"source", "layers"}};
  EXPECT_TRUE(scraped("zenith_mount_pages_read_total", layers, 0));
  env_.MustZenith({"umount", ro});
}

TEST_F(MetricsTest, EveryMetricTheDashboardQueriesIsServed) {
  auto queried = DashboardSeries(SourceDir() + "/docs/grafana-dashboard.json");
  ASSERT_TRUE(queried.ok()) << queried.status().ToString();
  // Object storage's series exist only with a remote:
  // tests/integration/s3/remote_sync_test.cc checks them.
  std::erase_if(*queried, [](const std::string& q) { return q.rfind("zenith_remote_", 0) == 0; });
  ASSERT_GE(queried->size(), 6u) << "the dashboard queries zenith's metrics";
  // Histograms and counters appear once used: make some.
  env_.MustZenith({"gc"});
  env_.MustZenith({"mount", "main", dir_.Sub("main")});
  Compute pg(env_, "main", FreePort());
  pg.Start();
  EXPECT_EQ(pg.Query("select count(*) from pg_class where relname = 'pg_class'"), "1");
  const std::set<std::string> served = ServedSeries(Scrape());
  for (const auto& q : *queried) EXPECT_TRUE(served.count(q)) << q << " is queried by the dashboard but not served";
}

TEST_F(MetricsTest, OnlyGetMetricsIsServed) {
  EXPECT_EQ(Code(Curl({}, "/")), "404");
  EXPECT_EQ(Code(Curl({}, "/metrics/../secret")), "404");
  EXPECT_EQ(Code(Curl({"-X", "POST", "--data", "x"}, "/metrics")), "405");
  EXPECT_EQ(Code(Curl({"-X", "DELETE"}, "/metrics")), "405");
  EXPECT_EQ(Code(Curl({}, "/metrics")), "200");
}

TEST_F(MetricsTest, AnAddressInUseIsAClearError) {
  env_.MustZenith({"pageserver", "stop"});
  TempDir other_dir("metrics-other");
  ZenithEnv other(other_dir);
  ASSERT_TRUE(other.MustZenith({"init"}).ok());
  // The first repository's page server holds the port.
  env_.MustZenith({"pageserver", "start"});
  RunResult r = other.Zenith({"pageserver", "start", "--metrics", address_});
  EXPECT_NE(r.exit_code, 0) << r.Describe();
  EXPECT_NE((r.out + r.err).find("cannot listen for metrics on " + address_), std::string::npos) << r.Describe();
}

}  // namespace
}  // namespace zenith::testing
