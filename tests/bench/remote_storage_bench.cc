// remote_storage_bench: object storage figures (docs/design.md §12), side by
// side in one run against the same S3 service (the RGW of
// mount_helpers/ceph-rgw.sh, or any other):
//   - upload: a pgbench database imported with `zenith init --from-datadir
//     --remote`, then the page server started and `zenith remote sync`:
//     bytes per second of its layers and WAL, against `s3cmd put
//     --recursive` of the same files to the same bucket;
//   - attach: `zenith attach` into an empty directory, a mount, PostgreSQL
//     started and its first query answered, against `s3cmd get --recursive`
//     of the same objects; with the bytes of layers the page server read
//     from the bucket before that answer (its metrics);
//   - cold GetPage: pages of pgbench_accounts at 1 and 8 readers, from the
//     bucket (a page server just started on the attached repository)
//     against from the local layer file (the imported one, page cache
//     dropped), p50/p99.
// The S3 settings come from the file ZENITH_TEST_S3_ENV names (what
// ceph-rgw.sh prints); s3cmd gets them in a 0600 config file, never on its
// command line.
//
// Usage (as an unprivileged user; PostgreSQL refuses root):
//   ZENITH_TEST_S3_ENV=DIR/s3.env build/bench/bench_remote_storage_bench
//       [--scale 70] [--dir /var/tmp]
// scale 70 is about 1 GB. A quick run: --scale 5
#include <libpq-fe.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <random>
#include <thread>
#include <cstdio>
#include <string>
#include <vector>

#include "common/file_util.h"
#include "common/relation_path.h"
#include "pageserver/api/page_protocol.h"
#include "pageserver/api/repo_config.h"
#include "pageserver/api/repo_layout.h"
#include "pageserver/client/page_client.h"
#include "common/status.h"
#include "tests/bench/bench_support.h"
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
  int scale = 70;
  bool keep = false;
};

// zenith_remote_layer_read_bytes_total of the page server whose metrics
// listen at `address`.
Result<double> LayerBytesRead(const std::string& address) {
  RunResult r = testing::RunCommand({"curl", "-sS", "--max-time", "10", "http://" + address + "/metrics"});
  if (!r.ok()) return Internal("scraping the metrics failed: " + r.Describe());
  ZENITH_ASSIGN_OR_RETURN(auto e, testing::ParsePrometheusText(r.out));
  return e.Sum("zenith_remote_layer_read_bytes_total");
}

// The page server of the repository at `root` (started by `zenith`), over
// its Unix socket.
std::string ConnInfoOf(const std::string& root) {
  const pageserver::RepoLayout layout{root};
  auto config = pageserver::RepoConfig::Load(layout.config());
  return pageserver::PageServerConnString(layout.socket_dir(), config.ok() ? config->port : 0);
}

// GetPage of each of `blocks` at `lsn` on one pagestream, one request at a
// time; the latency of each, in microseconds.
Result<std::vector<double>> ReadPages(const std::string& conninfo, const RelTag& rel, Lsn lsn,
                                      const std::vector<uint32_t>& blocks) {
  std::unique_ptr<PGconn, decltype(&PQfinish)> conn(PQconnectdb(conninfo.c_str()), &PQfinish);
  if (PQstatus(conn.get()) != CONNECTION_OK) return Internal(PQerrorMessage(conn.get()));
  PGresult* res = PQexec(conn.get(), "pagestream main");
  const bool streaming = PQresultStatus(res) == PGRES_COPY_BOTH;
  PQclear(res);
  if (!streaming) return Internal(PQerrorMessage(conn.get()));
  std::vector<double> latency_us;
  std::string request;
  for (uint32_t block : blocks) {
    request.clear();
    pageserver::AppendPageRequest(&request, {pageserver::PageRequestKind::kGetPage, lsn, rel, block});
    const auto t0 = Clock::now();
    if (PQputCopyData(conn.get(), request.data(), static_cast<int>(request.size())) != 1 || PQflush(conn.get()) != 0) {
      return Internal(PQerrorMessage(conn.get()));
    }
    char* buf = nullptr;
    const int n = PQgetCopyData(conn.get(), &buf, 0);
    if (n < 0) return Internal(std::string("the stream ended: ") + PQerrorMessage(conn.get()));
    latency_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    auto reply = pageserver::DecodePageReply(std::span(reinterpret_cast<const uint8_t*>(buf), static_cast<size_t>(n)));
    const bool page = reply.ok() && reply->kind == pageserver::PageReplyKind::kPage;
    PQfreemem(buf);
    if (!page) return Internal("no page for block " + std::to_string(block));
  }
  return latency_us;
}

// `sets.size()` readers at once, each on its own connection reading its set.
Result<std::vector<double>> ReadPagesConcurrently(const std::string& conninfo, const RelTag& rel, Lsn lsn,
                                                  const std::vector<std::vector<uint32_t>>& sets, double* seconds) {
  std::vector<Result<std::vector<double>>> got(sets.size(), Internal("not run"));
  const auto t0 = Clock::now();
  {
    std::vector<std::jthread> readers;
    for (size_t i = 0; i < sets.size(); ++i) {
      readers.emplace_back([&, i] { got[i] = ReadPages(conninfo, rel, lsn, sets[i]); });
    }
  }
  *seconds = Since(t0);
  std::vector<double> all;
  for (auto& g : got) {
    ZENITH_RETURN_IF_ERROR(g.status());
    all.insert(all.end(), g->begin(), g->end());
  }
  return all;
}

class RemoteStorageBench {
 public:
  RemoteStorageBench(Options opt, testing::S3TestEnv s3)
      : opt_(std::move(opt)), s3_(std::move(s3)), built_(built_dir_), imported_(imported_dir_), attached_(attached_dir_) {
    for (auto* env : {&imported_, &attached_}) {
      for (const auto& [k, v] : s3_.vars) env->SetEnv(k, v);
    }
  }
  Status Run();

 private:
  static Status Zenith(const testing::ZenithEnv& env, const std::vector<std::string>& args) {
    RunResult r = env.Zenith(args);
    if (!r.ok()) return Internal("zenith " + args[0] + " failed: " + r.Describe());
    return Status::Ok();
  }
  Status BuildDatabase();
  Status WriteS3cmdConfig();
  Result<double> S3cmd(const std::vector<std::string>& args);
  // GetPage of pgbench_accounts pages, each in its own 64 KiB range of the
  // layer, at 1 and 8 readers: from the bucket (the attached repository's
  // page server just restarted, nothing in memory) against from the local
  // layer file (the imported repository's, out of the page cache).
  Status ColdGetPage(const RelTag& rel, uint32_t nblocks);

  const Options opt_;
  const testing::S3TestEnv s3_;
  testing::TempDir built_dir_{"zenith-storage-bench"}, imported_dir_{"zenith-storage-bench"},
      attached_dir_{"zenith-storage-bench"}, s3cmd_dir_{"zenith-storage-bench"};
  testing::ZenithEnv built_, imported_, attached_;
  const std::string prefix_ = testing::S3TestEnv::UniquePrefix();
};

// A plain data directory holding a pgbench database at opt_.scale.
Status RemoteStorageBench::BuildDatabase() {
  ZENITH_RETURN_IF_ERROR(Zenith(built_, {"init"}));
  const std::string mnt = built_dir_.Sub("build");
  ZENITH_RETURN_IF_ERROR(Zenith(built_, {"mount", "main", mnt}));
  Server pg({}, mnt, built_dir_.path(), 5432);
  ZENITH_RETURN_IF_ERROR(pg.Start());
  ZENITH_RETURN_IF_ERROR(pg.Pgbench({"-i", "-q", "-s", std::to_string(opt_.scale)}, 0).status());
  ZENITH_RETURN_IF_ERROR(pg.Stop());
  ZENITH_RETURN_IF_ERROR(CopyOut(mnt, built_dir_.Sub("plain")));
  ZENITH_RETURN_IF_ERROR(Zenith(built_, {"umount", mnt}));
  built_.Zenith({"pageserver", "stop"});  // its CPU is the uploads' from here on
  return Status::Ok();
}

Status RemoteStorageBench::WriteS3cmdConfig() {
  const std::string endpoint = s3_.vars.at("AWS_ENDPOINT_URL");
  const std::string host = endpoint.substr(endpoint.find("://") + 3);
  const std::string config = "[default]\naccess_key = " + s3_.vars.at("AWS_ACCESS_KEY_ID") +
                             "\nsecret_key = " + s3_.vars.at("AWS_SECRET_ACCESS_KEY") + "\nhost_base = " + host +
                             "\nhost_bucket = " + host + "\nuse_https = " +
                             (endpoint.rfind("https", 0) == 0 ? "True" : "False") +
                             "\nsignature_v2 = False\nbucket_location = " + s3_.vars.at("AWS_REGION") + "\n";
  return WriteFileDurably(s3cmd_dir_.Sub("s3cfg"), config, 0600);
}

// s3cmd with the benchmark's config; the seconds it took.
Result<double> RemoteStorageBench::S3cmd(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"s3cmd", "-c", s3cmd_dir_.Sub("s3cfg"), "--no-progress", "--quiet"};
  argv.insert(argv.end(), args.begin(), args.end());
  const auto t0 = Clock::now();
  ZENITH_RETURN_IF_ERROR(MustRun(argv, std::chrono::seconds(3600)).status());
  return Since(t0);
}

Status RemoteStorageBench::Run() {
  const std::string load_at_start = LoadAverage();
  std::printf("zenith object storage benchmark, scale %d (load average %s)\n", opt_.scale, load_at_start.c_str());
  ZENITH_RETURN_IF_ERROR(BuildDatabase());
  ZENITH_RETURN_IF_ERROR(WriteS3cmdConfig());
  const std::string url = "s3://" + s3_.bucket + "/" + prefix_ + "/zenith";

  // Upload: the import's layers and WAL go up once the page server starts.
  ZENITH_RETURN_IF_ERROR(Zenith(imported_, {"init", "--from-datadir", built_dir_.Sub("plain"), "--remote", url}));
  imported_.Zenith({"pageserver", "stop"});  // if init left one running: the clock starts with it
  ZENITH_ASSIGN_OR_RETURN(uint64_t bytes, DiskUsage(imported_.repo() + "/timelines"));
  ZENITH_RETURN_IF_ERROR(Sync());
  auto t0 = Clock::now();
  ZENITH_RETURN_IF_ERROR(Zenith(imported_, {"pageserver", "start"}));
  ZENITH_RETURN_IF_ERROR(Zenith(imported_, {"remote", "sync", "--timeout", "3600"}));
  const double zenith_up = Since(t0);
  ZENITH_RETURN_IF_ERROR(Zenith(imported_, {"pageserver", "stop"}));
  ZENITH_ASSIGN_OR_RETURN(double s3cmd_up, S3cmd({"put", "--recursive", imported_.repo() + "/timelines/",
                                                  "s3://" + s3_.bucket + "/" + prefix_ + "/s3cmd/"}));
  const std::string what = "upload of " + Megabytes(static_cast<double>(bytes));
  std::printf("\n%-28s %12s %12s %8s\n", what.c_str(), "zenith", "s3cmd put", "ratio");
  std::printf("%-28s %10.1f s %10.1f s\n", "time", zenith_up, s3cmd_up);
  std::printf("%-28s %8.1f MB/s %8.1f MB/s %8.2f   (goal >= 0.9)\n", "throughput", bytes / 1e6 / zenith_up,
              bytes / 1e6 / s3cmd_up, s3cmd_up / zenith_up);

  // Attach to the first query, cold: nothing of it on this machine.
  ZENITH_RETURN_IF_ERROR(Sync());
  t0 = Clock::now();
  RunResult attach = attached_.Zenith({"attach", url});
  if (!attach.ok()) return Internal("zenith attach failed: " + attach.Describe());
  const double attach_s = Since(t0);
  // The page server the mount would start, with its metrics: what it read
  // from the bucket before the first answer.
  const std::string metrics = "127.0.0.1:" + std::to_string(testing::FreePort());
  ZENITH_RETURN_IF_ERROR(Zenith(attached_, {"pageserver", "start", "--metrics", metrics}));
  ZENITH_RETURN_IF_ERROR(Zenith(attached_, {"mount", "main", attached_dir_.Sub("main")}));
  Server pg({}, attached_dir_.Sub("main"), attached_dir_.path(), 5433);
  ZENITH_RETURN_IF_ERROR(pg.Start());
  ZENITH_RETURN_IF_ERROR(pg.Query("select count(*) from pgbench_branches").status());
  const double first_query = Since(t0);
  ZENITH_ASSIGN_OR_RETURN(double read_before, LayerBytesRead(metrics));
  ZENITH_ASSIGN_OR_RETURN(std::string accounts,
                          pg.Query("select pg_relation_filepath('pgbench_accounts') || ' ' || "
                                   "pg_relation_size('pgbench_accounts') / 8192"));
  ZENITH_RETURN_IF_ERROR(pg.Stop());
  ZENITH_RETURN_IF_ERROR(Zenith(attached_, {"umount", attached_dir_.Sub("main")}));
  ZENITH_RETURN_IF_ERROR(MakeDirectories(s3cmd_dir_.Sub("got")));
  ZENITH_ASSIGN_OR_RETURN(double s3cmd_down, S3cmd({"get", "--recursive", "s3://" + s3_.bucket + "/" + prefix_ + "/s3cmd/",
                                                    s3cmd_dir_.Sub("got") + "/"}));
  std::printf("\n%-28s %10.1f s   (%s)\n", "zenith attach", attach_s, attach.out.substr(0, attach.out.find('\n')).c_str());
  std::printf("%-28s %10.1f s   (goal < 3 s, < 2%% of the bytes before it)\n", "attach to first query", first_query);
  std::printf("%-28s %10.2f MB   (%.2f%% of the repository's %s)\n", "layer bytes read before it",
              read_before / 1e6, 100.0 * read_before / static_cast<double>(bytes),
              Megabytes(static_cast<double>(bytes)).c_str());
  std::printf("%-28s %10.1f s\n", "s3cmd get of the same", s3cmd_down);

  const std::string relpath = accounts.substr(0, accounts.find(' '));
  const auto seg = ParseRelationPath(relpath);
  if (!seg) return Internal("pgbench_accounts is at \"" + relpath + "\"");
  ZENITH_RETURN_IF_ERROR(ColdGetPage(seg->tag, static_cast<uint32_t>(std::stoul(accounts.substr(accounts.find(' ') + 1)))));
  std::printf("\nload average %s at start, %s at end\n", load_at_start.c_str(), LoadAverage().c_str());
  return DeletePrefix(s3_, prefix_);
}

Status RemoteStorageBench::ColdGetPage(const RelTag& rel, uint32_t nblocks) {
  // One block per 64 KiB range of the layer (8 pages), in random order: no
  // read is served by an earlier one's range.
  std::vector<uint32_t> blocks;
  for (uint32_t b = 3; b < nblocks; b += 8) blocks.push_back(b);
  std::shuffle(blocks.begin(), blocks.end(), std::mt19937(7));
  constexpr size_t kOne = 400, kEach = 100;
  if (blocks.size() < kOne + 8 * kEach) return Internal("pgbench_accounts is too small for the GetPage figures");
  std::vector<std::vector<uint32_t>> one = {{blocks.begin(), blocks.begin() + kOne}};
  std::vector<std::vector<uint32_t>> eight;
  for (size_t r = 0; r < 8; ++r) {
    const auto first = blocks.begin() + static_cast<std::ptrdiff_t>(kOne + r * kEach);
    eight.emplace_back(first, first + kEach);
  }
  // The LSN of the imported snapshot, which both repositories hold.
  ZENITH_RETURN_IF_ERROR(Zenith(imported_, {"pageserver", "start"}));
  ZENITH_ASSIGN_OR_RETURN(auto client, pageserver::PageServerClient::Connect(ConnInfoOf(imported_.repo())));
  ZENITH_ASSIGN_OR_RETURN(auto rows, client->Query("timeline_describe main"));
  client.reset();
  const auto lsn = Lsn::Parse(rows.at(0).at(5));
  if (!lsn) return Internal("timeline_describe gave no snapshot LSN");

  std::printf("\n%-34s %8s %8s %10s %10s\n", "cold GetPage (pgbench_accounts)", "readers", "pages/s", "p50 ms",
              "p99 ms");
  struct Row {
    std::string what;
    testing::ZenithEnv* env;
  };
  std::vector<double> p50(4);
  int k = 0;
  for (const Row& row : {Row{"local layer file (page cache cold)", &imported_}, Row{"bucket (nothing cached)", &attached_}}) {
    for (const auto* sets : {&one, &eight}) {
      // A fresh page server each time: nothing mapped or in memory.
      row.env->Zenith({"pageserver", "stop"});
      ZENITH_RETURN_IF_ERROR(Sync());
      ZENITH_RETURN_IF_ERROR(EvictTree(row.env->repo() + "/timelines"));
      ZENITH_RETURN_IF_ERROR(Zenith(*row.env, {"pageserver", "start"}));
      double seconds = 0;
      ZENITH_ASSIGN_OR_RETURN(auto latency, ReadPagesConcurrently(ConnInfoOf(row.env->repo()), rel, *lsn, *sets, &seconds));
      p50[k++] = Percentile(latency, 0.5);
      std::printf("%-34s %8zu %8.0f %10.2f %10.2f\n", row.what.c_str(), sets->size(),
                  static_cast<double>(latency.size()) / seconds, Percentile(latency, 0.5) / 1000,
                  Percentile(latency, 0.99) / 1000);
    }
  }
  std::printf("%-34s p50 from the bucket / from the local file: %.1fx at 1 reader, %.1fx at 8\n", "", p50[2] / p50[0],
              p50[3] / p50[1]);
  imported_.Zenith({"pageserver", "stop"});
  attached_.Zenith({"pageserver", "stop"});
  return Status::Ok();
}

}  // namespace
}  // namespace zenith::bench

int main(int argc, char** argv) {
  using namespace zenith::bench;
  CLI::App app{"zenith object storage benchmark: uploads and attach against s3cmd on the same S3 service"};
  Options opt;
  app.add_option("--dir", opt.base_dir, "where the run's directories are made");
  app.add_option("--scale", opt.scale, "pgbench scale (70: about 1 GB)");
  app.add_flag("--keep", opt.keep, "keep the run's directories");
  CLI11_PARSE(app, argc, argv);
  std::string why;
  auto s3 = zenith::testing::LoadS3TestEnv(&why);
  if (!s3) {
    std::fprintf(stderr, "remote_storage_bench: no S3 service: %s (set ZENITH_TEST_S3_ENV to ceph-rgw.sh's s3.env)\n",
                 why.c_str());
    return 2;
  }
  return RunBenchmark("remote_storage_bench", opt.base_dir, opt.keep,
                      [&] { return RemoteStorageBench(opt, *s3).Run(); });
}
