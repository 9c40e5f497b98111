// The page server's metrics (README, "Metrics"), kept in metrics::Global()
// and served by the metrics endpoint (metrics_endpoint.h). The functions
// below are what the hot paths call: each is a few relaxed atomic adds on
// metrics looked up once, never a lock.
//
// Thread-safety: every function is safe from any thread. RepositoryMetrics
// reads the repository at scrape time on the endpoint's thread; destroy it
// before the repository.
#pragma once

#include <chrono>
#include <cstddef>

#include "pageserver/client/page_protocol.h"
#include "pageserver/client/timeline_id.h"

namespace zenith::pageserver {

class Repository;

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

// Layers, their bytes and the end of WAL of every timeline, read from the
// repository when scraped, for as long as this object lives.
class RepositoryMetrics {
 public:
  explicit RepositoryMetrics(Repository& repo);
  ~RepositoryMetrics();
  RepositoryMetrics(const RepositoryMetrics&) = delete;
  RepositoryMetrics& operator=(const RepositoryMetrics&) = delete;

 private:
  int collector_id_;
};

}  // namespace zenith::pageserver
