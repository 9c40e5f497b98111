// stall_bench: how long PostgreSQL on a mount waits for a large snapshot.
//
// When PostgreSQL checkpoints, the mount uploads a snapshot of every block
// written since the last one. While it takes the dirty sets and lists the
// relation sizes, creating, truncating and removing relation files wait
// (fs/datadir_fs.h). This benchmark dirties --pages pages (80,000 by
// default, 625 MB) of one table, runs CHECKPOINT, and meanwhile runs
// `CREATE TABLE` and `TRUNCATE` in a loop on another connection, from the
// checkpoint's start until the snapshot is stored; it prints the longest and
// the 99th percentile of those statements, and the same on a plain local
// copy of the database in the same run.
//
// Usage (as an unprivileged user): build/bench/bench_stall_bench
//   [--pages 80000] [--dir /var/tmp] [--keep]
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <thread>

#include "tests/bench/bench_support.h"
#include "tests/harness/compute.h"
#include "tests/harness/temp_dir.h"
#include "tests/harness/zenith_env.h"

namespace zenith::bench {
namespace {

using testing::PgConnection;

struct Options {
  std::string base_dir = "/var/tmp";
  int pages = 80000;
  bool keep = false;
};

const std::vector<std::string> kSettings = {"shared_buffers=1GB", "checkpoint_timeout=1h", "max_wal_size=20GB"};

struct Stalls {
  double longest_ms = 0, p99_ms = 0, p50_ms = 0;
  double longest_in_checkpoint_ms = 0, longest_after_ms = 0;  // while PostgreSQL writes; after, until stored
  size_t statements = 0;
  double checkpoint_s = 0, until_stored_s = 0;
};

class StallBench {
 public:
  explicit StallBench(Options opt) : opt_(std::move(opt)), env_(dir_) {}
  Status Run();

 private:
  Status Zenith(const std::vector<std::string>& args) const {
    testing::RunResult r = env_.Zenith(args);
    if (!r.ok()) return Internal("zenith " + args[0] + " failed: " + r.Describe());
    return Status::Ok();
  }
  Status Load(testing::PgCluster& pg);
  // Dirties the table, then measures CREATE TABLE and TRUNCATE while a
  // checkpoint runs and until `stored()` says its snapshot is in.
  Result<Stalls> Measure(testing::PgCluster& pg, const std::function<bool(const std::string& redo)>& stored);
  Result<std::string> SnapshotRedo() const;

  const Options opt_;
  testing::TempDir dir_{"zenith-stall-bench"};
  testing::ZenithEnv env_;
};

Status StallBench::Load(testing::PgCluster& pg) {
  // About 36 rows of 200 bytes a page.
  const std::string rows = std::to_string(static_cast<int64_t>(opt_.pages) * 36);
  testing::RunResult r = pg.Psql("create table big (v int, s text) with (fillfactor = 100); "
                                 "insert into big select g, repeat('x', 200) from generate_series(1, " + rows + ") g; "
                                 "checkpoint");
  if (!r.ok()) return Internal("load: " + r.Describe());
  return Status::Ok();
}

Result<std::string> StallBench::SnapshotRedo() const {
  ZENITH_ASSIGN_OR_RETURN(auto conn, PgConnection::Open("host=" + env_.repo() + " port=64000 user=zenith dbname=zenith"));
  ZENITH_ASSIGN_OR_RETURN(auto rows, conn->Query("snapshot_list main"));
  return rows.empty() ? std::string() : rows[0][1];
}

Result<Stalls> StallBench::Measure(testing::PgCluster& pg,
                                   const std::function<bool(const std::string& redo)>& stored) {
  testing::RunResult r = pg.Psql("update big set v = v + 1");  // every page dirty, in shared_buffers
  if (!r.ok()) return Internal("update: " + r.Describe());
  ZENITH_ASSIGN_OR_RETURN(auto ddl, PgConnection::Open(pg.ConnString()));
  ZENITH_ASSIGN_OR_RETURN(auto control, PgConnection::Open(pg.ConnString()));
  std::atomic<bool> done{false};
  std::vector<double> ms;
  std::vector<Clock::time_point> started;
  Status ddl_status;
  std::thread loop([&] {
    for (int i = 0; !done; ++i) {
      const std::string t = "t" + std::to_string(i % 16);
      for (const std::string& sql : {"create table if not exists " + t + " (x int)", "truncate " + t}) {
        const auto t0 = Clock::now();
        auto q = ddl->Query(sql);
        ms.push_back(Since(t0) * 1000);
        started.push_back(t0);
        if (!q.ok()) {
          ddl_status = q.status();
          return;
        }
      }
    }
  });
  Stalls s;
  const auto t0 = Clock::now();
  Status checkpoint = control->Query("checkpoint").status();
  s.checkpoint_s = Since(t0);
  const auto checkpoint_end = Clock::now();
  std::string redo;
  if (checkpoint.ok()) {
    auto rows = control->Query("select redo_lsn from pg_control_checkpoint()");
    if (rows.ok()) redo = (*rows)[0][0];
    while (!stored(redo) && Since(t0) < 600) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  s.until_stored_s = Since(t0);
  done = true;
  loop.join();
  ZENITH_RETURN_IF_ERROR(checkpoint);
  ZENITH_RETURN_IF_ERROR(ddl_status);
  s.statements = ms.size();
  s.longest_ms = ms.empty() ? 0 : *std::max_element(ms.begin(), ms.end());
  s.p99_ms = Percentile(ms, 0.99);
  s.p50_ms = Percentile(ms, 0.5);
  for (size_t i = 0; i < ms.size(); ++i) {
    double& slot = started[i] < checkpoint_end ? s.longest_in_checkpoint_ms : s.longest_after_ms;
    slot = std::max(slot, ms[i]);
  }
  return s;
}

void Print(const char* what, const Stalls& s) {
  std::printf("%-8s %10.1f %12.1f %12.1f %8.1f %8.1f %11zu %14.1f %16.1f\n", what, s.longest_ms,
              s.longest_in_checkpoint_ms, s.longest_after_ms, s.p99_ms, s.p50_ms, s.statements, s.checkpoint_s,
              s.until_stored_s);
}

Status StallBench::Run() {
  std::printf("stall benchmark in %s (load average %s)\n", dir_.path().c_str(), LoadAverage().c_str());
  ZENITH_RETURN_IF_ERROR(Zenith({"init"}));
  const std::string mnt = dir_.Sub("main");
  ZENITH_RETURN_IF_ERROR(Zenith({"mount", "main", mnt}));
  Stalls zenith, local;
  {
    testing::PgCluster pg(mnt, dir_.path(), 5432, testing::CurrentUserName());
    ZENITH_RETURN_IF_ERROR(pg.Start(kSettings));
    ZENITH_RETURN_IF_ERROR(Load(pg));
    // The load's own snapshot is stored before anything is measured.
    const std::string redo = pg.Query("select redo_lsn from pg_control_checkpoint()");
    for (int i = 0; i < 6000; ++i) {
      auto newest = SnapshotRedo();
      if (newest.ok() && *newest == redo) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    std::printf("loaded %d pages\n", opt_.pages);
    std::fflush(stdout);
    ZENITH_ASSIGN_OR_RETURN(zenith, Measure(pg, [&](const std::string& redo) {
      auto newest = SnapshotRedo();
      return newest.ok() && *newest == redo;
    }));
    ZENITH_RETURN_IF_ERROR(pg.Stop("fast"));
  }
  ZENITH_RETURN_IF_ERROR(CopyOut(mnt, dir_.Sub("local")));
  ZENITH_RETURN_IF_ERROR(Zenith({"umount", mnt}));
  {
    testing::PgCluster pg(dir_.Sub("local"), dir_.path(), 5433, testing::CurrentUserName());
    ZENITH_RETURN_IF_ERROR(pg.Start(kSettings));
    ZENITH_ASSIGN_OR_RETURN(local, Measure(pg, [](const std::string&) { return true; }));
    ZENITH_RETURN_IF_ERROR(pg.Stop("fast"));
  }
  auto log = ReadFileToString(env_.repo() + "/datadirs/" +
                              ReadFileToString(env_.repo() + "/refs/branches/main").value().substr(0, 32) +
                              "/zenith-fs.log");
  std::printf("\nCREATE TABLE and TRUNCATE during a checkpoint of %d dirty pages (until its snapshot is stored):\n",
              opt_.pages);
  std::printf("%-8s %10s %12s %12s %8s %8s %11s %14s %16s\n", "", "longest ms", "in checkpt", "after", "p99 ms",
              "p50 ms", "statements", "checkpoint s", "until stored s");
  Print("zenith", zenith);
  Print("local", local);
  std::printf("goal: the longest wait on zenith under 50 ms: %s\n", zenith.longest_ms < 50 ? "yes" : "NO");
  if (log.ok()) {
    // The biggest upload is the checkpoint measured: show its line.
    size_t best = std::string::npos, best_pages = 0;
    for (size_t p = log->find("uploaded snapshot"); p != std::string::npos; p = log->find("uploaded snapshot", p + 1)) {
      size_t open = log->find('(', p);
      size_t pages = open == std::string::npos ? 0 : std::strtoull(log->c_str() + open + 1, nullptr, 10);
      if (pages >= best_pages) best = p, best_pages = pages;
    }
    if (best != std::string::npos) std::printf("zenith-fs: %s\n", log->substr(best, log->find('\n', best) - best).c_str());
  }
  std::printf("load average at the end: %s\n", LoadAverage().c_str());
  return Status::Ok();
}

}  // namespace
}  // namespace zenith::bench

int main(int argc, char** argv) {
  using namespace zenith::bench;
  CLI::App app{"zenith stall benchmark: waits of DDL during a large snapshot"};
  Options opt;
  app.add_option("--dir", opt.base_dir, "where the run's directory is made (not /tmp: slow file creation)");
  app.add_option("--pages", opt.pages, "pages of the table the checkpoint writes");
  app.add_flag("--keep", opt.keep, "keep the run's directory");
  CLI11_PARSE(app, argc, argv);
  return RunBenchmark("stall_bench", opt.base_dir, opt.keep, [&] { return StallBench(opt).Run(); });
}
