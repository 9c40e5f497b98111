// What the benchmarks share: running commands that must succeed, timing,
// sizes, formatting, evicting files from the page cache, copying a mounted
// data directory out into a plain one, and finding the zenith programs.
//
// Header-only (every file in tests/bench/ is its own program).
// Thread-safety: reentrant functions.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "common/file_util.h"
#include "common/status.h"
#include "pageserver/s3/s3_client.h"
#include "tests/harness/pg_cluster.h"
#include "tests/harness/s3_test_client.h"
#include "tests/harness/s3_test_env.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/test_env.h"
#include "tests/harness/zenith_env.h"

namespace zenith::bench {

using Clock = std::chrono::steady_clock;

inline double Since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

inline double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// The value at fraction p (0..1) of the sorted samples.
inline double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

inline std::string LoadAverage() {
  std::ifstream f("/proc/loadavg");
  std::string a, b, c;
  f >> a >> b >> c;
  return a + " " + b + " " + c;
}

// Runs a command that must succeed.
inline Result<testing::RunResult> MustRun(const std::vector<std::string>& argv,
                                          std::chrono::seconds timeout = std::chrono::seconds(600)) {
  testing::RunResult r = testing::RunCommand(argv, {.timeout = timeout});
  if (!r.ok()) return Internal(argv[0] + " failed: " + r.Describe() + "\n" + r.out);
  return r;
}

// Writes back every dirty page of the machine (sync(1) needs no privilege).
inline Status Sync() { return MustRun({"sync"}).status(); }

// Deletes every object under `prefix` in the S3 service's test bucket: what
// a benchmark put there (a run at scale 35 leaves about 2 GB otherwise).
inline Status DeletePrefix(const testing::S3TestEnv& s3, const std::string& prefix) {
  ZENITH_ASSIGN_OR_RETURN(auto settings, testing::TestBucketSettings(s3));
  s3::S3Client client(std::move(settings), s3.bucket);
  ZENITH_ASSIGN_OR_RETURN(auto objects, client.ListAll(prefix + "/"));
  std::vector<std::string> keys;
  for (const auto& o : objects) keys.push_back(o.key);
  return client.DeleteMany(keys);
}

inline Result<uint64_t> DiskUsage(const std::string& path) {
  ZENITH_ASSIGN_OR_RETURN(testing::RunResult r, MustRun({"du", "-s", "--block-size=1", path}));
  return std::stoull(r.out);
}

inline std::string Megabytes(double bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, bytes >= 1e9 ? "%.2f GB" : "%.1f MB", bytes >= 1e9 ? bytes / 1e9 : bytes / 1e6);
  return buf;
}

inline std::string Fixed(double v, const char* unit, int digits = 3) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*f%s", digits, v, unit);
  return buf;
}

// Drops a file's pages from the page cache (after writing back the dirty
// ones, which cannot be dropped). Pages a live process maps stay.
inline Status Evict(const std::string& path) {
  ZENITH_ASSIGN_OR_RETURN(UniqueFd fd, OpenFile(path, O_RDONLY));
  ZENITH_RETURN_IF_ERROR(FsyncFd(fd.get(), path));
  if (posix_fadvise(fd.get(), 0, 0, POSIX_FADV_DONTNEED) != 0) return Internal("posix_fadvise " + path);
  return Status::Ok();
}

// Evict() of every regular file below `dir` (a file removed meanwhile, as
// compaction does, is skipped).
inline Status EvictTree(const std::string& dir) {
  ZENITH_ASSIGN_OR_RETURN(testing::RunResult r, MustRun({"find", dir, "-type", "f"}));
  std::istringstream lines(r.out);
  for (std::string path; std::getline(lines, path);) {
    if (Status s = Evict(path); !s.ok() && PathExists(path)) return s;
  }
  return Status::Ok();
}

// Reads every regular file below `dir` once, so that its pages are in the
// page cache.
inline Status ReadTree(const std::string& dir) {
  ZENITH_ASSIGN_OR_RETURN(testing::RunResult r, MustRun({"find", dir, "-type", "f"}));
  std::istringstream lines(r.out);
  std::vector<uint8_t> buf(1 << 20);
  for (std::string path; std::getline(lines, path);) {
    ZENITH_ASSIGN_OR_RETURN(UniqueFd fd, OpenFile(path, O_RDONLY));
    for (uint64_t at = 0;; at += buf.size()) {
      ZENITH_ASSIGN_OR_RETURN(size_t got, PreadFull(fd.get(), buf, at, path));
      if (got < buf.size()) break;
    }
  }
  return Status::Ok();
}

// A plain data directory with the files of a stopped mount: everything but
// pg_wal, which gets the WAL from the last checkpoint's redo on (all a clean
// start needs).
inline Status CopyOut(const std::string& mountpoint, const std::string& local) {
  ZENITH_RETURN_IF_ERROR(MustRun({"cp", "-a", mountpoint, local}).status());
  const std::string wal = local + "/pg_wal";
  ZENITH_ASSIGN_OR_RETURN(testing::RunResult target, MustRun({"readlink", wal}));
  std::string wal_src = target.out.substr(0, target.out.find('\n'));
  if (::unlink(wal.c_str()) != 0) return ErrnoStatus("unlink", wal, errno);
  ZENITH_RETURN_IF_ERROR(MakeDirectories(wal + "/archive_status", 0700));
  ZENITH_ASSIGN_OR_RETURN(testing::RunResult control, MustRun({testing::PgBin("pg_controldata"), local}));
  const std::string key = "Latest checkpoint's REDO WAL file:";
  size_t at = control.out.find(key);
  if (at == std::string::npos) return Internal("pg_controldata names no REDO WAL file");
  std::istringstream rest(control.out.substr(at + key.size()));
  std::string redo_file;
  rest >> redo_file;
  ZENITH_ASSIGN_OR_RETURN(auto names, ListDirectory(wal_src));
  for (const auto& name : names) {
    if (name.size() != 24 || name < redo_file) continue;
    ZENITH_RETURN_IF_ERROR(MustRun({"cp", wal_src + "/" + name, wal + "/" + name}).status());
  }
  return Status::Ok();
}

// Points ZENITH_BIN_DIR at the zenith programs next to this benchmark
// (build/bench -> build/bin) unless it is set.
inline void DefaultBinDir() {
  if (const char* v = std::getenv("ZENITH_BIN_DIR"); v && *v) return;
  char exe[4096];
  ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) return;
  std::string dir = DirName(std::string(exe, static_cast<size_t>(n)));
  ::setenv("ZENITH_BIN_DIR", (DirName(dir) + "/bin").c_str(), 1);
}

// What a benchmark's main() does once its options are parsed: refuses root
// (PostgreSQL would), makes its directories under `base_dir` (kept with
// `keep`), finds the programs, runs `run` and turns its Status into the
// exit code, printing an error as "<name>: <message>".
template <typename Run>
int RunBenchmark(const char* name, const std::string& base_dir, bool keep, Run run) {
  if (testing::RunningAsRoot()) {
    std::fprintf(stderr, "PostgreSQL refuses to run as root: run this as an unprivileged user\n");
    return 2;
  }
  ::setenv("TMPDIR", base_dir.c_str(), 1);
  if (keep) ::setenv("ZENITH_KEEP_TEST_DIRS", "1", 1);
  DefaultBinDir();
  Status s = run();
  if (!s.ok()) {
    std::fprintf(stderr, "%s: %s\n", name, s.message().c_str());
    return 1;
  }
  return 0;
}

// The settings every PostgreSQL of a benchmark runs with.
struct ServerSettings {
  std::string shared_buffers = "128MB";
  std::string checkpoint_timeout = "30s";
};

// One PostgreSQL of a benchmark: a PgCluster with the benchmark's settings.
class Server {
 public:
  Server(ServerSettings settings, std::string datadir, std::string socket_dir, int port)
      : settings_(std::move(settings)),
        pg_(std::move(datadir), std::move(socket_dir), port, testing::CurrentUserName()) {}

  // `extra`: more settings ("name=value"), after the benchmark's.
  Status Start(std::vector<std::string> extra = {}) {
    extra.insert(extra.begin(),
                 {"shared_buffers=" + settings_.shared_buffers, "checkpoint_timeout=" + settings_.checkpoint_timeout});
    return pg_.Start(extra);
  }
  Status Stop() { return pg_.Stop("fast"); }
  Result<std::string> Query(const std::string& sql) const {
    testing::RunResult r = pg_.Psql(sql);
    if (!r.ok()) return Internal("query failed: " + sql + ": " + r.Describe());
    while (!r.out.empty() && r.out.back() == '\n') r.out.pop_back();
    return r.out;
  }
  // pgbench with `args` (-T `seconds` when > 0); the TPS it reports.
  Result<double> Pgbench(std::vector<std::string> args, int seconds) const {
    std::vector<std::string> argv = {testing::PgBin("pgbench"), "-h", pg_.socket_dir(), "-p", std::to_string(pg_.port()),
                                     "-U", testing::CurrentUserName()};
    argv.insert(argv.end(), args.begin(), args.end());
    if (seconds > 0) argv.insert(argv.end(), {"-T", std::to_string(seconds)});
    argv.push_back("postgres");
    ZENITH_ASSIGN_OR_RETURN(testing::RunResult r, MustRun(argv, std::chrono::seconds(seconds + 7200)));
    size_t at = r.out.find("tps = ");
    if (at == std::string::npos) return 0.0;
    return std::stod(r.out.substr(at + 6));
  }
  std::string datadir() const { return pg_.datadir(); }
  // libpq's connection string for this server (testing::PgConnection).
  std::string Conninfo() const {
    return "host=" + pg_.socket_dir() + " port=" + std::to_string(pg_.port()) + " user=" + testing::CurrentUserName() +
           " dbname=postgres";
  }

 private:
  const ServerSettings settings_;
  testing::PgCluster pg_;
};

// `zenith args...` in `env`, its output in the error if it fails.
inline Status ZenithIn(const testing::ZenithEnv& env, const std::vector<std::string>& args) {
  testing::RunResult r = env.Zenith(args);
  if (!r.ok()) return Internal("zenith " + args[0] + " failed: " + r.Describe());
  return Status::Ok();
}

// For the remote-mount benchmarks: a repository in `env` whose page server
// also listens on TCP at 127.0.0.1:`port` (PGPASSWORD set to the compute
// password for later commands), the branch "bench" holding a pgbench
// database of `scale`, and a plain copy of that data directory at `local`.
inline Status BuildPgbenchBranch(testing::ZenithEnv& env, int port, int scale, const ServerSettings& settings,
                                 const std::string& local) {
  ZENITH_RETURN_IF_ERROR(ZenithIn(env, {"init"}));
  ZENITH_RETURN_IF_ERROR(ZenithIn(env, {"pageserver", "start", "--listen", "127.0.0.1:" + std::to_string(port)}));
  ZENITH_ASSIGN_OR_RETURN(std::string password, ReadFileToString(env.repo() + "/compute-password"));
  env.SetEnv("PGPASSWORD", password.substr(0, password.find('\n')));
  ZENITH_RETURN_IF_ERROR(ZenithIn(env, {"branch", "bench", "main"}));
  const std::string mnt = env.dir() + "/build";
  ZENITH_RETURN_IF_ERROR(ZenithIn(env, {"mount", "bench", mnt}));
  Server pg(settings, mnt, env.dir(), 5432);
  ZENITH_RETURN_IF_ERROR(pg.Start());
  ZENITH_RETURN_IF_ERROR(pg.Pgbench({"-i", "-q", "-s", std::to_string(scale)}, 0).status());
  ZENITH_RETURN_IF_ERROR(pg.Stop());
  ZENITH_RETURN_IF_ERROR(CopyOut(mnt, local));
  ZENITH_RETURN_IF_ERROR(ZenithIn(env, {"umount", mnt}));
  return RemoveTree(mnt);
}

}  // namespace zenith::bench
