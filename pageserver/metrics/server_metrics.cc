#include "pageserver/metrics/server_metrics.h"

#include <array>
#include <string>

#include "common/metrics.h"

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

}  // namespace zenith::pageserver
