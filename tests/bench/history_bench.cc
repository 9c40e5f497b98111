// history_bench: the figures of issue 7, in one run.
//
// A pgbench database (scale 10 by default) on a zenith mount, then rounds
// of a small UPDATE plus CHECKPOINT, each waiting until its snapshot is
// stored (a layer per checkpoint, as a busy day of checkpoint_timeout
// would give), with the page server compacting in the background as it
// always does. After --small rounds and again after --large rounds:
//   cold full scan      a fresh mount (the page server restarted, its layer
//                       files evicted from the page cache) and
//                       `select count(*), sum(abalance)` over a seq scan of
//                       pgbench_accounts; against the same query on a plain
//                       local copy of the database, evicted too;
//   GetPage p50/p99     every page of pgbench_accounts once, in random order,
//                       one request in flight, right after a restart with
//                       evicted layers (cold, the median of 3) and again
//                       (warm, the median of 5);
//   timeline load       a restarted page server's first request for main
//                       (it opens every layer), layer files evicted;
//   layers              layer files, and the layers a read visits at the
//                       newest snapshot (snapshot_list).
// Then a steady run: TPC-B at --steady-rate transactions per second for
// --steady-minutes with checkpoint_timeout 30s, a short window (--window)
// and GC every 20 s; the repository's size (layers and WAL) against the
// database's, sampled every minute.
//
// Usage (as an unprivileged user): build/bench/bench_history_bench
//   [--scale 10] [--small 10] [--large 1000] [--steady-minutes 6]
//   [--steady-rate 100] [--window 2m] [--dir /var/tmp] [--keep]
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "common/duration.h"
#include "common/relation_path.h"
#include "pageserver/client/page_client.h"
#include "tests/bench/bench_support.h"
#include "tests/harness/compute.h"
#include "tests/harness/temp_dir.h"
#include "tests/harness/zenith_env.h"

namespace zenith::bench {
namespace {

using testing::PgConnection;

constexpr int kPort = 5432;
constexpr int kLocalPort = 5433;
const char* kScan =
    "set enable_indexscan = off; set enable_bitmapscan = off; set enable_indexonlyscan = off; "
    "select count(*), sum(abalance) from pgbench_accounts";

struct Options {
  std::string base_dir = "/var/tmp";
  int scale = 10;
  int small = 10;
  int large = 1000;
  int steady_minutes = 6;
  int steady_rate = 100;  // TPC-B transactions per second (0: as fast as it goes)
  std::string window = "2m";
  bool keep = false;
};

struct Figures {
  int checkpoints = 0;
  double scan_s = 0;
  double getpage_cold_p50 = 0, getpage_cold_p99 = 0, getpage_warm_p50 = 0, getpage_warm_p99 = 0;
  double load_s = 0;
  size_t layer_files = 0, read_depth = 0;
  double repo_bytes = 0;
};

struct SteadySample {
  double minutes, repo_bytes, db_bytes;
};

class HistoryBench {
 public:
  explicit HistoryBench(Options opt) : opt_(std::move(opt)), env_(dir_) {}
  Status Run();

 private:
  Status Zenith(const std::vector<std::string>& args) const {
    testing::RunResult r = env_.Zenith(args);
    if (!r.ok()) return Internal("zenith " + args[0] + " failed: " + r.Describe());
    return Status::Ok();
  }
  Result<std::unique_ptr<PgConnection>> PageServer() const {
    return PgConnection::Open("host=" + env_.repo() + " port=64000 user=zenith dbname=zenith");
  }
  std::string Timelines() const { return env_.repo() + "/timelines"; }
  Result<std::string> PageServerValue(const std::string& command, size_t column) const;
  Status Setup();
  Status Rounds(int from, int to);
  Status WaitForSnapshot(PgConnection& pageserver, const std::string& redo) const;
  Status RestartPageServerCold() const;
  Result<Figures> Measure(int checkpoints);
  // Percentiles of one pass over every page of pgbench_accounts.
  Result<std::pair<double, double>> GetPagePass();
  Status MeasureGetPage(Figures* f);
  Result<double> LocalScan();
  Result<std::vector<SteadySample>> Steady();
  void Print(const Figures& a, const Figures& b, double local_scan, const std::vector<SteadySample>& steady) const;

  const Options opt_;
  testing::TempDir dir_{"zenith-history-bench"};
  testing::ZenithEnv env_;
  std::string accounts_path_;
  double window_wal_bytes_ = 0;
};

Result<std::string> HistoryBench::PageServerValue(const std::string& command, size_t column) const {
  ZENITH_ASSIGN_OR_RETURN(auto conn, PageServer());
  ZENITH_ASSIGN_OR_RETURN(auto rows, conn->Query(command));
  if (rows.empty() || rows[0].size() <= column) return Internal(command + ": unexpected reply");
  return rows[0][column];
}

Status HistoryBench::Setup() {
  ZENITH_RETURN_IF_ERROR(Zenith({"init"}));
  ZENITH_RETURN_IF_ERROR(Zenith({"mount", "main", dir_.Sub("main")}));
  testing::Compute c(env_, "main", kPort);
  ZENITH_RETURN_IF_ERROR(c.pg().Start({"shared_buffers=128MB"}));
  testing::RunResult r = testing::Pgbench(c, {"-i", "-q", "-s", std::to_string(opt_.scale)});
  if (!r.ok()) return Internal("pgbench -i: " + r.Describe());
  accounts_path_ = c.Query("select pg_relation_filepath('pgbench_accounts')");
  c.Query("create table rounds (i int primary key); checkpoint");
  ZENITH_RETURN_IF_ERROR(c.pg().Stop("fast"));
  ZENITH_RETURN_IF_ERROR(CopyOut(c.dir(), dir_.Sub("local")));
  ZENITH_RETURN_IF_ERROR(Zenith({"umount", c.dir()}));
  return RemoveTree(c.dir());
}

Status HistoryBench::WaitForSnapshot(PgConnection& pageserver, const std::string& redo) const {
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  while (Clock::now() < deadline) {
    ZENITH_ASSIGN_OR_RETURN(auto rows, pageserver.Query("snapshot_list main"));
    if (!rows.empty() && rows[0][1] == redo) return Status::Ok();
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return Timeout("the snapshot of the checkpoint at " + redo + " never arrived");
}

// Rounds from..to of an UPDATE and a CHECKPOINT, each snapshot stored.
Status HistoryBench::Rounds(int from, int to) {
  ZENITH_RETURN_IF_ERROR(Zenith({"mount", "main", dir_.Sub("main")}));
  testing::Compute c(env_, "main", kPort);
  ZENITH_RETURN_IF_ERROR(c.pg().Start({"shared_buffers=128MB"}));
  {
    ZENITH_ASSIGN_OR_RETURN(auto sql, PgConnection::Open(c.pg().ConnString()));
    ZENITH_ASSIGN_OR_RETURN(auto pageserver, PageServer());
    for (int i = from; i <= to; ++i) {
      const std::string n = std::to_string(i);
      ZENITH_RETURN_IF_ERROR(
          sql->Query("update pgbench_accounts set abalance = abalance + 1 where aid = " + n + "; insert into rounds values (" + n + ")")
              .status());
      ZENITH_RETURN_IF_ERROR(sql->Query("checkpoint").status());
      ZENITH_ASSIGN_OR_RETURN(auto redo, sql->Query("select redo_lsn from pg_control_checkpoint()"));
      ZENITH_RETURN_IF_ERROR(WaitForSnapshot(*pageserver, redo[0][0]));
    }
  }
  ZENITH_RETURN_IF_ERROR(c.pg().Stop("fast"));
  ZENITH_RETURN_IF_ERROR(Zenith({"umount", c.dir()}));
  return RemoveTree(c.dir());
}

// A fresh page server, nothing of the layers in the page cache.
Status HistoryBench::RestartPageServerCold() const {
  ZENITH_RETURN_IF_ERROR(Zenith({"pageserver", "stop"}));
  ZENITH_RETURN_IF_ERROR(Sync());
  ZENITH_RETURN_IF_ERROR(EvictTree(Timelines()));
  return Zenith({"pageserver", "start"});
}

Result<std::pair<double, double>> HistoryBench::GetPagePass() {
  auto seg = ParseRelationPath(accounts_path_);
  if (!seg) return Internal("not a relation path: " + accounts_path_);
  ZENITH_ASSIGN_OR_RETURN(std::string valid, PageServerValue("timeline_describe main", 5));
  const Lsn lsn = *Lsn::Parse(valid);
  const std::string conninfo = pageserver::PageServerConnString(env_.repo(), 64000);
  ZENITH_ASSIGN_OR_RETURN(auto stream, pageserver::PageStream::Open(conninfo, "main"));
  ZENITH_ASSIGN_OR_RETURN(uint32_t nblocks, stream->Nblocks(seg->tag, lsn));
  std::vector<uint32_t> blocks(nblocks);
  for (uint32_t i = 0; i < nblocks; ++i) blocks[i] = i;
  std::shuffle(blocks.begin(), blocks.end(), std::mt19937(7));
  std::vector<uint8_t> page(pageserver::kPageSize);
  std::vector<double> us;
  us.reserve(blocks.size());
  for (uint32_t b : blocks) {
    const auto t0 = Clock::now();
    ZENITH_RETURN_IF_ERROR(stream->GetPages(seg->tag, std::span(&b, 1), lsn, page));
    us.push_back(Since(t0) * 1e6);
  }
  return std::make_pair(Percentile(us, 0.5), Percentile(us, 0.99));
}

// Cold: three passes, each right after a restart with evicted layers;
// warm: five more passes. The medians of each percentile.
Status HistoryBench::MeasureGetPage(Figures* f) {
  std::vector<double> p50, p99;
  for (int i = 0; i < 3; ++i) {
    ZENITH_RETURN_IF_ERROR(RestartPageServerCold());
    ZENITH_ASSIGN_OR_RETURN(auto cold, GetPagePass());
    p50.push_back(cold.first);
    p99.push_back(cold.second);
  }
  f->getpage_cold_p50 = Median(p50);
  f->getpage_cold_p99 = Median(p99);
  p50.clear();
  p99.clear();
  for (int i = 0; i < 5; ++i) {
    ZENITH_ASSIGN_OR_RETURN(auto warm, GetPagePass());
    p50.push_back(warm.first);
    p99.push_back(warm.second);
  }
  f->getpage_warm_p50 = Median(p50);
  f->getpage_warm_p99 = Median(p99);
  return Status::Ok();
}

Result<Figures> HistoryBench::Measure(int checkpoints) {
  Figures f;
  f.checkpoints = checkpoints;
  ZENITH_RETURN_IF_ERROR(PageServerValue("compact", 0).status());  // what the background would do next
  ZENITH_ASSIGN_OR_RETURN(auto names, ListDirectory(Timelines() + "/" + ReadFileToString(env_.repo() + "/refs/branches/main").value().substr(0, 32) + "/layers"));
  f.layer_files = names.size();
  {
    ZENITH_ASSIGN_OR_RETURN(auto conn, PageServer());
    ZENITH_ASSIGN_OR_RETURN(auto rows, conn->Query("snapshot_list main"));
    f.read_depth = rows.size();
  }
  ZENITH_ASSIGN_OR_RETURN(uint64_t repo, DiskUsage(Timelines()));
  f.repo_bytes = static_cast<double>(repo);

  std::vector<double> loads;
  for (int i = 0; i < 3; ++i) {
    ZENITH_RETURN_IF_ERROR(RestartPageServerCold());
    const auto t0 = Clock::now();
    ZENITH_RETURN_IF_ERROR(PageServerValue("timeline_describe main", 0).status());
    loads.push_back(Since(t0));
  }
  f.load_s = Median(loads);

  ZENITH_RETURN_IF_ERROR(MeasureGetPage(&f));

  ZENITH_RETURN_IF_ERROR(RestartPageServerCold());
  ZENITH_RETURN_IF_ERROR(Zenith({"mount", "main", dir_.Sub("main")}));
  testing::Compute c(env_, "main", kPort);
  ZENITH_RETURN_IF_ERROR(c.pg().Start({"shared_buffers=128MB"}));
  const auto t0 = Clock::now();
  c.Query(kScan);
  f.scan_s = Since(t0);
  ZENITH_RETURN_IF_ERROR(c.pg().Stop("fast"));
  ZENITH_RETURN_IF_ERROR(Zenith({"umount", c.dir()}));
  ZENITH_RETURN_IF_ERROR(RemoveTree(c.dir()));
  std::printf("measured after %d checkpoints: %zu layer files, scan %.3f s\n", checkpoints, f.layer_files, f.scan_s);
  std::fflush(stdout);
  return f;
}

Result<double> HistoryBench::LocalScan() {
  ZENITH_RETURN_IF_ERROR(Sync());
  ZENITH_RETURN_IF_ERROR(EvictTree(dir_.Sub("local")));
  testing::PgCluster pg(dir_.Sub("local"), dir_.path(), kLocalPort, testing::CurrentUserName());
  ZENITH_RETURN_IF_ERROR(pg.Start({"shared_buffers=128MB"}));
  const auto t0 = Clock::now();
  pg.Query(kScan);
  const double s = Since(t0);
  ZENITH_RETURN_IF_ERROR(pg.Stop("fast"));
  return s;
}

// TPC-B with a short window and frequent GC; the repository's size.
Result<std::vector<SteadySample>> HistoryBench::Steady() {
  ZENITH_RETURN_IF_ERROR(Zenith({"pageserver", "stop"}));
  ZENITH_ASSIGN_OR_RETURN(std::string text, ReadFileToString(env_.repo() + "/config"));
  nlohmann::json config = nlohmann::json::parse(text);
  config["history"]["window"] = opt_.window;
  config["history"]["gc_period"] = "20s";
  ZENITH_RETURN_IF_ERROR(WriteFileDurably(env_.repo() + "/config", config.dump(2) + "\n"));
  ZENITH_RETURN_IF_ERROR(Zenith({"mount", "main", dir_.Sub("main")}));
  testing::Compute c(env_, "main", kPort);
  ZENITH_RETURN_IF_ERROR(c.pg().Start({"shared_buffers=128MB", "checkpoint_timeout=30s"}));
  std::vector<SteadySample> samples;
  const std::string lsn0 = c.Query("select pg_current_wal_lsn()");
  const auto t0 = Clock::now();
  for (int minute = 1; minute <= opt_.steady_minutes; ++minute) {
    std::vector<std::string> args = {"-n", "-c", "4", "-j", "2", "-T", "60"};
    if (opt_.steady_rate > 0) args.insert(args.end(), {"-R", std::to_string(opt_.steady_rate)});
    testing::RunResult r = testing::Pgbench(c, args);
    if (!r.ok()) return Internal("pgbench: " + r.Describe());
    ZENITH_ASSIGN_OR_RETURN(uint64_t repo, DiskUsage(Timelines()));
    const double db = std::stod(c.Query("select pg_database_size('postgres')"));
    samples.push_back({Since(t0) / 60, static_cast<double>(repo), db});
    std::printf("steady run, minute %d: repository %s, database %s\n", minute, Megabytes(repo).c_str(),
                Megabytes(db).c_str());
    std::fflush(stdout);
  }
  const double wal = std::stod(c.Query("select pg_current_wal_lsn() - '" + lsn0 + "'::pg_lsn"));
  window_wal_bytes_ = wal / Since(t0) * static_cast<double>(ParseDuration(opt_.window).value_or(60));
  ZENITH_RETURN_IF_ERROR(c.pg().Stop("fast"));
  ZENITH_RETURN_IF_ERROR(Zenith({"umount", c.dir()}));
  return samples;
}

void Row(const std::string& figure, const std::string& a, const std::string& b, double ratio, const std::string& goal,
         bool met) {
  std::printf("%-38s %14s %14s %7.2f  %-12s %s\n", figure.c_str(), a.c_str(), b.c_str(), ratio, goal.c_str(),
              met ? "yes" : "NO");
}

void HistoryBench::Print(const Figures& a, const Figures& b, double local_scan,
                         const std::vector<SteadySample>& steady) const {
  const std::string ca = "after " + std::to_string(a.checkpoints), cb = "after " + std::to_string(b.checkpoints);
  std::printf("\n%-38s %14s %14s %7s  %-12s %s\n", "figure", ca.c_str(), cb.c_str(), "ratio", "goal", "met");
  Row("cold full scan of pgbench_accounts", Fixed(a.scan_s, " s"), Fixed(b.scan_s, " s"), b.scan_s / a.scan_s,
      "<= 1.2", b.scan_s / a.scan_s <= 1.2);
  Row("GetPage p50, cold", Fixed(a.getpage_cold_p50, " us", 0), Fixed(b.getpage_cold_p50, " us", 0),
      b.getpage_cold_p50 / a.getpage_cold_p50, "<= 1.2", b.getpage_cold_p50 / a.getpage_cold_p50 <= 1.2);
  Row("GetPage p99, cold", Fixed(a.getpage_cold_p99, " us", 0), Fixed(b.getpage_cold_p99, " us", 0),
      b.getpage_cold_p99 / a.getpage_cold_p99, "<= 1.2", b.getpage_cold_p99 / a.getpage_cold_p99 <= 1.2);
  Row("GetPage p50, warm", Fixed(a.getpage_warm_p50, " us", 0), Fixed(b.getpage_warm_p50, " us", 0),
      b.getpage_warm_p50 / a.getpage_warm_p50, "<= 1.2", b.getpage_warm_p50 / a.getpage_warm_p50 <= 1.2);
  Row("GetPage p99, warm", Fixed(a.getpage_warm_p99, " us", 0), Fixed(b.getpage_warm_p99, " us", 0),
      b.getpage_warm_p99 / a.getpage_warm_p99, "<= 1.2", b.getpage_warm_p99 / a.getpage_warm_p99 <= 1.2);
  Row("timeline load (restart, first request)", Fixed(a.load_s * 1000, " ms", 1), Fixed(b.load_s * 1000, " ms", 1),
      b.load_s / a.load_s, "flat", b.load_s <= a.load_s * 1.5 + 0.01);
  Row("layer files", std::to_string(a.layer_files), std::to_string(b.layer_files),
      static_cast<double>(b.layer_files) / static_cast<double>(a.layer_files), "flat",
      b.layer_files <= a.layer_files + 8);
  Row("layers a read visits (newest snapshot)", std::to_string(a.read_depth), std::to_string(b.read_depth),
      static_cast<double>(b.read_depth) / static_cast<double>(a.read_depth), "bounded", b.read_depth <= 12);
  Row("repository (layers + WAL)", Megabytes(a.repo_bytes), Megabytes(b.repo_bytes), b.repo_bytes / a.repo_bytes,
      "", true);
  std::printf("cold full scan of a plain local copy, evicted: %.3f s (zenith / local: %.2f after %d, %.2f after %d)\n",
              local_scan, a.scan_s / local_scan, a.checkpoints, b.scan_s / local_scan, b.checkpoints);
  if (steady.empty()) return;
  std::printf("\nsteady TPC-B (%s) with a %s window, GC every 20 s, checkpoint_timeout 30s (WAL in the window: %s)\n",
              opt_.steady_rate > 0 ? (std::to_string(opt_.steady_rate) + " tps").c_str() : "unlimited",
              opt_.window.c_str(), Megabytes(window_wal_bytes_).c_str());
  std::printf("%-10s %14s %14s %10s  %s\n", "minute", "repository", "database", "ratio", "(repository / (2 x db + window WAL))");
  double worst = 0;
  for (const auto& s : steady) {
    const double bound = 2 * s.db_bytes + window_wal_bytes_;
    worst = std::max(worst, s.repo_bytes / bound);
    std::printf("%-10.1f %14s %14s %10.2f  %.2f\n", s.minutes, Megabytes(s.repo_bytes).c_str(),
                Megabytes(s.db_bytes).c_str(), s.repo_bytes / s.db_bytes, s.repo_bytes / bound);
  }
  const auto& last = steady.back();
  const auto& mid = steady[steady.size() / 2];
  Row("steady: repository / (2 x db + window WAL)", "", Fixed(worst, "", 2), worst, "<= 1", worst <= 1.0);
  Row("steady: size at the end / at the middle", Megabytes(mid.repo_bytes), Megabytes(last.repo_bytes),
      last.repo_bytes / mid.repo_bytes, "not growing", last.repo_bytes <= mid.repo_bytes * 1.25);
  std::printf("load average at the end: %s\n", LoadAverage().c_str());
}

Status HistoryBench::Run() {
  std::printf("history benchmark in %s (load average %s)\n", dir_.path().c_str(), LoadAverage().c_str());
  ZENITH_RETURN_IF_ERROR(Setup());
  ZENITH_RETURN_IF_ERROR(Rounds(1, opt_.small));
  ZENITH_ASSIGN_OR_RETURN(Figures small, Measure(opt_.small));
  const auto t0 = Clock::now();
  ZENITH_RETURN_IF_ERROR(Rounds(opt_.small + 1, opt_.large));
  std::printf("%d more checkpoints, each snapshot stored, in %.1f s\n", opt_.large - opt_.small, Since(t0));
  ZENITH_ASSIGN_OR_RETURN(Figures large, Measure(opt_.large));
  ZENITH_ASSIGN_OR_RETURN(double local_scan, LocalScan());
  std::vector<SteadySample> steady;
  if (opt_.steady_minutes > 0) {
    ZENITH_ASSIGN_OR_RETURN(steady, Steady());
  }
  Print(small, large, local_scan, steady);
  return Status::Ok();
}

}  // namespace
}  // namespace zenith::bench

int main(int argc, char** argv) {
  using namespace zenith::bench;
  CLI::App app{"zenith history benchmark: reads, load time and size as history grows"};
  Options opt;
  app.add_option("--dir", opt.base_dir, "where the run's directory is made (not /tmp: slow file creation)");
  app.add_option("--scale", opt.scale, "pgbench scale");
  app.add_option("--small", opt.small, "checkpoints of the first measurement");
  app.add_option("--large", opt.large, "checkpoints of the second measurement");
  app.add_option("--steady-minutes", opt.steady_minutes, "minutes of the steady TPC-B run (0: skip)");
  app.add_option("--steady-rate", opt.steady_rate, "TPC-B transactions per second of the steady run (0: unlimited)");
  app.add_option("--window", opt.window, "history window during the steady run");
  app.add_flag("--keep", opt.keep, "keep the run's directory");
  CLI11_PARSE(app, argc, argv);
  if (opt.small < 1 || opt.large <= opt.small || !zenith::ParseDuration(opt.window)) {
    std::fprintf(stderr, "need 1 <= --small < --large and a --window like 1m\n");
    return 2;
  }
  return RunBenchmark("history_bench", opt.base_dir, opt.keep, [&] { return HistoryBench(opt).Run(); });
}
