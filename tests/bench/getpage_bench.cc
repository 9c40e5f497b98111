// GetPage@LSN throughput and latency over the page server's Unix socket,
// with requests pipelined, for pages already in memory ("warm") and pages
// read from the layer file ("cold": evicted from the page cache with
// posix_fadvise(POSIX_FADV_DONTNEED), in a freshly started server that has
// nothing mapped), against pread(2) of the same pages from the PostgreSQL
// data directory the repository was imported from.
//
// Setup: initdb, `pgbench -i -s <scale>`, a clean shutdown, CreateRepository
// (one layer of a few hundred MB at scale 20). The real zenith-pageserver
// serves it; this process is the client, one connection, one thread. Pages
// are every block of pgbench_accounts in a random order (each page once per
// run); a sample of the replies is compared with the data directory.
// Throughput per core divides the pages by the server's own CPU time (the
// schedstat of its threads); maj.flt counts the server's major page faults,
// the reads from disk (the kernel's readahead around a fault brings in many
// pages at once, so a cold run is mostly cache hits after the first faults).
//
// Then the same warm reads at depths 1 and 8 over the Unix socket, over
// plain TCP and over TCP with TLS (verify-full against the repository's CA,
// SCRAM-SHA-256-PLUS): what TLS costs a GetPage. The bench's repository
// listens on 127.0.0.1 with "allow_plain_tcp" so both TCP rows run in one
// server.
//
// Usage: bench_getpage_bench [--scale N] [--dir DIR] [--depths 1,8,32,128] [--passes N]
//   --dir keeps the cluster and repository there and reuses them next time.
// Prints figures; it is not a test.
#include <fcntl.h>
#include <libpq-fe.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/byte_io.h"
#include "common/file_util.h"
#include "common/relation_path.h"
#include "pageserver/api/page_protocol.h"
#include "pageserver/api/repo_config.h"
#include "pageserver/api/repo_layout.h"
#include "pageserver/client/page_client.h"
#include "pageserver/repo/import.h"
#include "tests/bench/bench_support.h"
#include "tests/harness/pg_cluster.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/test_env.h"

namespace zenith::bench {
namespace {

using pageserver::kPageSize;
using zenith::testing::PgBin;
using zenith::testing::RunCommand;

constexpr int kPort = 64000;

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "getpage_bench: %s\n", what.c_str());
  std::exit(1);
}
void Check(const Status& s, const std::string& what) {
  if (!s.ok()) Die(what + ": " + s.ToString());
}

struct Options {
  int scale = 20;
  int passes = 3;  // over every page, per warm run
  std::string dir;
  std::vector<int> depths = {1, 8, 32, 128};
};

Options ParseOptions(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    std::string v = i + 1 < argc ? argv[i + 1] : "";
    if (a == "--scale") o.scale = std::atoi(v.c_str()), ++i;
    else if (a == "--passes") o.passes = std::atoi(v.c_str()), ++i;
    else if (a == "--dir") o.dir = v, ++i;
    else if (a == "--depths") {
      o.depths.clear();
      std::stringstream ss(v);
      for (std::string d; std::getline(ss, d, ',');) o.depths.push_back(std::atoi(d.c_str()));
      ++i;
    } else {
      Die("usage: bench_getpage_bench [--scale N] [--dir DIR] [--depths 1,8,32] [--passes N]");
    }
  }
  if (o.dir.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    std::string templ = std::string(tmp && *tmp ? tmp : "/var/tmp") + "/getpage-bench-XXXXXX";
    if (!mkdtemp(templ.data())) Die("mkdtemp failed");
    o.dir = templ;
  }
  return o;
}

// ---- Setup ---------------------------------------------------------------------

// Builds (or finds, from an earlier run with --dir) the cluster and the
// repository; returns pgbench_accounts' relation path.
std::string Prepare(const Options& o) {
  const std::string datadir = o.dir + "/pgdata", root = o.dir + "/.zenith", relpath_file = o.dir + "/accounts.path";
  if (PathExists(root) && PathExists(relpath_file)) return ReadFileToString(relpath_file).value();
  std::printf("preparing: initdb, pgbench -i -s %d, import (once per --dir)\n", o.scale);
  std::fflush(stdout);
  zenith::testing::PgCluster pg(datadir, o.dir, 5432);
  Check(pg.Initdb(), "initdb");
  Check(pg.Start({"fsync=off", "max_wal_size=4GB"}), "start");
  auto r = RunCommand({PgBin("pgbench"), "-i", "-q", "-s", std::to_string(o.scale), "-h", o.dir, "-p", "5432", "-U",
                       "postgres", "postgres"},
                      {.timeout = std::chrono::minutes(30)});
  if (!r.ok()) Die("pgbench -i: " + r.Describe());
  std::string relpath = pg.Query("SELECT pg_relation_filepath('pgbench_accounts')");
  Check(pg.Stop("fast"), "stop");
  const auto t0 = Clock::now();
  Check(pageserver::CreateRepository(root, datadir, pageserver::RepoConfig{}), "import");
  std::printf("imported in %.1f s\n", std::chrono::duration<double>(Clock::now() - t0).count());
  Check(WriteFileDurably(relpath_file, relpath), "save");
  return relpath;
}

std::string BinDir() {
  if (const char* env = std::getenv("ZENITH_BIN_DIR"); env && *env) return env;
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) Die("readlink /proc/self/exe");
  std::string self(buf, static_cast<size_t>(n));
  return self.substr(0, self.rfind('/')) + "/../bin";  // build/bench/ -> build/bin/
}

// The real page server, as a child process.
class Server {
 public:
  explicit Server(const std::string& root) : root_(root) {
    child_ = zenith::testing::Child::Start({BinDir() + "/zenith-pageserver", "--repo", root}, root + "/bench-server.log");
    const auto deadline = Clock::now() + std::chrono::seconds(30);
    while (Clock::now() < deadline) {
      PGconn* c = PQconnectdb(conninfo().c_str());
      bool ok = PQstatus(c) == CONNECTION_OK;
      PQfinish(c);
      if (ok) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    Die("the page server did not start; see " + root + "/bench-server.log");
  }
  std::string conninfo() const { return pageserver::PageServerConnString(root_, kPort); }
  // CPU time of the server's live threads (their schedstat, in ns), seconds.
  // Taken while the benchmark's connection is open, so its thread counts.
  double CpuSeconds() const {
    const std::string tasks = "/proc/" + std::to_string(child_.pid()) + "/task";
    auto names = ListDirectory(tasks);
    if (!names.ok()) return 0;
    double total = 0;
    for (const auto& tid : *names) {
      auto schedstat = ReadFileToString(tasks + "/" + tid + "/schedstat");
      if (schedstat.ok()) total += std::strtod(schedstat->c_str(), nullptr) / 1e9;
    }
    return total;
  }
  // Major page faults of the server so far: pages it read from the disk.
  uint64_t MajorFaults() const {
    auto stat = ReadFileToString("/proc/" + std::to_string(child_.pid()) + "/stat");
    if (!stat.ok()) return 0;
    std::istringstream rest(stat->substr(stat->rfind(')') + 2));
    std::string field;
    for (int i = 3; rest >> field; ++i) {
      if (i == 12) return std::stoull(field);
    }
    return 0;
  }

 private:
  std::string root_;
  zenith::testing::Child child_;
};

void EvictDirectory(const std::string& dir) { Check(EvictTree(dir), "evict " + dir); }

// ---- Measuring ---------------------------------------------------------------

struct Figures {
  double seconds = 0, server_cpu = 0;
  uint64_t major_faults = 0;
  std::vector<double> latency_us;  // one per page
  double Pct(double p) {
    std::sort(latency_us.begin(), latency_us.end());
    return latency_us[std::min(latency_us.size() - 1, static_cast<size_t>(p * static_cast<double>(latency_us.size())))];
  }
};

void Print(const std::string& what, int depth, Figures f) {
  const double n = static_cast<double>(f.latency_us.size());
  std::printf("%-26s %5d %11.0f %9.1f %9.1f", what.c_str(), depth, n / f.seconds, f.Pct(0.5), f.Pct(0.99));
  if (f.server_cpu > 0) std::printf(" %10.2f %13.0f %9llu", f.server_cpu, n / f.server_cpu,
                                    static_cast<unsigned long long>(f.major_faults));
  std::printf("\n");
  std::fflush(stdout);
}

// Reads `blocks` of `rel` with up to `depth` GetPage requests in flight on
// one pagestream; compares every 97th page with the data directory.
Figures RunGetPage(Server& server, const std::string& conninfo, const RelTag& rel, const std::vector<uint32_t>& blocks,
                   Lsn lsn, int depth, int local_fd) {
  PGconn* conn = PQconnectdb(conninfo.c_str());
  if (PQstatus(conn) != CONNECTION_OK) Die(PQerrorMessage(conn));
  PGresult* res = PQexec(conn, "pagestream main");
  if (PQresultStatus(res) != PGRES_COPY_BOTH) Die(PQerrorMessage(conn));
  PQclear(res);
  std::vector<Clock::time_point> sent_at(blocks.size());
  Figures f;
  f.latency_us.reserve(blocks.size());
  std::string request;
  std::vector<uint8_t> local(kPageSize);
  const double cpu0 = server.CpuSeconds();
  const uint64_t faults0 = server.MajorFaults();
  const auto t0 = Clock::now();
  size_t sent = 0, received = 0;
  while (received < blocks.size()) {
    while (sent < blocks.size() && sent - received < static_cast<size_t>(depth)) {
      request.clear();
      pageserver::AppendPageRequest(&request, {pageserver::PageRequestKind::kGetPage, lsn, rel, blocks[sent]});
      if (PQputCopyData(conn, request.data(), static_cast<int>(request.size())) != 1) Die(PQerrorMessage(conn));
      sent_at[sent++] = Clock::now();
    }
    if (PQflush(conn) != 0) Die(PQerrorMessage(conn));
    char* buf = nullptr;
    int n = PQgetCopyData(conn, &buf, 0);
    if (n < 0) Die(std::string("the stream ended: ") + PQerrorMessage(conn));
    f.latency_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - sent_at[received]).count());
    auto reply = pageserver::DecodePageReply(std::span(reinterpret_cast<const uint8_t*>(buf), static_cast<size_t>(n)));
    if (!reply.ok() || reply->kind != pageserver::PageReplyKind::kPage) Die("bad reply for block " + std::to_string(blocks[received]));
    if (received % 97 == 0) {
      Check(PreadFull(local_fd, local, uint64_t{blocks[received] % BlocksPerSegment()} * kPageSize, "datadir").status(), "pread");
      if (!std::equal(local.begin(), local.end(), reply->page.begin())) Die("page " + std::to_string(blocks[received]) + " differs");
    }
    PQfreemem(buf);
    ++received;
  }
  f.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  f.server_cpu = server.CpuSeconds() - cpu0;
  f.major_faults = server.MajorFaults() - faults0;
  PQfinish(conn);
  return f;
}

// Makes the repository listen on 127.0.0.1 (TLS, and plain TCP allowed by
// name) from its next start; libpq settings for it, password included.
std::string ListenOnTcp(const pageserver::RepoLayout& layout) {
  auto config = pageserver::RepoConfig::Load(layout.config());
  Check(config.status(), "load the config");
  const int port = 26000 + static_cast<int>(getpid() % 5000);
  config->listen = "127.0.0.1:" + std::to_string(port);
  config->allow_plain_tcp = true;
  Check(config->Save(layout.config()), "save the config");
  if (!PathExists(layout.password_file())) Check(WriteFileDurably(layout.password_file(), "bench\n", 0600), "password");
  std::string password = ReadFileToString(layout.password_file()).value();
  password = password.substr(0, password.find('\n'));
  return "host=127.0.0.1 port=" + std::to_string(port) + " user=zenith dbname=zenith gssencmode=disable password=" + password;
}

Figures RunPread(int fd, const std::vector<uint32_t>& blocks) {
  Figures f;
  f.latency_us.reserve(blocks.size());
  std::vector<uint8_t> page(kPageSize);
  const auto t0 = Clock::now();
  for (uint32_t b : blocks) {
    auto start = Clock::now();
    if (pread(fd, page.data(), kPageSize, static_cast<off_t>(uint64_t{b} * kPageSize)) != static_cast<ssize_t>(kPageSize)) {
      Die("pread");
    }
    f.latency_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
  }
  f.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  return f;
}

int Main(int argc, char** argv) {
  Options o = ParseOptions(argc, argv);
  const std::string relpath = Prepare(o);
  auto seg = ParseRelationPath(relpath);
  if (!seg) Die("not a relation path: " + relpath);
  const std::string datafile = o.dir + "/pgdata/" + relpath;
  auto fd = OpenFile(datafile, O_RDONLY);
  Check(fd.status(), "open");
  struct stat st;
  fstat(fd->get(), &st);
  const uint32_t nblocks = static_cast<uint32_t>(st.st_size / kPageSize);
  if (nblocks >= BlocksPerSegment()) Die("use a scale whose pgbench_accounts fits one 1 GB segment");
  std::vector<uint32_t> blocks(nblocks);
  for (uint32_t i = 0; i < nblocks; ++i) blocks[i] = i;
  std::shuffle(blocks.begin(), blocks.end(), std::mt19937(42));

  const pageserver::RepoLayout layout{o.dir + "/.zenith"};
  const std::string main_id = ReadFileToString(layout.branch_ref("main")).value().substr(0, 32);
  const std::string layers = layout.timelines_dir() + "/" + main_id + "/layers";
  uint64_t layer_bytes = 0;
  const auto layer_names = ListDirectory(layers).value();
  for (const auto& name : layer_names) {
    struct stat ls;
    if (stat((layers + "/" + name).c_str(), &ls) == 0) layer_bytes += static_cast<uint64_t>(ls.st_size);
  }
  std::printf("repository %s: layers %.0f MB; pgbench_accounts (%s): %u pages, each read once per run, random order\n",
              layout.root.c_str(), static_cast<double>(layer_bytes) / 1e6, relpath.c_str(), nblocks);
  std::printf("%-26s %5s %11s %9s %9s %10s %13s %9s\n", "", "depth", "pages/s", "p50 us", "p99 us", "server s",
              "pages/s/core", "maj.flt");

  // LSN: main's end of WAL, i.e. layer 0.
  Lsn lsn;
  {
    Server server(layout.root);
    auto client = pageserver::PageServerClient::Connect(server.conninfo());
    Check(client.status(), "connect");
    auto rows = (*client)->Query("timeline_describe main");
    Check(rows.status(), "timeline_describe");
    lsn = *Lsn::Parse((*rows)[0][4]);
  }

  double warm_rate = 0, pread_warm_rate = 0, cold_rate = 0, pread_cold_rate = 0;
  const int cold_depth = *std::max_element(o.depths.begin(), o.depths.end());
  for (int depth : {1, cold_depth}) {  // cold: a fresh server, the layer out of the page cache
    EvictDirectory(layers);
    Server server(layout.root);
    Figures f = RunGetPage(server, server.conninfo(), seg->tag, blocks, lsn, depth, fd->get());
    if (depth == cold_depth) cold_rate = static_cast<double>(blocks.size()) / f.seconds;
    Print("zenith cold (layer file)", depth, f);
  }
  {
    Server server(layout.root);
    RunGetPage(server, server.conninfo(), seg->tag, blocks, lsn, 64, fd->get());  // warms the page cache and the mapping
    std::vector<uint32_t> repeated;
    for (int pass = 0; pass < o.passes; ++pass) repeated.insert(repeated.end(), blocks.begin(), blocks.end());
    for (int depth : o.depths) {
      Figures f = RunGetPage(server, server.conninfo(), seg->tag, repeated, lsn, depth, fd->get());
      if (depth == cold_depth) warm_rate = static_cast<double>(repeated.size()) / f.seconds;
      Print("zenith warm (in memory)", depth, f);
    }
  }
  {
    const std::string tcp = ListenOnTcp(layout);
    Server server(layout.root);
    RunGetPage(server, server.conninfo(), seg->tag, blocks, lsn, 64, fd->get());  // warm again
    const std::string tls = tcp + " sslmode=verify-full channel_binding=require sslrootcert=" + layout.ca_cert();
    for (const auto& [name, conninfo] : std::vector<std::pair<std::string, std::string>>{
             {"warm, unix socket", server.conninfo()}, {"warm, plain TCP", tcp + " sslmode=disable"}, {"warm, TLS", tls}}) {
      for (int depth : {1, 8}) Print(name, depth, RunGetPage(server, conninfo, seg->tag, blocks, lsn, depth, fd->get()));
    }
  }
  Check(Evict(datafile), "evict " + datafile);
  Figures cold = RunPread(fd->get(), blocks);
  pread_cold_rate = static_cast<double>(blocks.size()) / cold.seconds;
  Print("pread cold (datadir)", 1, cold);
  Figures warm = RunPread(fd->get(), blocks);
  pread_warm_rate = static_cast<double>(blocks.size()) / warm.seconds;
  Print("pread warm (datadir)", 1, warm);
  std::printf("zenith / pread throughput at depth %d: warm %.2f, cold %.2f\n", cold_depth, warm_rate / pread_warm_rate,
              cold_rate / pread_cold_rate);
  return 0;
}

}  // namespace
}  // namespace zenith::bench

int main(int argc, char** argv) { return zenith::bench::Main(argc, argv); }
