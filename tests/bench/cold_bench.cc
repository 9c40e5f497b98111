// cold_bench: the figures of issue 11, a fresh mount's first minute against
// a local data directory of the same database, in one run.
//
// A branch holds a pgbench database (--scale, default 70: pgbench_accounts
// about 0.9 GB); a plain local copy of it is the "local" side. "Cold" for
// zenith: a new mount right after the page server was restarted with its
// layer files evicted from the page cache; for local: a fresh start with
// the copy's files evicted (posix_fadvise; dropping every cache needs root).
//   pgbench -S, first --seconds after a start: zenith cold (with and
//       without prewarming, ZENITH_FS_PREWARM), local cold, and local warm
//       (after a warm-up): goals >= 1.0 of cold, >= 0.8 of warm;
//   pgbench -S warm (the next --seconds on the same servers);
//   a full scan of pgbench_accounts, cold on both: goal >= 0.8 of local
//       (as time ratio local / zenith). The machine's disk is noisy, so
//       --scan-rounds rounds alternate a local and a zenith scan (not
//       prewarming) and the medians are compared; the same rounds give
//       zenith over the page server's socket (ZENITH_FS_LOCAL_LAYERS=0),
//       as a remote mount reads, and a fresh mount whose layer files are in
//       the page cache (a branch of a repository in use: what reading
//       through FUSE costs without the disk); once more while prewarming;
//   page reads with 1, 4 and 8 mounts reading at once, p50/p99, from layer
//       files in the page cache: as a local
//       mount reads (fs::LocalLayerSource on the layer files of its
//       branch's snapshot, one per thread) and as a remote one does
//       (GetPage@LSN, one pagestream each, one request in flight); random
//       blocks of pgbench_accounts on a branch each: goals p50 <= 30 us and
//       p99 <= 200 us at 8.
//
// Usage (as an unprivileged user; PostgreSQL refuses root):
//   build/bench/bench_cold_bench [--scale 70] [--seconds 20] [--clients 2] [--scan-rounds 5]
// A quick run: --scale 5 --seconds 5
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>
#include <algorithm>
#include <atomic>
#include <functional>
#include <memory>
#include <cstdio>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/file_util.h"
#include "common/relation_path.h"
#include "common/status.h"
#include "fs/local_layer_source.h"
#include "pageserver/api/page_protocol.h"
#include "pageserver/client/page_client.h"
#include "pageserver/client/repo_client.h"
#include "tests/bench/bench_support.h"
#include "tests/harness/temp_dir.h"
#include "tests/harness/test_env.h"
#include "tests/harness/zenith_env.h"

namespace zenith::bench {
namespace {

using testing::RunResult;

struct Options {
  std::string base_dir = "/var/tmp";
  int scale = 70;
  int seconds = 20;
  int clients = 2;
  int getpage_seconds = 5;
  int scan_rounds = 5;
  ServerSettings settings;
  bool keep = false;
};

struct Figures {
  double first_zenith = 0, first_local_cold = 0, warm_local = 0, warm_zenith = 0;
  std::vector<double> scans_zenith, scans_local, scans_socket, scans_layers_in_memory;  // one per round
  double scan_zenith_prewarming = 0;
  double first_zenith_no_prewarm = 0;
  // p50, p99 in us for 1, 4, 8 readers: a local mount's, a remote one's
  std::vector<std::pair<double, double>> reads_local, reads_socket;
  std::string fs_summary;
};

constexpr int kPort = 5432;
constexpr int kGetPageClients[] = {1, 4, 8};

class ColdBench {
 public:
  explicit ColdBench(Options opt) : opt_(std::move(opt)), env_(dir_) {}
  Status Run();

 private:
  Status Zenith(const std::vector<std::string>& args) const {
    RunResult r = env_.Zenith(args);
    if (!r.ok()) return Internal("zenith " + args[0] + " failed: " + r.Describe());
    return Status::Ok();
  }
  std::string Local() const { return dir_.Sub("local"); }
  Status Build();
  Status ColdPageServer();
  Result<double> PgbenchSelect(const Server& pg) const {
    return pg.Pgbench({"-n", "-S", "-c", std::to_string(opt_.clients), "-j", std::to_string(opt_.clients)}, opt_.seconds);
  }
  Result<double> Scan(const Server& pg) const;
  Status FirstSeconds(bool prewarm, double* first, double* warm);
  enum class Layers { kCold, kInMemory };
  Result<double> ScanOnMount(bool local_layers, bool prewarm, Layers layers = Layers::kCold);
  Result<double> ScanLocal();
  Status MeasureZenith(Figures* f);
  Status MeasureLocal(Figures* f);
  Status MeasureGetPage(Figures* f);
  void Print(const Figures& f) const;

  const Options opt_;
  testing::TempDir dir_{"zenith-cold-bench"};
  testing::ZenithEnv env_;
  std::string accounts_path_;  // pgbench_accounts' first segment, datadir-relative
};

Status ColdBench::Build() {
  ZENITH_RETURN_IF_ERROR(Zenith({"init"}));
  ZENITH_RETURN_IF_ERROR(Zenith({"branch", "bench", "main"}));
  const std::string mnt = dir_.Sub("build");
  ZENITH_RETURN_IF_ERROR(Zenith({"mount", "bench", mnt}));
  Server pg(opt_.settings, mnt, dir_.path(), kPort);
  ZENITH_RETURN_IF_ERROR(pg.Start());
  ZENITH_RETURN_IF_ERROR(pg.Pgbench({"-i", "-q", "-s", std::to_string(opt_.scale)}, 0).status());
  ZENITH_ASSIGN_OR_RETURN(accounts_path_, pg.Query("select pg_relation_filepath('pgbench_accounts')"));
  ZENITH_RETURN_IF_ERROR(pg.Stop());
  ZENITH_RETURN_IF_ERROR(CopyOut(mnt, Local()));
  ZENITH_RETURN_IF_ERROR(Zenith({"umount", mnt}));
  ZENITH_RETURN_IF_ERROR(RemoveTree(mnt));
  for (int i = 0; i < 8; ++i) ZENITH_RETURN_IF_ERROR(Zenith({"branch", "g" + std::to_string(i), "bench"}));
  return Status::Ok();
}

// The page server restarted with nothing of its layers in the page cache.
Status ColdBench::ColdPageServer() {
  ZENITH_RETURN_IF_ERROR(Zenith({"pageserver", "stop"}));
  ZENITH_RETURN_IF_ERROR(Sync());
  ZENITH_RETURN_IF_ERROR(EvictTree(env_.repo() + "/timelines"));
  return Zenith({"pageserver", "start"});
}

// A sequential scan of the whole table (count(*) alone would read only the
// primary key's index).
Result<double> ColdBench::Scan(const Server& pg) const {
  const auto t0 = Clock::now();
  ZENITH_RETURN_IF_ERROR(pg.Query("select sum(abalance) from pgbench_accounts").status());
  return Since(t0);
}

// The first seconds of pgbench -S on a fresh mount, with `prewarm` on or
// off (ZENITH_FS_PREWARM), then the next seconds (warm).
Status ColdBench::FirstSeconds(bool prewarm, double* first, double* warm) {
  const std::string mnt = dir_.Sub("mnt");
  env_.SetEnv("ZENITH_FS_PREWARM", prewarm ? "1" : "0");
  ZENITH_RETURN_IF_ERROR(ColdPageServer());
  ZENITH_RETURN_IF_ERROR(Zenith({"mount", "bench", mnt}));
  Server pg(opt_.settings, mnt, dir_.path(), kPort);
  ZENITH_RETURN_IF_ERROR(pg.Start());
  ZENITH_ASSIGN_OR_RETURN(*first, PgbenchSelect(pg));
  if (warm != nullptr) {
    ZENITH_ASSIGN_OR_RETURN(*warm, PgbenchSelect(pg));
  }
  ZENITH_RETURN_IF_ERROR(pg.Stop());
  return Zenith({"umount", mnt});
}

// A scan on a fresh mount reading the layer files itself or over the
// socket, prewarming or not, with the page server's layer files cold or
// read into the page cache just before (the mount's own cache is empty).
Result<double> ColdBench::ScanOnMount(bool local_layers, bool prewarm, Layers layers) {
  const std::string mnt = dir_.Sub("mnt");
  env_.SetEnv("ZENITH_FS_LOCAL_LAYERS", local_layers ? "1" : "0");
  env_.SetEnv("ZENITH_FS_PREWARM", prewarm ? "1" : "0");
  ZENITH_RETURN_IF_ERROR(ColdPageServer());
  if (layers == Layers::kInMemory) ZENITH_RETURN_IF_ERROR(ReadTree(env_.repo() + "/timelines"));
  ZENITH_RETURN_IF_ERROR(Zenith({"mount", "bench", mnt}));
  Server pg(opt_.settings, mnt, dir_.path(), kPort);
  ZENITH_RETURN_IF_ERROR(pg.Start());
  auto scan = Scan(pg);
  ZENITH_RETURN_IF_ERROR(pg.Stop());
  ZENITH_RETURN_IF_ERROR(Zenith({"umount", mnt}));
  env_.SetEnv("ZENITH_FS_LOCAL_LAYERS", "1");
  env_.SetEnv("ZENITH_FS_PREWARM", "1");
  return scan;
}

// A cold scan of the local copy (a fresh start, its files evicted).
Result<double> ColdBench::ScanLocal() {
  Server pg(opt_.settings, Local(), dir_.path(), kPort);
  ZENITH_RETURN_IF_ERROR(Sync());
  ZENITH_RETURN_IF_ERROR(EvictTree(Local()));
  ZENITH_RETURN_IF_ERROR(pg.Start());
  auto scan = Scan(pg);
  ZENITH_RETURN_IF_ERROR(pg.Stop());
  return scan;
}

// Every mount after Build has the whole database in its hot list (pgbench -i
// wrote it all), as the mount after a loading job would.
Status ColdBench::MeasureZenith(Figures* f) {
  ZENITH_RETURN_IF_ERROR(FirstSeconds(/*prewarm=*/true, &f->first_zenith, &f->warm_zenith));
  ZENITH_RETURN_IF_ERROR(FirstSeconds(/*prewarm=*/false, &f->first_zenith_no_prewarm, nullptr));
  for (int round = 0; round < opt_.scan_rounds; ++round) {
    ZENITH_ASSIGN_OR_RETURN(double local, ScanLocal());
    ZENITH_ASSIGN_OR_RETURN(double zenith, ScanOnMount(/*local_layers=*/true, /*prewarm=*/false));
    ZENITH_ASSIGN_OR_RETURN(double socket, ScanOnMount(/*local_layers=*/false, /*prewarm=*/false));
    ZENITH_ASSIGN_OR_RETURN(double in_memory, ScanOnMount(/*local_layers=*/true, /*prewarm=*/false, Layers::kInMemory));
    std::printf("cold scan round %d: local %.3f s, zenith %.3f s, over the socket %.3f s, layer files in memory %.3f s\n",
                round + 1, local, zenith, socket, in_memory);
    std::fflush(stdout);
    f->scans_layers_in_memory.push_back(in_memory);
    f->scans_local.push_back(local);
    f->scans_zenith.push_back(zenith);
    f->scans_socket.push_back(socket);
  }
  ZENITH_ASSIGN_OR_RETURN(f->scan_zenith_prewarming, ScanOnMount(/*local_layers=*/true, /*prewarm=*/true));
  return Status::Ok();
}

Status ColdBench::MeasureLocal(Figures* f) {
  Server pg(opt_.settings, Local(), dir_.path(), kPort);
  ZENITH_RETURN_IF_ERROR(Sync());
  ZENITH_RETURN_IF_ERROR(EvictTree(Local()));
  ZENITH_RETURN_IF_ERROR(pg.Start());
  ZENITH_ASSIGN_OR_RETURN(f->first_local_cold, PgbenchSelect(pg));
  ZENITH_ASSIGN_OR_RETURN(f->warm_local, PgbenchSelect(pg));
  return pg.Stop();
}

// One mount's reader of pgbench_accounts on its own branch: `read` fills a
// page with a block; `keep` holds what it reads through.
struct BlockReader {
  uint32_t nblocks = 0;
  std::function<Status(uint32_t block, std::span<uint8_t> page)> read;
  std::shared_ptr<void> keep;
};
using ReaderOpener = std::function<Result<BlockReader>(const std::string& branch)>;

// `readers` threads, each with the reader `open` gives for branch g<i>,
// reading random blocks one at a time; p50 and p99 of all calls, in us.
Result<std::pair<double, double>> ReadRound(int readers, int seconds, const ReaderOpener& open) {
  std::vector<std::vector<double>> us(static_cast<size_t>(readers));
  std::vector<Status> errors(static_cast<size_t>(readers));
  std::vector<std::thread> threads;
  for (int c = 0; c < readers; ++c) {
    threads.emplace_back([&, c] {
      errors[c] = [&]() -> Status {
        ZENITH_ASSIGN_OR_RETURN(BlockReader reader, open("g" + std::to_string(c)));
        if (reader.nblocks == 0) return NotFound("pgbench_accounts is empty");
        std::mt19937 rng(static_cast<unsigned>(c + 1));
        std::vector<uint8_t> page(pageserver::kPageSize);
        const auto end = Clock::now() + std::chrono::seconds(seconds);
        while (Clock::now() < end) {
          const uint32_t b = rng() % reader.nblocks;
          const auto t0 = Clock::now();
          ZENITH_RETURN_IF_ERROR(reader.read(b, page));
          us[c].push_back(Since(t0) * 1e6);
        }
        return Status::Ok();
      }();
    });
  }
  for (auto& t : threads) t.join();
  std::vector<double> all;
  for (int c = 0; c < readers; ++c) {
    ZENITH_RETURN_IF_ERROR(errors[c]);
    all.insert(all.end(), us[c].begin(), us[c].end());
  }
  return std::make_pair(Percentile(all, 0.5), Percentile(all, 0.99));
}

// As a remote mount reads: GetPage@LSN on a pagestream, one request in flight.
ReaderOpener OverTheSocket(const std::string& conninfo, const RelTag& rel) {
  return [conninfo, rel](const std::string& branch) -> Result<BlockReader> {
    ZENITH_ASSIGN_OR_RETURN(auto client, pageserver::RepoClient::Connect(conninfo));
    ZENITH_ASSIGN_OR_RETURN(auto described, client.DescribeTimeline(branch));
    const Lsn lsn = described.end_of_wal;
    ZENITH_ASSIGN_OR_RETURN(std::shared_ptr<pageserver::PageStream> stream, pageserver::PageStream::Open(conninfo, branch));
    ZENITH_ASSIGN_OR_RETURN(uint32_t nblocks, stream->Nblocks(rel, lsn));
    auto read = [stream, rel, lsn](uint32_t b, std::span<uint8_t> page) {
      return stream->GetPages(rel, std::span(&b, 1), lsn, page);
    };
    return BlockReader{nblocks, read, stream};
  };
}

// Never used: a LocalLayerSource that had to fall back would fail the round.
class NoFallback : public fs::PageSource {
 public:
  Status GetPages(const RelTag&, std::span<const uint32_t>, std::span<uint8_t>) override {
    return Internal("the layer files were not open");
  }
};

// As a local mount reads: its snapshot's layer files (fs/local_layer_source.h).
ReaderOpener FromTheLayerFiles(const std::string& conninfo, const RelTag& rel) {
  return [conninfo, rel](const std::string& branch) -> Result<BlockReader> {
    ZENITH_ASSIGN_OR_RETURN(auto client, pageserver::RepoClient::Connect(conninfo));
    // The newest snapshot the branch sees (its parent's, at first): where a mount reads.
    ZENITH_ASSIGN_OR_RETURN(auto snapshots, client.ListSnapshots(branch));
    Lsn lsn;
    for (const auto& snap : snapshots) lsn = std::max(lsn, snap.valid);
    ZENITH_ASSIGN_OR_RETURN(auto files, client.LayerFiles(branch, lsn));
    ZENITH_ASSIGN_OR_RETURN(auto view, fs::OpenLayerView(files, lsn));
    static NoFallback none;
    auto source = std::make_shared<fs::LocalLayerSource>(
        none, [view](Lsn) -> Result<std::shared_ptr<const pageserver::SnapshotView>> { return view; }, lsn);
    if (!source->WaitLoaded()) return Internal("the layer files of " + branch + " did not open");
    auto read = [source, rel](uint32_t b, std::span<uint8_t> page) {
      return source->GetPages(rel, std::span(&b, 1), page);
    };
    return BlockReader{view->RelationSize(rel).value_or(0), read, source};
  };
}

// The serving path: the layer files as the scans before left them (in the
// page cache), as in the earlier runs of this benchmark.
Status ColdBench::MeasureGetPage(Figures* f) {
  auto seg = ParseRelationPath(accounts_path_);
  if (!seg) return Internal("not a relation path: " + accounts_path_);
  const std::string conninfo = pageserver::PageServerConnString(env_.repo(), 64000);
  for (int readers : kGetPageClients) {
    ZENITH_ASSIGN_OR_RETURN(auto local, ReadRound(readers, opt_.getpage_seconds, FromTheLayerFiles(conninfo, seg->tag)));
    f->reads_local.push_back(local);
    ZENITH_ASSIGN_OR_RETURN(auto socket, ReadRound(readers, opt_.getpage_seconds, OverTheSocket(conninfo, seg->tag)));
    f->reads_socket.push_back(socket);
  }
  return Status::Ok();
}

void Row(const std::string& figure, const std::string& zenith, const std::string& local, double ratio,
         const char* goal) {
  std::printf("%-44s %12s %12s %8.2f  %s\n", figure.c_str(), zenith.c_str(), local.c_str(), ratio, goal);
}

void ColdBench::Print(const Figures& f) const {
  std::printf("\n%-44s %12s %12s %8s  %s\n", "figure", "zenith", "local", "ratio", "goal");
  const std::string first = "pgbench -S TPS, first " + std::to_string(opt_.seconds) + " s";
  Row(first + " vs warm local", Fixed(f.first_zenith, "", 0), Fixed(f.warm_local, "", 0), f.first_zenith / f.warm_local,
      ">= 0.8");
  Row(first + " vs cold local", Fixed(f.first_zenith, "", 0), Fixed(f.first_local_cold, "", 0),
      f.first_zenith / f.first_local_cold, ">= 1.0");
  Row(first + ", no prewarming, vs cold local", Fixed(f.first_zenith_no_prewarm, "", 0),
      Fixed(f.first_local_cold, "", 0), f.first_zenith_no_prewarm / f.first_local_cold, "");
  Row("pgbench -S TPS, warm (next " + std::to_string(opt_.seconds) + " s)", Fixed(f.warm_zenith, "", 0),
      Fixed(f.warm_local, "", 0), f.warm_zenith / f.warm_local, "no worse");
  const double local = Median(f.scans_local), zenith = Median(f.scans_zenith), socket = Median(f.scans_socket);
  Row("cold scan of pgbench_accounts (median time)", Fixed(zenith, " s"), Fixed(local, " s"), local / zenith,
      ">= 0.8 (local/zenith)");
  Row("... over the page server's socket (median)", Fixed(socket, " s"), Fixed(local, " s"), local / socket, "");
  const double in_memory = Median(f.scans_layers_in_memory);
  Row("... the layer files in memory, a fresh mount (median)", Fixed(in_memory, " s"), Fixed(local, " s"),
      local / in_memory, "");
  Row("... while prewarming the database (once)", Fixed(f.scan_zenith_prewarming, " s"), Fixed(local, " s"),
      local / f.scan_zenith_prewarming, "");
  for (size_t i = 0; i < f.reads_local.size(); ++i) {
    std::printf("page reads, %d mount(s) at once: local mount p50 %.1f us, p99 %.1f us; over the socket p50 %.0f us, "
                "p99 %.0f us%s\n",
                kGetPageClients[i], f.reads_local[i].first, f.reads_local[i].second, f.reads_socket[i].first,
                f.reads_socket[i].second, kGetPageClients[i] == 8 ? " (goals: 30 / 200 us)" : "");
  }
  std::printf("pgbench scale %d, %d clients; shared_buffers %s; load average %s\n", opt_.scale, opt_.clients,
              opt_.settings.shared_buffers.c_str(), LoadAverage().c_str());
}

Status ColdBench::Run() {
  std::printf("zenith cold-read benchmark in %s (load average %s)\n", dir_.path().c_str(), LoadAverage().c_str());
  std::fflush(stdout);
  ZENITH_RETURN_IF_ERROR(Build());
  Figures f;
  ZENITH_RETURN_IF_ERROR(MeasureZenith(&f));
  ZENITH_RETURN_IF_ERROR(MeasureLocal(&f));
  ZENITH_RETURN_IF_ERROR(MeasureGetPage(&f));
  Print(f);
  return Status::Ok();
}

}  // namespace
}  // namespace zenith::bench

int main(int argc, char** argv) {
  using namespace zenith::bench;
  CLI::App app{"zenith cold-read benchmark: a fresh mount's first minute vs a local data directory"};
  Options opt;
  app.add_option("--dir", opt.base_dir, "where the run's directory is made");
  app.add_option("--scale", opt.scale, "pgbench scale (70: pgbench_accounts about 0.9 GB)");
  app.add_option("--seconds", opt.seconds, "seconds of each pgbench -S run");
  app.add_option("--clients", opt.clients, "pgbench clients");
  app.add_option("--getpage-seconds", opt.getpage_seconds, "seconds of each GetPage round");
  app.add_option("--scan-rounds", opt.scan_rounds, "rounds of cold scans (local, zenith, over the socket)");
  app.add_flag("--keep", opt.keep, "keep the run's directory");
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::warn);  // not a line per view the local reads open
  return RunBenchmark("cold_bench", opt.base_dir, opt.keep, [&] { return ColdBench(opt).Run(); });
}
