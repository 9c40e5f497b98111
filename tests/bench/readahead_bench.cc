// readahead_bench: does zenith-fs's read-ahead (`--readahead-mb`,
// fs/prefetching_page_source.h) pay, and where? A cold sequential scan of
// pgbench_accounts on a remote mount (`zenith mount --pageserver`: every
// page over the page server's TCP endpoint with TLS), read-ahead off and on,
// once straight to the page server and once through a relay that delays
// every byte each way as a link between machines would
// (tests/harness/tcp_relay.h); against the same scan of a plain local data
// directory whose page cache was dropped, measured in the same run.
//
// Cold: each scan is on a fresh mount (nothing in its page cache) with a
// fresh PostgreSQL; the page server's layer files stay in its machine's page
// cache, as they would on a page server that serves many computes.
//
// Usage (as an unprivileged user; PostgreSQL refuses root):
//   build/bench/bench_readahead_bench [--scale 20] [--rounds 3] [--delay-us 500]
//       [--readahead-mb 8] [--dir /var/tmp]
// A quick run: --scale 3 --rounds 1
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>
#include <vector>

#include "common/file_util.h"
#include "common/status.h"
#include "tests/bench/bench_support.h"
#include "tests/harness/tcp_relay.h"
#include "tests/harness/temp_dir.h"
#include "tests/harness/zenith_env.h"

namespace zenith::bench {
namespace {

struct Options {
  std::string base_dir = "/var/tmp";
  int scale = 20;
  int rounds = 3;
  int delay_us = 500;  // each way: a 1 ms round trip
  int readahead_mb = 8;
  bool keep = false;
};

constexpr const char* kScan = "select count(*) from pgbench_accounts";

class ReadAheadBench {
 public:
  explicit ReadAheadBench(Options opt) : opt_(std::move(opt)), env_(dir_) {}
  Status Run();

 private:
  Status Zenith(const std::vector<std::string>& args) const { return ZenithIn(env_, args); }
  Status Build();
  // Seconds of one scan of `datadir` by a fresh PostgreSQL.
  Result<double> Scan(const std::string& datadir, bool tcp);
  // The median scan on fresh remote mounts through `port`.
  Result<double> RemoteScan(uint16_t port, int readahead_mb);

  const Options opt_;
  testing::TempDir dir_{"zenith-readahead-bench"};
  testing::ZenithEnv env_;
  const int ps_port_ = 21000 + static_cast<int>(getpid() % 5000);  // below the ephemeral ports
  int mounts_ = 0;
};

// The branch "bench" with a pgbench database, and its copy in "local".
Status ReadAheadBench::Build() { return BuildPgbenchBranch(env_, ps_port_, opt_.scale, {}, dir_.Sub("local")); }

// A remote mount's PostgreSQL listens on TCP: the page server connects to it
// for its WAL.
Result<double> ReadAheadBench::Scan(const std::string& datadir, bool tcp) {
  Server pg({}, datadir, dir_.path(), 5433);
  ZENITH_RETURN_IF_ERROR(pg.Start(tcp ? std::vector<std::string>{"listen_addresses=localhost"} : std::vector<std::string>{}));
  const auto t0 = Clock::now();
  ZENITH_RETURN_IF_ERROR(pg.Query(kScan).status());
  const double seconds = Since(t0);
  ZENITH_RETURN_IF_ERROR(pg.Stop());
  return seconds;
}

Result<double> ReadAheadBench::RemoteScan(uint16_t port, int readahead_mb) {
  env_.SetEnv("ZENITH_FS_READAHEAD_MB", std::to_string(readahead_mb));
  const std::string url = "postgresql://compute@127.0.0.1:" + std::to_string(port);
  std::vector<double> times;
  for (int round = 0; round < opt_.rounds; ++round) {
    const std::string mnt = dir_.Sub("remote-" + std::to_string(++mounts_));
    ZENITH_RETURN_IF_ERROR(Zenith({"mount", "bench", mnt, "--pageserver", url, "--scratch", mnt + "-scratch"}));
    auto seconds = Scan(mnt, true);
    ZENITH_RETURN_IF_ERROR(Zenith({"umount", mnt}));
    ZENITH_RETURN_IF_ERROR(RemoveTree(mnt + "-scratch"));
    if (!seconds.ok()) return seconds.status();
    times.push_back(*seconds);
  }
  return Median(times);
}

Status ReadAheadBench::Run() {
  const std::string load_at_start = LoadAverage();
  std::printf("zenith read-ahead benchmark in %s (load average %s)\n", dir_.path().c_str(), load_at_start.c_str());
  ZENITH_RETURN_IF_ERROR(Build());
  std::vector<double> local_times;
  for (int round = 0; round < opt_.rounds; ++round) {
    ZENITH_RETURN_IF_ERROR(Sync());
    ZENITH_RETURN_IF_ERROR(EvictTree(dir_.Sub("local")));
    ZENITH_ASSIGN_OR_RETURN(double s, Scan(dir_.Sub("local"), false));
    local_times.push_back(s);
  }
  const double local = Median(local_times);
  ZENITH_ASSIGN_OR_RETURN(auto relay, testing::TcpRelay::Start(static_cast<uint16_t>(ps_port_),
                                                               std::chrono::microseconds(opt_.delay_us)));
  struct Row {
    std::string link;
    double off = 0, on = 0;
  };
  std::vector<Row> rows = {{"remote, same machine"}, {"remote, " + std::to_string(opt_.delay_us * 2) + " us round trip"}};
  for (size_t i = 0; i < rows.size(); ++i) {
    const uint16_t port = i == 0 ? static_cast<uint16_t>(ps_port_) : relay->port();
    ZENITH_ASSIGN_OR_RETURN(rows[i].off, RemoteScan(port, 0));
    ZENITH_ASSIGN_OR_RETURN(rows[i].on, RemoteScan(port, opt_.readahead_mb));
    std::printf("  %s: %.2f s without read-ahead, %.2f s with %d MB\n", rows[i].link.c_str(), rows[i].off, rows[i].on,
                opt_.readahead_mb);
    std::fflush(stdout);
  }
  std::printf("\ncold scan of pgbench_accounts (scale %d), median of %d\n", opt_.scale, opt_.rounds);
  std::printf("%-30s %10s %10s %8s %10s %10s\n", "", "RA off", "RA on", "on/off", "local/off", "local/on");
  std::printf("%-30s %9.2fs\n", "plain local data directory", local);
  for (const Row& r : rows) {
    std::printf("%-30s %9.2fs %9.2fs %8.2f %10.2f %10.2f\n", r.link.c_str(), r.off, r.on, r.on / r.off, local / r.off,
                local / r.on);
  }
  std::printf("load average %s at start, %s at end\n", load_at_start.c_str(), LoadAverage().c_str());
  return Status::Ok();
}

}  // namespace
}  // namespace zenith::bench

int main(int argc, char** argv) {
  using namespace zenith::bench;
  CLI::App app{"zenith read-ahead benchmark: cold scans on remote mounts with read-ahead off and on"};
  Options opt;
  app.add_option("--dir", opt.base_dir, "where the run's directory is made");
  app.add_option("--scale", opt.scale, "pgbench scale (20: pgbench_accounts about 260 MB)");
  app.add_option("--rounds", opt.rounds, "scans of each kind; the median is shown");
  app.add_option("--delay-us", opt.delay_us, "the relay's delay each way, in microseconds");
  app.add_option("--readahead-mb", opt.readahead_mb, "the read-ahead's memory when on");
  app.add_flag("--keep", opt.keep, "keep the run's directory");
  CLI11_PARSE(app, argc, argv);
  return RunBenchmark("readahead_bench", opt.base_dir, opt.keep, [&] { return ReadAheadBench(opt).Run(); });
}
