// mount_bench: the figures of issue 4, each a zenith mount against the same
// database in a plain local data directory, measured in one run.
//
// For each database size (pgbench scales, --sizes) and for the throughput
// scale (--tps-scale) the benchmark builds a branch of one repository with
// `pgbench -i` on a mount, then copies that database out into a plain local
// data directory (the "local" side; same files, same postgresql.auto.conf,
// started with the same settings). Then it measures:
//   mount to first query   zenith: `zenith mount` + pg_ctl start + a query;
//                          local: `cp -a` of the data directory + start + query
//                          (the local way to get a fresh writable copy);
//   scratch bytes          du of .zenith/datadirs/<timeline> right after the
//                          mount; local: du of the copy;
//   branch                 `zenith branch`; local: `cp -a` of the stopped copy;
//   pgbench -S, TPC-B      TPS after a warm-up of -S, mounted vs local.
// Every server listens only on a Unix socket in the run's directory. Each
// side starts its measurements after sync(1), so neither pays for the
// other's writeback. checkpoint_timeout defaults to 30 s so that the TPS
// runs include checkpoints (and, on zenith, their snapshot uploads).
// zenith-fs logs its per-request counters at unmount (and on SIGUSR1).
//
// Usage (as an unprivileged user; PostgreSQL refuses root):
//   build/bench/bench_mount_bench [--sizes 7,70] [--tps-scale 50]
//       [--duration 60] [--warmup 30] [--clients 8] [--repeat 3] [--dir /var/tmp]
// A quick run: --sizes 1,3 --tps-scale 3 --duration 5 --warmup 2 --repeat 1
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "common/file_util.h"
#include "common/status.h"
#include "tests/bench/bench_support.h"
#include "tests/harness/pg_cluster.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/temp_dir.h"
#include "tests/harness/test_env.h"
#include "tests/harness/zenith_env.h"

namespace zenith::bench {
namespace {

using testing::PgBin;
using testing::PgCluster;
using testing::RunCommand;
using testing::RunResult;

constexpr int kZenithPort = 5432;
constexpr int kLocalPort = 5433;

struct Options {
  std::string base_dir = "/var/tmp";
  std::vector<int> sizes = {7, 70};
  int tps_scale = 50;
  int duration = 60;  // seconds of each measured pgbench run
  int warmup = 30;    // seconds of pgbench -S before the measured runs
  int clients = 8;
  int jobs = 2;
  int repeat = 3;     // mounts, copies and branches: the median of this many
  std::string shared_buffers = "128MB";
  std::string checkpoint_timeout = "30s";
  bool keep = false;
};

struct SizeFigures {
  int scale = 0;
  double db_bytes = 0;
  double mount_s = 0, mount_only_s = 0, copy_s = 0;
  double scratch_bytes = 0, local_bytes = 0;
  double branch_s = 0, local_branch_s = 0;
  std::string mount_steps;  // from zenith-fs's log
};

struct TpsFigures {
  double select_zenith = 0, select_local = 0, tpcb_zenith = 0, tpcb_local = 0;
};

class MountBench {
 public:
  explicit MountBench(Options opt) : opt_(std::move(opt)), env_(dir_) {}
  ServerSettings Settings() const { return {opt_.shared_buffers, opt_.checkpoint_timeout}; }

  Status Run();

 private:
  std::string Branch(int scale) const { return "s" + std::to_string(scale); }
  std::string Template(int scale) const { return dir_.Sub("local-s" + std::to_string(scale)); }
  Result<std::string> TimelineOf(const std::string& branch) const;
  Status Zenith(const std::vector<std::string>& args) const;
  Status Build(int scale);
  Status MeasureMount(SizeFigures* f);
  Status MeasureLocalStart(SizeFigures* f);
  Status MeasureBranch(SizeFigures* f);
  Status MeasureLocalBranch(SizeFigures* f);
  Status MeasureTps(TpsFigures* f);
  Result<std::pair<double, double>> RunTps(Server& server);
  void Print(const std::vector<SizeFigures>& sizes, const TpsFigures& tps) const;

  const Options opt_;
  testing::TempDir dir_{"zenith-bench"};
  testing::ZenithEnv env_;
  std::map<int, double> db_bytes_;
  int branch_counter_ = 0;
  std::string load_at_start_;
};

Status MountBench::Zenith(const std::vector<std::string>& args) const {
  RunResult r = env_.Zenith(args);
  if (!r.ok()) return Internal("zenith " + args[0] + " failed: " + r.Describe());
  return Status::Ok();
}

Result<std::string> MountBench::TimelineOf(const std::string& branch) const {
  ZENITH_ASSIGN_OR_RETURN(std::string id, ReadFileToString(env_.repo() + "/refs/branches/" + branch));
  while (!id.empty() && (id.back() == '\n' || id.back() == ' ')) id.pop_back();
  return id;
}

// A branch of main holding a pgbench database of `scale`, and its local copy.
Status MountBench::Build(int scale) {
  const auto t0 = Clock::now();
  ZENITH_RETURN_IF_ERROR(Zenith({"branch", Branch(scale), "main"}));
  const std::string mnt = dir_.Sub("build");
  ZENITH_RETURN_IF_ERROR(Zenith({"mount", Branch(scale), mnt}));
  Server pg(Settings(), mnt, dir_.path(), kZenithPort);
  ZENITH_RETURN_IF_ERROR(pg.Start());
  ZENITH_RETURN_IF_ERROR(pg.Pgbench({"-i", "-q", "-s", std::to_string(scale)}, 0).status());
  ZENITH_ASSIGN_OR_RETURN(std::string size, pg.Query("select pg_database_size('postgres')"));
  db_bytes_[scale] = std::stod(size);
  ZENITH_RETURN_IF_ERROR(pg.Stop());
  const double init_s = Since(t0);
  ZENITH_RETURN_IF_ERROR(bench::CopyOut(mnt, Template(scale)));
  ZENITH_RETURN_IF_ERROR(Zenith({"umount", mnt}));
  ZENITH_RETURN_IF_ERROR(RemoveTree(mnt));
  IgnoreError(RemoveTree(mnt + ".log"));
  std::printf("built scale %d (%s): pgbench -i on a mount %.1f s, total with the local copy %.1f s\n", scale,
              Megabytes(db_bytes_[scale]).c_str(), init_s, Since(t0));
  std::fflush(stdout);
  return Status::Ok();
}

// The last "mount steps:" line zenith-fs logged for `timeline`.
std::string MountSteps(const std::string& repo, const std::string& timeline) {
  auto log = ReadFileToString(repo + "/datadirs/" + timeline + "/zenith-fs.log");
  if (!log.ok()) return "";
  size_t at = log->rfind("mount steps:");
  if (at == std::string::npos) return "";
  return log->substr(at, log->find('\n', at) - at);
}

Status MountBench::MeasureMount(SizeFigures* f) {
  const std::string mnt = dir_.Sub("mnt"), branch = Branch(f->scale);
  ZENITH_ASSIGN_OR_RETURN(std::string timeline, TimelineOf(branch));
  std::vector<double> total, mount_only, scratch;
  for (int i = 0; i < opt_.repeat; ++i) {
    auto t0 = Clock::now();
    ZENITH_RETURN_IF_ERROR(Zenith({"mount", branch, mnt}));
    double mounted = Since(t0);
    ZENITH_ASSIGN_OR_RETURN(uint64_t du, DiskUsage(env_.repo() + "/datadirs/" + timeline));
    Server pg(Settings(), mnt, dir_.path(), kZenithPort);
    t0 = Clock::now();
    ZENITH_RETURN_IF_ERROR(pg.Start());
    ZENITH_RETURN_IF_ERROR(pg.Query("select abalance from pgbench_accounts where aid = 1").status());
    total.push_back(mounted + Since(t0));
    mount_only.push_back(mounted);
    scratch.push_back(static_cast<double>(du));
    f->mount_steps = MountSteps(env_.repo(), timeline);
    ZENITH_RETURN_IF_ERROR(pg.Stop());
    ZENITH_RETURN_IF_ERROR(Zenith({"umount", mnt}));
    ZENITH_RETURN_IF_ERROR(RemoveTree(mnt));
    IgnoreError(RemoveTree(mnt + ".log"));
  }
  f->mount_s = Median(total);
  f->mount_only_s = Median(mount_only);
  f->scratch_bytes = Median(scratch);
  return Status::Ok();
}

Status MountBench::MeasureLocalStart(SizeFigures* f) {
  const std::string copy = dir_.Sub("copy");
  std::vector<double> total, bytes;
  for (int i = 0; i < opt_.repeat; ++i) {
    auto t0 = Clock::now();
    ZENITH_RETURN_IF_ERROR(MustRun({"cp", "-a", Template(f->scale), copy}).status());
    Server pg(Settings(), copy, dir_.path(), kLocalPort);
    ZENITH_RETURN_IF_ERROR(pg.Start());
    ZENITH_RETURN_IF_ERROR(pg.Query("select abalance from pgbench_accounts where aid = 1").status());
    total.push_back(Since(t0));
    ZENITH_RETURN_IF_ERROR(pg.Stop());
    ZENITH_ASSIGN_OR_RETURN(uint64_t du, DiskUsage(copy));
    bytes.push_back(static_cast<double>(du));
    ZENITH_RETURN_IF_ERROR(RemoveTree(copy));
    IgnoreError(RemoveTree(copy + ".log"));
  }
  f->copy_s = Median(total);
  f->local_bytes = Median(bytes);
  return Status::Ok();
}

Status MountBench::MeasureBranch(SizeFigures* f) {
  std::vector<double> times;
  for (int i = 0; i < opt_.repeat; ++i) {
    auto t0 = Clock::now();
    ZENITH_RETURN_IF_ERROR(Zenith({"branch", "b" + std::to_string(++branch_counter_), Branch(f->scale)}));
    times.push_back(Since(t0));
  }
  f->branch_s = Median(times);
  return Status::Ok();
}

Status MountBench::MeasureLocalBranch(SizeFigures* f) {
  const std::string copy = dir_.Sub("copy");
  std::vector<double> times;
  for (int i = 0; i < opt_.repeat; ++i) {
    auto t0 = Clock::now();
    ZENITH_RETURN_IF_ERROR(MustRun({"cp", "-a", Template(f->scale), copy}).status());
    times.push_back(Since(t0));
    ZENITH_RETURN_IF_ERROR(RemoveTree(copy));
  }
  f->local_branch_s = Median(times);
  return Status::Ok();
}

// pgbench -S after a warm-up, then TPC-B, on a running server.
Result<std::pair<double, double>> MountBench::RunTps(Server& server) {
  const std::vector<std::string> common = {"-n", "-c", std::to_string(opt_.clients), "-j", std::to_string(opt_.jobs)};
  auto with = [&](std::vector<std::string> extra) {
    extra.insert(extra.begin(), common.begin(), common.end());
    return extra;
  };
  if (opt_.warmup > 0) ZENITH_RETURN_IF_ERROR(server.Pgbench(with({"-S"}), opt_.warmup).status());
  ZENITH_ASSIGN_OR_RETURN(double select, server.Pgbench(with({"-S"}), opt_.duration));
  ZENITH_ASSIGN_OR_RETURN(double tpcb, server.Pgbench(with({}), opt_.duration));
  return std::make_pair(select, tpcb);
}

Status MountBench::MeasureTps(TpsFigures* f) {
  {
    ZENITH_RETURN_IF_ERROR(Sync());
    const std::string mnt = dir_.Sub("tps-zenith");
    ZENITH_RETURN_IF_ERROR(Zenith({"mount", Branch(opt_.tps_scale), mnt}));
    Server pg(Settings(), mnt, dir_.path(), kZenithPort);
    ZENITH_RETURN_IF_ERROR(pg.Start());
    ZENITH_ASSIGN_OR_RETURN(auto tps, RunTps(pg));
    std::tie(f->select_zenith, f->tpcb_zenith) = tps;
    ZENITH_RETURN_IF_ERROR(pg.Stop());
    ZENITH_RETURN_IF_ERROR(Zenith({"umount", mnt}));
  }
  const std::string copy = dir_.Sub("tps-local");
  ZENITH_RETURN_IF_ERROR(MustRun({"cp", "-a", Template(opt_.tps_scale), copy}).status());
  ZENITH_RETURN_IF_ERROR(Sync());
  Server pg(Settings(), copy, dir_.path(), kLocalPort);
  ZENITH_RETURN_IF_ERROR(pg.Start());
  ZENITH_ASSIGN_OR_RETURN(auto tps, RunTps(pg));
  std::tie(f->select_local, f->tpcb_local) = tps;
  return pg.Stop();
}

void PrintRow(const std::string& figure, const std::string& zenith, const std::string& local, double ratio,
              const std::string& goal, bool met) {
  std::printf("%-40s %12s %12s %8.2f  %-16s %s\n", figure.c_str(), zenith.c_str(), local.c_str(), ratio, goal.c_str(),
              met ? "yes" : "NO");
}

void MountBench::Print(const std::vector<SizeFigures>& sizes, const TpsFigures& tps) const {
  std::printf("\n%-40s %12s %12s %8s  %-16s %s\n", "figure", "zenith", "local", "ratio", "goal", "met");
  const SizeFigures& small = sizes.front();
  for (const auto& f : sizes) {
    std::string at = "s" + std::to_string(f.scale) + " (" + Megabytes(f.db_bytes) + ")";
    bool flat_mount = f.mount_s <= small.mount_s * 1.5 + 0.05;
    PrintRow("mount to first query, " + at, Fixed(f.mount_s, " s"), Fixed(f.copy_s, " s"), f.mount_s / f.copy_s,
             "< 1 s, flat", f.mount_s < 1.0 && flat_mount);
    bool flat_scratch = f.scratch_bytes <= small.scratch_bytes * 1.5 + 1e6;
    PrintRow("scratch bytes after mount, " + at, Megabytes(f.scratch_bytes), Megabytes(f.local_bytes),
             f.scratch_bytes / f.local_bytes, "flat", flat_scratch);
    bool flat_branch = f.branch_s <= small.branch_s * 1.5 + 0.005;
    PrintRow("branch, " + at, Fixed(f.branch_s * 1000, " ms", 1), Fixed(f.local_branch_s * 1000, " ms", 1),
             f.branch_s / f.local_branch_s, "< 50 ms, flat", f.branch_s < 0.05 && flat_branch);
  }
  std::string at = "s" + std::to_string(opt_.tps_scale);
  double r = tps.select_zenith / tps.select_local;
  PrintRow("pgbench -S TPS, " + at, Fixed(tps.select_zenith, "", 0), Fixed(tps.select_local, "", 0), r, ">= 0.8", r >= 0.8);
  r = tps.tpcb_zenith / tps.tpcb_local;
  PrintRow("pgbench TPC-B TPS, " + at, Fixed(tps.tpcb_zenith, "", 0), Fixed(tps.tpcb_local, "", 0), r, ">= 0.7", r >= 0.7);
  std::printf("\nlocal: mount = cp -a of the data directory + pg_ctl start + first query; branch = cp -a.\n");
  for (const auto& f : sizes) {
    std::printf("s%d: zenith mount alone %.3f s; %s\n", f.scale, f.mount_only_s, f.mount_steps.c_str());
  }
  std::printf("pgbench: %d clients, %d threads, %d s runs after %d s of -S warm-up; shared_buffers %s, "
              "checkpoint_timeout %s; medians of %d\n",
              opt_.clients, opt_.jobs, opt_.duration, opt_.warmup, opt_.shared_buffers.c_str(),
              opt_.checkpoint_timeout.c_str(), opt_.repeat);
  std::printf("load average: %s at start, %s at end; %ld CPUs\n", load_at_start_.c_str(), LoadAverage().c_str(),
              sysconf(_SC_NPROCESSORS_ONLN));
}

Status MountBench::Run() {
  load_at_start_ = LoadAverage();
  std::printf("zenith mount benchmark in %s (load average %s)\n", dir_.path().c_str(), load_at_start_.c_str());
  ZENITH_RETURN_IF_ERROR(Zenith({"init"}));
  std::set<int> scales(opt_.sizes.begin(), opt_.sizes.end());
  scales.insert(opt_.tps_scale);
  for (int scale : scales) ZENITH_RETURN_IF_ERROR(Build(scale));
  std::vector<SizeFigures> sizes;
  for (int scale : opt_.sizes) {
    SizeFigures f;
    f.scale = scale;
    f.db_bytes = db_bytes_[scale];
    // Each side starts with nothing of the other's left to write back.
    ZENITH_RETURN_IF_ERROR(Sync());
    ZENITH_RETURN_IF_ERROR(MeasureMount(&f));
    ZENITH_RETURN_IF_ERROR(MeasureBranch(&f));
    ZENITH_RETURN_IF_ERROR(Sync());
    ZENITH_RETURN_IF_ERROR(MeasureLocalStart(&f));
    ZENITH_RETURN_IF_ERROR(MeasureLocalBranch(&f));
    sizes.push_back(f);
    std::printf("measured scale %d: mount to first query %.3f s\n", scale, f.mount_s);
    std::fflush(stdout);
  }
  TpsFigures tps;
  ZENITH_RETURN_IF_ERROR(MeasureTps(&tps));
  Print(sizes, tps);
  return Status::Ok();
}

}  // namespace
}  // namespace zenith::bench

int main(int argc, char** argv) {
  using namespace zenith::bench;
  CLI::App app{"zenith mount benchmark: zenith vs a local data directory of the same database"};
  Options opt;
  app.add_option("--dir", opt.base_dir, "where the run's directory is made (not /tmp: slow file creation)");
  app.add_option("--sizes", opt.sizes, "pgbench scales of the mount and branch figures")->delimiter(',');
  app.add_option("--tps-scale", opt.tps_scale, "pgbench scale of the TPS figures");
  app.add_option("--duration", opt.duration, "seconds of each measured pgbench run");
  app.add_option("--warmup", opt.warmup, "seconds of pgbench -S before the measured runs");
  app.add_option("--clients", opt.clients, "pgbench clients");
  app.add_option("--jobs", opt.jobs, "pgbench threads");
  app.add_option("--repeat", opt.repeat, "mounts, copies and branches measured (the median is shown)");
  app.add_option("--shared-buffers", opt.shared_buffers, "PostgreSQL shared_buffers");
  app.add_option("--checkpoint-timeout", opt.checkpoint_timeout, "PostgreSQL checkpoint_timeout");
  app.add_flag("--keep", opt.keep, "keep the run's directory");
  CLI11_PARSE(app, argc, argv);
  if (opt.sizes.empty() || opt.repeat < 1 || opt.duration < 1) {
    std::fprintf(stderr, "need at least one size, --repeat >= 1 and --duration >= 1\n");
    return 2;
  }
  return RunBenchmark("mount_bench", opt.base_dir, opt.keep, [&] { return MountBench(opt).Run(); });
}
