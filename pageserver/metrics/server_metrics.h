// The page server's metrics (README, "Metrics"), kept in metrics::Global()
// and served by the metrics endpoint (metrics_endpoint.h). The functions
// below are what the hot paths call: each is a few relaxed atomic adds on
// metrics looked up once, never a lock.
//
// The repository's own figures (layers, bytes, end of WAL) are read at
// scrape time by RepositoryMetrics (pageserver/repo/repository_metrics.h).
//
// Thread-safety: every function is safe from any thread.
#pragma once

#include <chrono>
#include <cstddef>

#include "pageserver/api/page_protocol.h"
#include "pageserver/api/timeline_id.h"

namespace zenith::pageserver {

using Seconds = std::chrono::duration<double>;

// Registers every metric below, so that a scrape shows each from the start
// (at zero) rather than from its first use.
void RegisterServerMetrics();

// One request of a pagestream served: its kind, whether it succeeded, how
// long it took (from decoding to the reply's send) and the bytes it sent.
void CountPageRequest(PageRequestKind kind, bool ok, Seconds took, size_t bytes_sent);

// One compaction or garbage collection run (`what`: "compaction" or "gc"),
// scheduled or asked for.
void CountHistoryRun(const char* what, Seconds took, bool ok);

// A connection accepted on the Unix socket or TCP (`is_unix`), served on a
// thread of its own until ConnectionClosed.
void ConnectionOpened(bool is_unix);
void ConnectionClosed(bool is_unix);
// A connection closed at once without being served; `reason`:
// "unauthenticated_cap" (too many strangers, overall or from its address) or
// "too_many" (the listener's pool is full).
void CountRefusedConnection(const char* reason);
// A password that did not match, or an unknown user.
void CountFailedLogin();

// WAL a compute's stream made durable.
void CountWalReceived(size_t bytes);

}  // namespace zenith::pageserver
