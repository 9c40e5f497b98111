// remote_bench: the figures of issue 8, in one run: pgbench -S and TPC-B on
// a remote mount (`zenith mount --pageserver postgresql://...`: everything
// over the page server's TCP endpoint, the page server a synchronous
// standby), on a local mount of the same branch, and on a plain local data
// directory holding the same database. Then the remote mount again over
// plain TCP (the page server with "allow_plain_tcp", and the benchmark's
// own zenith and zenith-fs from tests/programs/ that may ask for it): what
// TLS costs remote TPC-B.
//
// The remote mount runs on this machine as this user: what it measures is
// the path, TCP with TLS and SCRAM-SHA-256-PLUS (the CA found in the
// repository, as for any local `zenith mount --pageserver`) and the
// synchronous WAL stream, not another machine's network. Each side starts
// after sync(1) and a warm-up of -S.
//
// Usage (as an unprivileged user; PostgreSQL refuses root):
//   build/bench/bench_remote_bench [--scale 50] [--duration 60] [--warmup 20]
//       [--clients 8] [--dir /var/tmp]
// A quick run: --scale 3 --duration 5 --warmup 2
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/file_util.h"
#include "common/status.h"
#include "tests/bench/bench_support.h"
#include "tests/harness/temp_dir.h"
#include "tests/harness/test_env.h"
#include "tests/harness/zenith_env.h"

namespace zenith::bench {
namespace {

using testing::RunResult;

struct Options {
  std::string base_dir = "/var/tmp";
  int scale = 50;
  int duration = 60;
  int warmup = 20;
  int clients = 8;
  int jobs = 2;
  ServerSettings settings;
  bool keep = false;
};

struct Tps {
  double select = 0, tpcb = 0;
};

class RemoteBench {
 public:
  explicit RemoteBench(Options opt) : opt_(std::move(opt)), env_(dir_) {}
  Status Run();

 private:
  Status Zenith(const std::vector<std::string>& args) const { return ZenithIn(env_, args); }
  Status Build();
  Result<Tps> Measure(const std::string& datadir, int port, bool tcp = false);
  Result<Tps> OnMount(const std::vector<std::string>& mount_args, const std::string& mnt);
  Result<Tps> OnPlainTcp(const std::string& url);

  const Options opt_;
  testing::TempDir dir_{"zenith-remote-bench"};
  testing::ZenithEnv env_;
  const int ps_port_ = 21000 + static_cast<int>(getpid() % 5000);  // below the ephemeral ports
};

// The branch "bench" with a pgbench database, and its copy in "local".
Status RemoteBench::Build() {
  return BuildPgbenchBranch(env_, ps_port_, opt_.scale, opt_.settings, dir_.Sub("local"));
}

// A remote mount's PostgreSQL must listen on TCP: the page server connects
// to it for its WAL (the harness's servers otherwise listen on none).
Result<Tps> RemoteBench::Measure(const std::string& datadir, int port, bool tcp) {
  ZENITH_RETURN_IF_ERROR(Sync());
  Server pg(opt_.settings, datadir, dir_.path(), port);
  ZENITH_RETURN_IF_ERROR(pg.Start(tcp ? std::vector<std::string>{"listen_addresses=localhost"} : std::vector<std::string>{}));
  const std::vector<std::string> common = {"-n", "-c", std::to_string(opt_.clients), "-j", std::to_string(opt_.jobs)};
  auto with = [&](std::vector<std::string> extra) {
    extra.insert(extra.begin(), common.begin(), common.end());
    return extra;
  };
  if (opt_.warmup > 0) ZENITH_RETURN_IF_ERROR(pg.Pgbench(with({"-S"}), opt_.warmup).status());
  Tps t;
  ZENITH_ASSIGN_OR_RETURN(t.select, pg.Pgbench(with({"-S"}), opt_.duration));
  ZENITH_ASSIGN_OR_RETURN(t.tpcb, pg.Pgbench(with({}), opt_.duration));
  ZENITH_RETURN_IF_ERROR(pg.Stop());
  std::printf("  %s: pgbench -S %.0f TPS, TPC-B %.0f TPS\n", datadir.c_str(), t.select, t.tpcb);
  std::fflush(stdout);
  return t;
}

Result<Tps> RemoteBench::OnMount(const std::vector<std::string>& mount_args, const std::string& mnt) {
  ZENITH_RETURN_IF_ERROR(Zenith(mount_args));
  const bool remote = std::find(mount_args.begin(), mount_args.end(), "--pageserver") != mount_args.end();
  auto tps = Measure(mnt, 5432, remote);
  ZENITH_RETURN_IF_ERROR(Zenith({"umount", mnt}));
  return tps;
}

// The page server restarted with "allow_plain_tcp"; the remote mount made by
// the plain-TCP variants of zenith and zenith-fs (tests/programs/).
Result<Tps> RemoteBench::OnPlainTcp(const std::string& url) {
  ZENITH_ASSIGN_OR_RETURN(std::string text, ReadFileToString(env_.repo() + "/config"));
  auto config = nlohmann::json::parse(text);
  config["allow_plain_tcp"] = true;
  ZENITH_RETURN_IF_ERROR(WriteFileDurably(env_.repo() + "/config", config.dump(2) + "\n"));
  ZENITH_RETURN_IF_ERROR(Zenith({"pageserver", "stop"}));
  ZENITH_RETURN_IF_ERROR(Zenith({"pageserver", "start", "--listen", "127.0.0.1:" + std::to_string(ps_port_)}));
  const std::string bin = dir_.Sub("plain-bin");
  ZENITH_ASSIGN_OR_RETURN(std::string zenith, testing::BinDirWithFs(bin, testing::TestProgram("zenith-fs-plain-tcp")));
  std::error_code ec;
  std::filesystem::copy_file(testing::TestProgram("zenith-plain-tcp"), zenith,
                             std::filesystem::copy_options::overwrite_existing, ec);
  if (ec) return IoError("could not copy zenith-plain-tcp: " + ec.message());
  const char* before = std::getenv("ZENITH_BIN_DIR");
  const std::string saved = before ? before : "";
  setenv("ZENITH_BIN_DIR", bin.c_str(), 1);  // env_.Zenith runs the variants from here on
  auto tps = OnMount({"mount", "bench", dir_.Sub("plain"), "--pageserver", url + "?sslmode=disable", "--scratch",
                      dir_.Sub("plain-scratch")},
                     dir_.Sub("plain"));
  if (saved.empty()) unsetenv("ZENITH_BIN_DIR");
  else setenv("ZENITH_BIN_DIR", saved.c_str(), 1);
  return tps;
}

void PrintRow(const char* figure, double remote, double local_mount, double local) {
  std::printf("%-14s %12.0f %12.0f %12.0f %10.2f %10.2f\n", figure, remote, local_mount, local, remote / local_mount,
              remote / local);
}

Status RemoteBench::Run() {
  const std::string load_at_start = LoadAverage();
  std::printf("zenith remote-mount benchmark in %s (load average %s)\n", dir_.path().c_str(), load_at_start.c_str());
  ZENITH_RETURN_IF_ERROR(Build());
  const std::string url = "postgresql://compute@127.0.0.1:" + std::to_string(ps_port_);
  ZENITH_ASSIGN_OR_RETURN(Tps remote, OnMount({"mount", "bench", dir_.Sub("remote"), "--pageserver", url, "--scratch",
                                               dir_.Sub("remote-scratch")},
                                              dir_.Sub("remote")));
  ZENITH_ASSIGN_OR_RETURN(Tps mounted, OnMount({"mount", "bench", dir_.Sub("mounted")}, dir_.Sub("mounted")));
  ZENITH_ASSIGN_OR_RETURN(Tps local, Measure(dir_.Sub("local"), 5433));
  ZENITH_ASSIGN_OR_RETURN(Tps plain, OnPlainTcp(url));
  std::printf("\n%-14s %12s %12s %12s %10s %10s\n", "TPS", "remote", "local mount", "local dir", "r/mount",
              "r/local");
  PrintRow("pgbench -S", remote.select, mounted.select, local.select);
  PrintRow("TPC-B", remote.tpcb, mounted.tpcb, local.tpcb);
  std::printf("goal: remote TPC-B >= 0.7 of the local mount: %s\n", remote.tpcb >= 0.7 * mounted.tpcb ? "met" : "NOT met");
  std::printf("\n%-14s %12s %12s %10s\n", "TPS", "remote TLS", "remote TCP", "TLS/TCP");
  std::printf("%-14s %12.0f %12.0f %10.2f\n", "pgbench -S", remote.select, plain.select, remote.select / plain.select);
  std::printf("%-14s %12.0f %12.0f %10.2f\n", "TPC-B", remote.tpcb, plain.tpcb, remote.tpcb / plain.tpcb);
  std::printf("goal: remote TPC-B over TLS >= 0.9 of plain TCP: %s\n", remote.tpcb >= 0.9 * plain.tpcb ? "met" : "NOT met");
  std::printf("pgbench scale %d, %d clients, %d threads, %d s runs after %d s of -S; shared_buffers %s, "
              "checkpoint_timeout %s; load average %s at start, %s at end\n",
              opt_.scale, opt_.clients, opt_.jobs, opt_.duration, opt_.warmup, opt_.settings.shared_buffers.c_str(),
              opt_.settings.checkpoint_timeout.c_str(), load_at_start.c_str(), LoadAverage().c_str());
  return Status::Ok();
}

}  // namespace
}  // namespace zenith::bench

int main(int argc, char** argv) {
  using namespace zenith::bench;
  CLI::App app{"zenith remote-mount benchmark: remote mount vs local mount vs local data directory"};
  Options opt;
  app.add_option("--dir", opt.base_dir, "where the run's directory is made");
  app.add_option("--scale", opt.scale, "pgbench scale");
  app.add_option("--duration", opt.duration, "seconds of each measured pgbench run");
  app.add_option("--warmup", opt.warmup, "seconds of pgbench -S before the measured runs");
  app.add_option("--clients", opt.clients, "pgbench clients");
  app.add_option("--jobs", opt.jobs, "pgbench threads");
  app.add_flag("--keep", opt.keep, "keep the run's directory");
  CLI11_PARSE(app, argc, argv);
  return RunBenchmark("remote_bench", opt.base_dir, opt.keep, [&] { return RemoteBench(opt).Run(); });
}
