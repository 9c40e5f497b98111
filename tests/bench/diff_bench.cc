// diff_bench: `zenith branch detach` of a branch of a pgbench database
// against `cp -a` of the same database's plain data directory (time and
// bytes written), and `zenith diff` of two points of a pgbench database (about 1 GB
// at the default scale) with 1% and 10% of its blocks changed between them
// (goal: under 2 s), each point a snapshot's (the end of WAL after a clean
// stop), and once to a point before the stop, which the private PostgreSQL
// of that side reaches by replaying the 10% update's WAL, against reading every page of the same database once
// from a plain local PostgreSQL's data directory: the least any diff that
// reads pages would cost (it would read two versions). Each figure is the
// median of --runs, warm (the repository's files in the page cache) and
// cold (every file of the repository and the data directory evicted first).
//
// Usage (as an unprivileged user): build/bench/bench_diff_bench
//   [--scale 65] [--runs 3] [--dir /var/tmp] [--keep]
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "tests/bench/bench_support.h"
#include "tests/harness/pg_cluster.h"
#include "tests/harness/temp_dir.h"
#include "tests/harness/zenith_env.h"

namespace zenith::bench {
namespace {

struct Options {
  std::string base_dir = "/var/tmp";
  int scale = 65;
  int runs = 3;
  bool keep = false;
};

class DiffBench {
 public:
  explicit DiffBench(Options opt) : opt_(std::move(opt)), env_(dir_) {}
  Status Run();

 private:
  Status Zenith(const std::vector<std::string>& args, std::string* out = nullptr) const {
    testing::RunResult r = env_.Zenith(args);
    if (!r.ok()) return Internal("zenith " + args[0] + " failed: " + r.Describe());
    if (out) *out = r.out;
    return Status::Ok();
  }
  // main's end of WAL.
  Result<std::string> EndOfWal() const {
    std::string out;
    ZENITH_RETURN_IF_ERROR(Zenith({"branch", "-v", "--json"}, &out));
    auto doc = nlohmann::json::parse(out, nullptr, false);
    if (doc.is_discarded() || doc["branches"].empty()) return Internal("zenith branch -v --json: " + out);
    return doc["branches"][0]["end_of_wal"].get<std::string>();
  }
  // Median seconds of `zenith diff from to`, warm and cold; its last line.
  struct Timing {
    double warm = 0, cold = 0;
    std::string summary;
  };
  Result<Timing> TimeDiff(const std::string& from, const std::string& to) const;
  // Median seconds to read every file under `dir` once, warm and cold.
  Result<std::pair<double, double>> TimeRead(const std::string& dir) const;

  const Options opt_;
  testing::TempDir dir_{"zenith-diff-bench"};
  testing::ZenithEnv env_;
};

Result<DiffBench::Timing> DiffBench::TimeDiff(const std::string& from, const std::string& to) const {
  std::vector<double> warm, cold;
  Timing t;
  for (int i = 0; i < opt_.runs; ++i) {
    ZENITH_RETURN_IF_ERROR(EvictTree(env_.repo()));
    auto t0 = Clock::now();
    ZENITH_RETURN_IF_ERROR(Zenith({"diff", from, to}));
    cold.push_back(Since(t0));
    t0 = Clock::now();
    ZENITH_RETURN_IF_ERROR(Zenith({"diff", from, to}, &t.summary));
    warm.push_back(Since(t0));
  }
  t.warm = Median(warm), t.cold = Median(cold);
  while (!t.summary.empty() && t.summary.back() == '\n') t.summary.pop_back();
  t.summary = t.summary.substr(t.summary.rfind('\n') + 1);
  return t;
}

Result<std::pair<double, double>> DiffBench::TimeRead(const std::string& dir) const {
  std::vector<double> warm, cold;
  for (int i = 0; i < opt_.runs; ++i) {
    ZENITH_RETURN_IF_ERROR(EvictTree(dir));
    auto t0 = Clock::now();
    ZENITH_RETURN_IF_ERROR(ReadTree(dir));
    cold.push_back(Since(t0));
    t0 = Clock::now();
    ZENITH_RETURN_IF_ERROR(ReadTree(dir));
    warm.push_back(Since(t0));
  }
  return std::make_pair(Median(warm), Median(cold));
}

Status DiffBench::Run() {
  std::printf("diff benchmark in %s (load average %s)\n", dir_.path().c_str(), LoadAverage().c_str());
  testing::PgCluster plain(dir_.Sub("plain"), dir_.path(), 5470);
  ZENITH_RETURN_IF_ERROR(plain.Initdb());
  ZENITH_RETURN_IF_ERROR(plain.Start());
  ZENITH_RETURN_IF_ERROR(MustRun({testing::PgBin("pgbench"), "-i", "-q", "-s", std::to_string(opt_.scale), "-h",
                                  dir_.path(), "-p", "5470", "-U", "postgres", "postgres"},
                                 std::chrono::seconds(3600))
                             .status());
  ZENITH_RETURN_IF_ERROR(plain.Stop("fast"));
  ZENITH_ASSIGN_OR_RETURN(uint64_t db_bytes, DiskUsage(dir_.Sub("plain/base")));
  ZENITH_ASSIGN_OR_RETURN(auto read, TimeRead(dir_.Sub("plain/base")));
  ZENITH_RETURN_IF_ERROR(Zenith({"init", "--from-datadir", dir_.Sub("plain")}));

  const std::string mnt = dir_.Sub("main");
  testing::PgCluster main(mnt, dir_.path(), 5471);
  const long accounts = 100000L * opt_.scale;
  // Rows in aid order fill the table in order: the first N% of them are
  // about N% of its blocks (each update also writes a new version, and the
  // index entries of it, near the end). Each update runs on a new mount;
  // unmounting stores the shutdown checkpoint's snapshot, so the end of WAL
  // after it is a snapshot's point. `mid` is a point before that checkpoint,
  // which each diff's PostgreSQL reaches by replaying the update's WAL.
  std::string mid;
  auto update = [&](double fraction) -> Result<std::string> {
    ZENITH_RETURN_IF_ERROR(Zenith({"mount", "main", mnt}));
    ZENITH_RETURN_IF_ERROR(main.Start());
    main.Query("update pgbench_accounts set abalance = abalance + 1 where aid <= " +
               std::to_string(static_cast<long>(accounts * fraction)));
    mid = main.Query("select pg_current_wal_insert_lsn()");
    ZENITH_RETURN_IF_ERROR(main.Stop("fast"));
    ZENITH_RETURN_IF_ERROR(Zenith({"umount", mnt}));
    return EndOfWal();
  };
  ZENITH_ASSIGN_OR_RETURN(const std::string p0, EndOfWal());
  ZENITH_ASSIGN_OR_RETURN(const std::string p1, update(0.01));
  ZENITH_ASSIGN_OR_RETURN(const std::string p2, update(0.10));

  ZENITH_ASSIGN_OR_RETURN(Timing t1, TimeDiff("main@" + p0, "main@" + p1));
  ZENITH_ASSIGN_OR_RETURN(Timing t10, TimeDiff("main@" + p1, "main@" + p2));
  ZENITH_ASSIGN_OR_RETURN(Timing t10_mid, TimeDiff("main@" + p1, "main@" + mid));

  // Detach of a branch made at p1 against cp of the plain data directory,
  // each synced: what a standalone copy of the database costs either way.
  ZENITH_RETURN_IF_ERROR(Zenith({"branch", "dev", "main@" + p1}));
  ZENITH_RETURN_IF_ERROR(Sync());
  ZENITH_ASSIGN_OR_RETURN(uint64_t repo_before, DiskUsage(env_.repo()));
  auto t0 = Clock::now();
  ZENITH_RETURN_IF_ERROR(Zenith({"branch", "detach", "dev"}));
  ZENITH_RETURN_IF_ERROR(Sync());
  const double detach_s = Since(t0);
  ZENITH_ASSIGN_OR_RETURN(uint64_t repo_after, DiskUsage(env_.repo()));
  t0 = Clock::now();
  ZENITH_RETURN_IF_ERROR(MustRun({"cp", "-a", dir_.Sub("plain"), dir_.Sub("plain-copy")}).status());
  ZENITH_RETURN_IF_ERROR(Sync());
  const double cp_s = Since(t0);
  ZENITH_ASSIGN_OR_RETURN(uint64_t copy_bytes, DiskUsage(dir_.Sub("plain-copy")));

  const double blocks = static_cast<double>(db_bytes) / 8192;
  std::printf("\ndatabase %s (%.0f blocks), pgbench scale %d, median of %d runs\n",
              Megabytes(static_cast<double>(db_bytes)).c_str(), blocks, opt_.scale, opt_.runs);
  std::printf("%-44s %9s %9s %14s\n", "", "warm", "cold", "ratio (warm)");
  std::printf("%-44s %8.2fs %8.2fs %14s\n", "plain: read every page once (reference)", read.first, read.second, "1.00");
  auto row = [&](const char* what, const Timing& t) {
    std::printf("%-44s %8.2fs %8.2fs %14.2f\n", what, t.warm, t.cold, t.warm / read.first);
    std::printf("    %s\n", t.summary.c_str());
  };
  row("zenith diff, 1% of accounts updated", t1);
  row("zenith diff, 10% of accounts updated", t10);
  row("... 10%, to a point before its checkpoint", t10_mid);
  std::printf("goal: under 2 s with 1%% of blocks changed\n\n");
  const double detach_bytes = static_cast<double>(repo_after > repo_before ? repo_after - repo_before : 0);
  std::printf("%-44s %8.2fs %12s\n", "cp -a of the plain data directory, synced", cp_s,
              Megabytes(static_cast<double>(copy_bytes)).c_str());
  std::printf("%-44s %8.2fs %12s   (time %.2f, bytes %.2f of cp)\n", "zenith branch detach, synced", detach_s,
              Megabytes(detach_bytes).c_str(), detach_s / cp_s, detach_bytes / static_cast<double>(copy_bytes));
  std::printf("load average at the end: %s\n", LoadAverage().c_str());
  return Status::Ok();
}

}  // namespace
}  // namespace zenith::bench

int main(int argc, char** argv) {
  using namespace zenith::bench;
  CLI::App app{"zenith diff benchmark: two points with 1% and 10% of a database changed"};
  Options opt;
  app.add_option("--dir", opt.base_dir, "where the run's directories are made (not /tmp: slow file creation)");
  app.add_option("--scale", opt.scale, "pgbench scale of the database (65: about 1 GB)");
  app.add_option("--runs", opt.runs, "runs of each measurement; the median is shown");
  app.add_flag("--keep", opt.keep, "keep the run's directories");
  CLI11_PARSE(app, argc, argv);
  return RunBenchmark("diff_bench", opt.base_dir, opt.keep, [&] { return DiffBench(opt).Run(); });
}
