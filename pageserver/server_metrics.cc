#include "pageserver/server_metrics.h"

#include <array>
#include <string>

#include "common/metrics.h"
#include "pageserver/repository.h"
#include "pageserver/timeline.h"

namespace zenith::pageserver {

namespace {

using metrics::Counter;
using metrics::Global;
using metrics::Histogram;

const char* KindName(PageRequestKind kind) {
  switch (kind) {
    case PageRequestKind::kGetPage: return "getpage";
    case PageRequestKind::kNblocks: return "nblocks";
    case PageRequestKind::kExists: return "exists";
  }
  return "unknown";
}

struct PageRequestMetrics {
  Counter* requests[3][2];  // kind - 1, ok
  Histogram* latency[3];
  Counter* pages;
  Counter* bytes;
};

const PageRequestMetrics& PageMetrics() {
  static const PageRequestMetrics m = [] {
    PageRequestMetrics r{};
    for (auto kind : {PageRequestKind::kExists, PageRequestKind::kNblocks, PageRequestKind::kGetPage}) {
      const int i = static_cast<int>(kind) - 1;
      for (int ok = 0; ok < 2; ++ok) {
        r.requests[i][ok] = &Global().GetCounter("zenith_page_requests_total",
                                                 "Requests of pagestreams served, by kind and result.",
                                                 {{"kind", KindName(kind)}, {"result", ok ? "ok" : "error"}});
      }
      r.latency[i] = &Global().GetHistogram("zenith_page_request_duration_seconds",
                                            "Time to serve a pagestream request, from decoding to the reply.",
                                            {{"kind", KindName(kind)}});
    }
    r.pages = &Global().GetCounter("zenith_pages_served_total", "Pages sent in answer to GetPage@LSN.");
    r.bytes = &Global().GetCounter("zenith_page_bytes_served_total", "Bytes sent in answer to pagestream requests.");
    return r;
  }();
  return m;
}

struct HistoryMetrics {
  Counter* runs[2][2];  // compaction|gc, ok
  Histogram* duration[2];
};

const HistoryMetrics& RunMetrics() {
  static const HistoryMetrics m = [] {
    HistoryMetrics r{};
    const char* names[2] = {"compaction", "gc"};
    for (int w = 0; w < 2; ++w) {
      for (int ok = 0; ok < 2; ++ok) {
        r.runs[w][ok] = &Global().GetCounter("zenith_history_runs_total",
                                             "Compaction and garbage collection runs, by kind and result.",
                                             {{"kind", names[w]}, {"result", ok ? "ok" : "error"}});
      }
      r.duration[w] = &Global().GetHistogram("zenith_history_run_duration_seconds",
                                             "Duration of compaction and garbage collection runs.",
                                             {{"kind", names[w]}}, {0.01, 0.1, 0.5, 1, 5, 15, 60, 300, 1800});
    }
    return r;
  }();
  return m;
}

// Every mount's own figures, as it last reported them (MountStats), and how
// many mounts there are.
std::vector<metrics::CollectedFamily> CollectMounts(const Repository& repo) {
  using metrics::Type;
  metrics::CollectedFamily pages{"zenith_mount_pages_read_total",
                                 "Relation pages a mount read, by source: its scratch (pages written there), the "
                                 "snapshot's layer files on this machine, or fetched with GetPage@LSN.",
                                 Type::kCounter, {}};
  metrics::CollectedFamily uploads{"zenith_mount_snapshot_uploads_total",
                                   "Snapshots a mount stored after its checkpoints, by result.", Type::kCounter, {}};
  metrics::CollectedFamily upload_time{"zenith_mount_snapshot_upload_seconds_total",
                                       "Time a mount spent storing snapshots, every attempt.", Type::kCounter, {}};
  metrics::CollectedFamily count{"zenith_mounts", "Mounts registered now, by mode.", Type::kGauge, {}};
  double mounts[2] = {0, 0};  // read-write, read-only
  for (const MountInfo& m : repo.Mounts()) {
    mounts[m.read_only ? 1 : 0] += 1;
    const metrics::Labels labels = {{"timeline", m.timeline.ToString()}, {"branch", m.branch},
                                    {"mountpoint", m.mountpoint}, {"mode", m.read_only ? "read-only" : "read-write"}};
    auto with = [&labels](const char* name, const char* value) {
      metrics::Labels l = labels;
      l[name] = value;
      return l;
    };
    const MountStats& s = m.stats;
    pages.samples.push_back({with("source", "scratch"), static_cast<double>(s.pages_scratch)});
    pages.samples.push_back({with("source", "layers"), static_cast<double>(s.pages_layers)});
    pages.samples.push_back({with("source", "fetched"), static_cast<double>(s.pages_fetched)});
    uploads.samples.push_back({with("result", "ok"), static_cast<double>(s.snapshot_uploads)});
    uploads.samples.push_back({with("result", "error"), static_cast<double>(s.snapshot_upload_failures)});
    upload_time.samples.push_back({labels, static_cast<double>(s.snapshot_upload_micros) / 1e6});
  }
  count.samples.push_back({{{"mode", "read-write"}}, mounts[0]});
  count.samples.push_back({{{"mode", "read-only"}}, mounts[1]});
  return {pages, uploads, upload_time, count};
}

std::vector<metrics::CollectedFamily> CollectRepository(Repository& repo) {
  metrics::CollectedFamily layers{"zenith_timeline_layers", "Layer files a timeline owns.", metrics::Type::kGauge, {}};
  metrics::CollectedFamily bytes{"zenith_timeline_layer_bytes", "Bytes of the layer files a timeline owns.",
                                 metrics::Type::kGauge, {}};
  metrics::CollectedFamily end{"zenith_timeline_end_of_wal_lsn",
                               "A timeline's end of WAL, as a byte position (PostgreSQL's LSN as a number).",
                               metrics::Type::kGauge, {}};
  auto all = repo.AllTimelines();
  if (!all.ok()) return {};
  for (const auto& tl : all->live) {
    const metrics::Labels labels = {{"timeline", tl->id().ToString()}, {"branch", repo.BranchOf(tl->id())}};
    uint64_t size = 0;
    auto own = tl->OwnLayers();
    for (const auto& layer : own) size += layer->file_size();
    layers.samples.push_back({labels, static_cast<double>(own.size())});
    bytes.samples.push_back({labels, static_cast<double>(size)});
    if (auto wal_end = tl->EndOfWal(); wal_end.ok()) end.samples.push_back({labels, static_cast<double>(wal_end->value)});
  }
  std::vector<metrics::CollectedFamily> out = {layers, bytes, end};
  for (auto& family : CollectMounts(repo)) out.push_back(std::move(family));
  return out;
}

Counter& WalReceived() {
  static Counter& received = Global().GetCounter("zenith_wal_received_bytes_total",
                                                 "WAL bytes computes streamed to the page server and it made durable.");
  return received;
}

struct ConnectionMetrics {
  Counter* accepted[2];  // tcp, unix
  metrics::Gauge* open[2];
  Counter* refused_cap;
  Counter* refused_full;
  Counter* failed_logins;
};

const ConnectionMetrics& Connections() {
  static const ConnectionMetrics m = [] {
    ConnectionMetrics r{};
    const char* kinds[2] = {"tcp", "unix"};
    for (int k = 0; k < 2; ++k) {
      r.accepted[k] = &Global().GetCounter("zenith_connections_total", "Connections accepted and served, by listener.",
                                           {{"kind", kinds[k]}});
      r.open[k] = &Global().GetGauge("zenith_connections_open", "Connections being served now, by listener.",
                                     {{"kind", kinds[k]}});
    }
    const char* help = "Connections closed at once without being served, by reason.";
    r.refused_cap = &Global().GetCounter("zenith_connections_refused_total", help, {{"reason", "unauthenticated_cap"}});
    r.refused_full = &Global().GetCounter("zenith_connections_refused_total", help, {{"reason", "too_many"}});
    r.failed_logins = &Global().GetCounter("zenith_failed_logins_total",
                                           "TCP logins refused: a wrong password or an unknown user.");
    return r;
  }();
  return m;
}

}  // namespace

void ConnectionOpened(bool is_unix) {
  Connections().accepted[is_unix ? 1 : 0]->Inc();
  Connections().open[is_unix ? 1 : 0]->Add(1);
}

void ConnectionClosed(bool is_unix) { Connections().open[is_unix ? 1 : 0]->Add(-1); }

void CountRefusedConnection(const char* reason) {
  (std::string(reason) == "too_many" ? Connections().refused_full : Connections().refused_cap)->Inc();
}

void CountFailedLogin() { Connections().failed_logins->Inc(); }

void CountPageRequest(PageRequestKind kind, bool ok, Seconds took, size_t bytes_sent) {
  const int i = static_cast<int>(kind) - 1;
  if (i < 0 || i > 2) return;
  const PageRequestMetrics& m = PageMetrics();
  m.requests[i][ok ? 1 : 0]->Inc();
  m.latency[i]->Observe(took.count());
  if (ok && kind == PageRequestKind::kGetPage) m.pages->Inc();
  m.bytes->Inc(bytes_sent);
}

void CountHistoryRun(const char* what, Seconds took, bool ok) {
  const int w = std::string(what) == "compaction" ? 0 : 1;
  const HistoryMetrics& m = RunMetrics();
  m.runs[w][ok ? 1 : 0]->Inc();
  m.duration[w]->Observe(took.count());
}

void RegisterServerMetrics() {
  PageMetrics();
  RunMetrics();
  Connections();
  WalReceived();
}

void CountWalReceived(size_t bytes) { WalReceived().Inc(bytes); }

RepositoryMetrics::RepositoryMetrics(Repository& repo)
    : collector_id_(Global().AddCollector([&repo] { return CollectRepository(repo); })) {}

RepositoryMetrics::~RepositoryMetrics() { Global().RemoveCollector(collector_id_); }

}  // namespace zenith::pageserver
