// remote_tpcb_bench: what keeping a repository in object storage costs a
// busy database (docs/design.md §12), in one run: steady TPC-B on a mount
// of a repository with a remote (its page server uploading layers and WAL
// every wal_upload_interval) against a mount of the same database in a
// repository without one, and against a plain local data directory. With
// the remote on: how far the bucket's WAL is behind the end of WAL (sampled
// four times a second: the seconds since the end of WAL was where the
// bucket's WAL ends now, p50 and p99) and the PUT requests per minute it
// costs (the page server's zenith_remote_uploads_total), and the CPU the S3
// service used when it runs on this machine (as the RGW of the tests does).
//
// The S3 service comes from ZENITH_TEST_S3_ENV (mount_helpers/ceph-rgw.sh's
// s3.env), as for the tests.
//
// Usage (as an unprivileged user; PostgreSQL refuses root):
//   ZENITH_TEST_S3_ENV=DIR/s3.env build/bench/bench_remote_tpcb_bench
//       [--scale 20] [--duration 60] [--clients 8] [--remote-first] [--dir /var/tmp]
// A quick run: --scale 3 --duration 10
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <deque>
#include <initializer_list>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/file_util.h"
#include "common/lsn.h"
#include "common/status.h"
#include "tests/bench/bench_support.h"
#include "tests/harness/compute.h"
#include "tests/harness/prometheus_text.h"
#include "tests/harness/s3_test_env.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/temp_dir.h"
#include "tests/harness/test_env.h"
#include "tests/harness/zenith_env.h"

namespace zenith::bench {
namespace {

using testing::RunResult;

struct Options {
  std::string base_dir = "/var/tmp";
  int scale = 20;
  int duration = 60;
  int clients = 8;
  bool keep = false;
  bool remote_first = false;  // the remote-on run before the remote-off one
};

Status Zenith(const testing::ZenithEnv& env, const std::vector<std::string>& args) {
  RunResult r = env.Zenith(args);
  if (!r.ok()) return Internal("zenith " + args[0] + " failed: " + r.Describe());
  return Status::Ok();
}

// What the page server has put into the bucket so far (its metrics).
struct Uploaded {
  double requests = 0, layer_bytes = 0, wal_bytes = 0, other_bytes = 0;
};

Result<Uploaded> UploadedSoFar(const std::string& metrics) {
  RunResult r = testing::RunCommand({"curl", "-sS", "--max-time", "10", "http://" + metrics + "/metrics"});
  if (!r.ok()) return Internal("scraping the metrics failed: " + r.Describe());
  ZENITH_ASSIGN_OR_RETURN(auto e, testing::ParsePrometheusText(r.out));
  const double all_bytes = e.Sum("zenith_remote_upload_bytes_total");
  Uploaded u{e.Sum("zenith_remote_uploads_total"), e.Sum("zenith_remote_upload_bytes_total", {{"kind", "layer"}}),
             e.Sum("zenith_remote_upload_bytes_total", {{"kind", "wal"}}), 0};
  u.other_bytes = all_bytes - u.layer_bytes - u.wal_bytes;
  return u;
}

// CPU seconds (user and system) each live process named one of `names`
// has used, with its children's that it waited for (a PostgreSQL backend's
// once it exits), by pid.
using CpuByPid = std::map<pid_t, double>;
CpuByPid CpuSeconds(std::initializer_list<const char*> names) {
  CpuByPid out;
  const long ticks = ::sysconf(_SC_CLK_TCK);
  for (const char* name : names) {
    for (pid_t pid : testing::ProcessesNamed(name)) {
      auto stat = ReadFileToString("/proc/" + std::to_string(pid) + "/stat");
      if (!stat.ok()) continue;
      // Fields after the command's closing parenthesis.
      std::istringstream rest(stat->substr(stat->rfind(')') + 2));
      std::string field;
      // utime, stime, cutime and cstime are the 12th to 15th.
      for (int i = 1; i <= 15 && rest >> field; ++i) {
        if (i >= 12) out[pid] += std::stod(field) / static_cast<double>(ticks);
      }
    }
  }
  return out;
}

// Who uses the cores during a run: CPU seconds of each part, by pid.
struct CpuShares {
  CpuByPid pageserver, fs, postgres, pgbench, object_store;
};

CpuShares CpuNow() {
  return {CpuSeconds({"zenith-pageserv"}), CpuSeconds({"zenith-fs"}), CpuSeconds({"postgres"}), CpuSeconds({"pgbench"}),
          // The S3 service when it runs on this machine, as the tests' Ceph does.
          CpuSeconds({"radosgw", "ceph-osd", "ceph-mon", "ceph-mgr"})};
}

// CPU seconds per second between two samples of the processes alive at the
// second (one started since counts from 0; one gone since does not count:
// the runs' processes all live through a run).
struct CpuRates {
  double pageserver = 0, fs = 0, postgres = 0, pgbench = 0, object_store = 0;
};

double Rate(const CpuByPid& before, const CpuByPid& after, double seconds) {
  double used = 0;
  for (const auto& [pid, t] : after) {
    auto it = before.find(pid);
    used += t - (it == before.end() ? 0.0 : it->second);
  }
  return used / seconds;
}

CpuRates PerSecond(const CpuShares& before, const CpuShares& after, double seconds) {
  return {Rate(before.pageserver, after.pageserver, seconds), Rate(before.fs, after.fs, seconds),
          Rate(before.postgres, after.postgres, seconds), Rate(before.pgbench, after.pgbench, seconds),
          Rate(before.object_store, after.object_store, seconds)};
}

// The bucket's WAL of `timeline` as the last upload pass left it.
std::optional<Lsn> UploadedLsn(const std::string& repo) {
  auto text = ReadFileToString(repo + "/remote-status.json");
  if (!text.ok()) return std::nullopt;
  auto j = nlohmann::json::parse(*text, nullptr, false);
  if (!j.is_object() || !j["timelines"].is_object()) return std::nullopt;
  std::optional<Lsn> lowest;
  for (const auto& [id, t] : j["timelines"].items()) {
    auto lsn = Lsn::Parse(t.value("wal_uploaded", ""));
    if (lsn && (!lowest || *lsn < *lowest)) lowest = lsn;
  }
  return lowest;
}

class RemoteTpcbBench {
 public:
  RemoteTpcbBench(Options opt, testing::S3TestEnv s3)
      : opt_(std::move(opt)), s3_(std::move(s3)), built_(built_dir_), off_(off_dir_), on_(on_dir_) {
    for (const auto& [k, v] : s3_.vars) on_.SetEnv(k, v);
  }
  Status Run();

 private:
  Status BuildDatabase();
  Result<double> Tpcb(const Server& pg) const {
    return pg.Pgbench({"-n", "-c", std::to_string(opt_.clients), "-j", "2"}, opt_.duration);
  }
  // TPC-B TPS on a mount; `cpu` gets who used the cores meanwhile.
  Result<double> OnMount(testing::ZenithEnv& env, const testing::TempDir& dir, bool remote, CpuRates& cpu);
  // While `done` is false: the lag of the bucket's WAL behind pg's end of
  // WAL, in seconds, four times a second.
  void SampleLag(const Server& pg, const std::string& repo, const std::atomic<bool>& done);

  const Options opt_;
  const testing::S3TestEnv s3_;
  testing::TempDir built_dir_{"zenith-tpcb-bench"}, off_dir_{"zenith-tpcb-bench"}, on_dir_{"zenith-tpcb-bench"};
  testing::ZenithEnv built_, off_, on_;
  std::vector<double> lag_seconds_;
  Uploaded per_minute_;  // during the remote-on run
  double wal_per_minute_ = 0;  // the WAL it wrote
  const std::string prefix_ = testing::S3TestEnv::UniquePrefix();
};

Status RemoteTpcbBench::BuildDatabase() {
  ZENITH_RETURN_IF_ERROR(Zenith(built_, {"init"}));
  const std::string mnt = built_dir_.Sub("build");
  ZENITH_RETURN_IF_ERROR(Zenith(built_, {"mount", "main", mnt}));
  Server pg({}, mnt, built_dir_.path(), 5432);
  ZENITH_RETURN_IF_ERROR(pg.Start());
  ZENITH_RETURN_IF_ERROR(pg.Pgbench({"-i", "-q", "-s", std::to_string(opt_.scale)}, 0).status());
  ZENITH_RETURN_IF_ERROR(pg.Stop());
  ZENITH_RETURN_IF_ERROR(CopyOut(mnt, built_dir_.Sub("plain")));
  ZENITH_RETURN_IF_ERROR(Zenith(built_, {"umount", mnt}));
  built_.Zenith({"pageserver", "stop"});
  return Status::Ok();
}

void RemoteTpcbBench::SampleLag(const Server& pg, const std::string& repo, const std::atomic<bool>& done) {
  // One connection for every sample: a psql per sample took about 5% of
  // the machine's CPU, from the remote-on run alone.
  auto conn = testing::PgConnection::Open(pg.Conninfo());
  if (!conn.ok()) {
    std::fprintf(stderr, "no lag samples: %s\n", conn.status().message().c_str());
    return;
  }
  std::deque<std::pair<Clock::time_point, Lsn>> ends;  // when the end of WAL was where
  while (!done.load()) {
    auto rows = (*conn)->Query("select pg_current_wal_flush_lsn()");
    const auto now = Clock::now();
    if (rows.ok() && rows->size() == 1 && rows->front().size() == 1) {
      if (auto lsn = Lsn::Parse(rows->front().front())) ends.emplace_back(now, *lsn);
    }
    if (auto uploaded = UploadedLsn(repo); uploaded && !ends.empty()) {
      // The first sample whose end of WAL the bucket does not hold yet:
      // the bucket is behind since then (0 when it holds them all).
      while (!ends.empty() && ends.front().second <= *uploaded) ends.pop_front();
      lag_seconds_.push_back(ends.empty() ? 0.0 : std::chrono::duration<double>(now - ends.front().first).count());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
}

Result<double> RemoteTpcbBench::OnMount(testing::ZenithEnv& env, const testing::TempDir& dir, bool remote,
                                        CpuRates& cpu) {
  std::vector<std::string> init = {"init", "--from-datadir", built_dir_.Sub("plain")};
  const std::string url = "s3://" + s3_.bucket + "/" + prefix_ + "/zenith";
  if (remote) init.insert(init.end(), {"--remote", url});
  ZENITH_RETURN_IF_ERROR(Zenith(env, init));
  env.Zenith({"pageserver", "stop"});
  const std::string metrics = "127.0.0.1:" + std::to_string(testing::FreePort());
  ZENITH_RETURN_IF_ERROR(Zenith(env, {"pageserver", "start", "--metrics", metrics}));
  if (remote) ZENITH_RETURN_IF_ERROR(Zenith(env, {"remote", "sync", "--timeout", "600"}));  // the import's layers
  const std::string mnt = dir.Sub("main");
  ZENITH_RETURN_IF_ERROR(Zenith(env, {"mount", "main", mnt}));
  ZENITH_RETURN_IF_ERROR(Sync());
  Server pg({}, mnt, dir.path(), 5433);
  ZENITH_RETURN_IF_ERROR(pg.Start());
  Uploaded before;
  if (remote) {
    ZENITH_ASSIGN_OR_RETURN(before, UploadedSoFar(metrics));
  }
  std::atomic<bool> done{false};
  std::thread sampler;
  if (remote) sampler = std::thread([&] { SampleLag(pg, env.repo(), done); });
  // CPU from the run's start to 2 s before its end, while pgbench runs.
  const CpuShares cpu0 = CpuNow();
  const auto t0 = Clock::now();
  std::thread cpu_probe([&] {
    std::this_thread::sleep_for(std::chrono::seconds(std::max(1, opt_.duration - 2)));
    const double seconds = Since(t0);
    cpu = PerSecond(cpu0, CpuNow(), seconds);
  });
  ZENITH_ASSIGN_OR_RETURN(std::string wal_start, pg.Query("select pg_current_wal_lsn()"));
  Result<double> tps = Tpcb(pg);
  const double minutes = Since(t0) / 60;
  ZENITH_ASSIGN_OR_RETURN(std::string wal_end, pg.Query("select pg_current_wal_lsn()"));
  if (remote) {
    auto a = Lsn::Parse(wal_start), b = Lsn::Parse(wal_end);
    if (a && b) wal_per_minute_ = static_cast<double>(*b - *a) / minutes;
  }
  cpu_probe.join();
  done = true;
  if (sampler.joinable()) sampler.join();
  if (remote) {
    ZENITH_ASSIGN_OR_RETURN(Uploaded after, UploadedSoFar(metrics));
    per_minute_ = {(after.requests - before.requests) / minutes, (after.layer_bytes - before.layer_bytes) / minutes,
                   (after.wal_bytes - before.wal_bytes) / minutes, (after.other_bytes - before.other_bytes) / minutes};
  }
  ZENITH_RETURN_IF_ERROR(pg.Stop());
  ZENITH_RETURN_IF_ERROR(Zenith(env, {"umount", mnt}));
  env.Zenith({"pageserver", "stop"});
  return tps;
}

Status RemoteTpcbBench::Run() {
  const std::string load_at_start = LoadAverage();
  std::printf("zenith TPC-B with object storage on and off, scale %d, %d clients, %d s each (load average %s)\n",
              opt_.scale, opt_.clients, opt_.duration, load_at_start.c_str());
  std::fflush(stdout);
  ZENITH_RETURN_IF_ERROR(BuildDatabase());
  CpuRates off_cpu, on_cpu;
  double off = 0, on = 0;
  if (opt_.remote_first) {
    ZENITH_ASSIGN_OR_RETURN(on, OnMount(on_, on_dir_, true, on_cpu));
  }
  ZENITH_ASSIGN_OR_RETURN(off, OnMount(off_, off_dir_, false, off_cpu));
  if (!opt_.remote_first) {
    ZENITH_ASSIGN_OR_RETURN(on, OnMount(on_, on_dir_, true, on_cpu));
  }
  ZENITH_RETURN_IF_ERROR(Sync());
  Server plain({}, built_dir_.Sub("plain"), built_dir_.path(), 5434);
  ZENITH_RETURN_IF_ERROR(plain.Start());
  ZENITH_ASSIGN_OR_RETURN(double local, Tpcb(plain));
  ZENITH_RETURN_IF_ERROR(plain.Stop());

  std::printf("\n%-30s %10s %12s\n", "TPC-B", "TPS", "vs local dir");
  std::printf("%-30s %10.0f %12.2f\n", "plain local data directory", local, 1.0);
  std::printf("%-30s %10.0f %12.2f\n", "mount, no remote", off, off / local);
  std::printf("%-30s %10.0f %12.2f\n", "mount, remote on", on, on / local);
  std::printf("remote on / off: %.2f (goal >= 0.9)\n", on / off);
  std::printf("bucket's WAL behind the end of WAL: p50 %.1f s, p99 %.1f s (%zu samples; uploads every 2 s)\n",
              Percentile(lag_seconds_, 0.5), Percentile(lag_seconds_, 0.99), lag_seconds_.size());
  std::printf("PUT requests: %.0f per minute; uploaded per minute: layers %.1f MB, WAL %.1f MB (of %.1f MB written), "
              "indexes and refs %.2f MB\n",
              per_minute_.requests, per_minute_.layer_bytes / 1e6, per_minute_.wal_bytes / 1e6, wal_per_minute_ / 1e6,
              per_minute_.other_bytes / 1e6);
  std::printf("\n%-30s %10s %10s   (CPU seconds per second, of %ld cores)\n", "CPU during the runs", "no remote",
              "remote on", ::sysconf(_SC_NPROCESSORS_ONLN));
  const auto row = [](const char* what, double a, double b) { std::printf("%-30s %10.2f %10.2f\n", what, a, b); };
  row("zenith-pageserver", off_cpu.pageserver, on_cpu.pageserver);
  row("zenith-fs", off_cpu.fs, on_cpu.fs);
  row("postgres", off_cpu.postgres, on_cpu.postgres);
  row("pgbench", off_cpu.pgbench, on_cpu.pgbench);
  row("S3 service on this machine", off_cpu.object_store, on_cpu.object_store);
  std::printf("load average %s at start, %s at end\n", load_at_start.c_str(), LoadAverage().c_str());
  return DeletePrefix(s3_, prefix_);
}

}  // namespace
}  // namespace zenith::bench

int main(int argc, char** argv) {
  using namespace zenith::bench;
  CLI::App app{"zenith TPC-B with object storage on and off, against a plain local data directory"};
  Options opt;
  app.add_option("--dir", opt.base_dir, "where the run's directories are made");
  app.add_option("--scale", opt.scale, "pgbench scale");
  app.add_option("--duration", opt.duration, "seconds of each TPC-B run");
  app.add_option("--clients", opt.clients, "pgbench clients");
  app.add_flag("--keep", opt.keep, "keep the run's directories");
  app.add_flag("--remote-first", opt.remote_first, "run the remote-on TPC-B before the remote-off one");
  CLI11_PARSE(app, argc, argv);
  std::string why;
  auto s3 = zenith::testing::LoadS3TestEnv(&why);
  if (!s3) {
    std::fprintf(stderr, "remote_tpcb_bench: no S3 service: %s (set ZENITH_TEST_S3_ENV to ceph-rgw.sh's s3.env)\n",
                 why.c_str());
    return 2;
  }
  return RunBenchmark("remote_tpcb_bench", opt.base_dir, opt.keep, [&] { return RemoteTpcbBench(opt, *s3).Run(); });
}
