// points_bench: the figures of issue 10, in one run, against pg_basebackup
// of the same database:
//   import --from          `zenith init --from` of a running pgbench server;
//   import --from-datadir  `zenith init --from-datadir` of it, stopped;
//   export                 `zenith export main` of the imported branch;
//   pg_basebackup          of the running server (-X stream, synced), the
//                          reference for all three (MB/s of the database's
//                          size, and the ratio: goal at least 0.8);
//   read-only mount        from `zenith mount --read-only` to the first
//                          query's answer (pg_ctl start included), at a
//                          point right at the newest snapshot and at one
//                          --wal-mb of WAL after it (all of it replayed).
//
// Usage (as an unprivileged user): build/bench/bench_points_bench
//   [--scale 70] [--wal-mb 1024] [--dir /var/tmp] [--keep]
#include <unistd.h>

#include <CLI/CLI.hpp>

#include "tests/bench/bench_support.h"
#include "tests/harness/pg_cluster.h"
#include "tests/harness/temp_dir.h"
#include "tests/harness/zenith_env.h"

namespace zenith::bench {
namespace {

struct Options {
  std::string base_dir = "/var/tmp";
  int scale = 70;
  int wal_mb = 1024;
  bool keep = false;
};

const std::vector<std::string> kSettings = {"checkpoint_timeout=1h", "max_wal_size=20GB"};

class PointsBench {
 public:
  explicit PointsBench(Options opt) : opt_(std::move(opt)), from_env_(from_dir_), datadir_env_(datadir_dir_) {}
  Status Run();

 private:
  static Status Zenith(const testing::ZenithEnv& env, const std::vector<std::string>& args) {
    testing::RunResult r = env.Zenith(args);
    if (!r.ok()) return Internal("zenith " + args[0] + " failed: " + r.Describe());
    return Status::Ok();
  }
  // Seconds from `zenith mount --read-only target` to the first answer.
  Result<double> ReadOnlyFirstQuery(const std::string& target, const std::string& name, int port);
  // Writes about `mb` MB of WAL on `pg`.
  static Status MakeWal(testing::PgCluster& pg, int mb);

  const Options opt_;
  testing::TempDir dir_{"zenith-points-bench"};
  testing::TempDir from_dir_{"zenith-points-from"}, datadir_dir_{"zenith-points-datadir"};
  testing::ZenithEnv from_env_, datadir_env_;
};

Result<double> PointsBench::ReadOnlyFirstQuery(const std::string& target, const std::string& name, int port) {
  const std::string mnt = datadir_dir_.Sub(name);
  const auto t0 = Clock::now();
  ZENITH_RETURN_IF_ERROR(Zenith(datadir_env_, {"mount", "--read-only", target, mnt}));
  testing::PgCluster pg(mnt, datadir_dir_.path(), port);
  ZENITH_RETURN_IF_ERROR(pg.Start());
  testing::RunResult r = pg.Psql("select count(*) from pgbench_branches");
  const double seconds = Since(t0);
  if (!r.ok()) return Internal("first query: " + r.Describe());
  ZENITH_RETURN_IF_ERROR(pg.Stop("fast"));
  ZENITH_RETURN_IF_ERROR(Zenith(datadir_env_, {"umount", mnt}));
  return seconds;
}

Status PointsBench::MakeWal(testing::PgCluster& pg, int mb) {
  ZENITH_RETURN_IF_ERROR(pg.Psql("create table filler (i int, s text)").ok() ? Status::Ok() : Internal("filler"));
  const std::string start = pg.Query("select pg_current_wal_insert_lsn()");
  for (;;) {
    testing::RunResult r = pg.Psql("insert into filler select g, repeat('w', 1000) from generate_series(1, 100000) g");
    if (!r.ok()) return Internal("filler: " + r.Describe());
    const std::string made = pg.Query("select pg_current_wal_insert_lsn() - '" + start + "'::pg_lsn");
    if (std::stod(made) >= mb * 1048576.0) return Status::Ok();
  }
}

Status PointsBench::Run() {
  std::printf("points benchmark in %s (load average %s)\n", dir_.path().c_str(), LoadAverage().c_str());
  testing::PgCluster source(dir_.Sub("source"), dir_.path(), 5460);
  ZENITH_RETURN_IF_ERROR(source.Initdb());
  ZENITH_RETURN_IF_ERROR(source.Start());
  ZENITH_RETURN_IF_ERROR(MustRun({testing::PgBin("pgbench"), "-i", "-q", "-s", std::to_string(opt_.scale), "-h",
                                  dir_.path(), "-p", "5460", "-U", "postgres", "postgres"},
                                 std::chrono::seconds(3600))
                             .status());
  source.Query("checkpoint");
  ZENITH_ASSIGN_OR_RETURN(uint64_t db_bytes, DiskUsage(dir_.Sub("source/base")));
  const std::string conninfo = "host=" + dir_.path() + " port=5460 user=postgres dbname=postgres";
  auto t0 = Clock::now();
  ZENITH_RETURN_IF_ERROR(MustRun({testing::PgBin("pg_basebackup"), "-D", dir_.Sub("basebackup"), "-d", conninfo, "-X",
                                  "stream", "-c", "fast"},
                                 std::chrono::seconds(3600))
                             .status());
  const double basebackup_s = Since(t0);
  t0 = Clock::now();
  ZENITH_RETURN_IF_ERROR(Zenith(from_env_, {"init", "--from", conninfo}));
  const double from_s = Since(t0);
  ZENITH_RETURN_IF_ERROR(source.Stop("fast"));
  t0 = Clock::now();
  ZENITH_RETURN_IF_ERROR(Zenith(datadir_env_, {"init", "--from-datadir", dir_.Sub("source")}));
  const double datadir_s = Since(t0);
  std::printf("imported %s\n", Megabytes(static_cast<double>(db_bytes)).c_str());
  std::fflush(stdout);

  // A point right at the newest snapshot, and one --wal-mb of WAL after it.
  const std::string mnt = datadir_dir_.Sub("main");
  ZENITH_RETURN_IF_ERROR(Zenith(datadir_env_, {"mount", "main", mnt}));
  testing::PgCluster main(mnt, datadir_dir_.path(), 5461);
  ZENITH_RETURN_IF_ERROR(main.Start(kSettings));
  const std::string at_snapshot = main.Query("select pg_current_wal_insert_lsn()");
  ZENITH_RETURN_IF_ERROR(MakeWal(main, opt_.wal_mb));
  const std::string after_wal = main.Query("select pg_current_wal_insert_lsn()");
  ZENITH_ASSIGN_OR_RETURN(double ro_snapshot_s, ReadOnlyFirstQuery("main@" + at_snapshot, "ro-snapshot", 5462));
  ZENITH_ASSIGN_OR_RETURN(double ro_wal_s, ReadOnlyFirstQuery("main@" + after_wal, "ro-wal", 5463));
  ZENITH_RETURN_IF_ERROR(main.Stop("fast"));
  ZENITH_RETURN_IF_ERROR(Zenith(datadir_env_, {"umount", mnt}));

  t0 = Clock::now();
  ZENITH_RETURN_IF_ERROR(Zenith(datadir_env_, {"export", "main@" + at_snapshot, dir_.Sub("export")}));
  const double export_s = Since(t0);

  const double mb = static_cast<double>(db_bytes) / 1048576.0;
  auto row = [&](const char* what, double seconds) {
    std::printf("%-28s %9.2f s %9.1f MB/s %8.2f\n", what, seconds, mb / seconds, basebackup_s / seconds);
  };
  std::printf("\n%-28s %11s %14s %8s   (database %.0f MB, pgbench scale %d)\n", "", "time", "throughput",
              "ratio", mb, opt_.scale);
  row("pg_basebackup (reference)", basebackup_s);
  row("zenith init --from", from_s);
  row("zenith init --from-datadir", datadir_s);
  row("zenith export (at snapshot)", export_s);
  std::printf("goal: import and export at least 0.8 of pg_basebackup\n\n");
  std::printf("read-only mount to first query, right at the newest snapshot: %.2f s\n", ro_snapshot_s);
  std::printf("read-only mount to first query, %d MB of WAL after it:        %.2f s\n", opt_.wal_mb, ro_wal_s);
  std::printf("load average at the end: %s\n", LoadAverage().c_str());
  return Status::Ok();
}

}  // namespace
}  // namespace zenith::bench

int main(int argc, char** argv) {
  using namespace zenith::bench;
  CLI::App app{"zenith points benchmark: import, export and read-only mounts"};
  Options opt;
  app.add_option("--dir", opt.base_dir, "where the run's directories are made (not /tmp: slow file creation)");
  app.add_option("--scale", opt.scale, "pgbench scale of the database");
  app.add_option("--wal-mb", opt.wal_mb, "WAL between the newest snapshot and the second read-only point");
  app.add_flag("--keep", opt.keep, "keep the run's directories");
  CLI11_PARSE(app, argc, argv);
  return RunBenchmark("points_bench", opt.base_dir, opt.keep, [&] { return PointsBench(opt).Run(); });
}
