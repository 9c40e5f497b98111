// RepoConfig: the repository's `config` file (JSON).
//
// Thread-safety: plain value type.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"

namespace zenith::pageserver {

inline constexpr int kDefaultPageServerPort = 64000;

// How much history the repository keeps and how the page server tends it
// (history.h). In the config file as "history": {"window": "7d", ...}, with
// durations as ParseDuration reads them; every field may be left out.
struct HistoryConfig {
  int64_t window_seconds = 7 * 24 * 3600;   // "window": the point-in-time window
  uint64_t window_wal_bytes = 0;            // "window_wal_bytes": also keep this much WAL (0: off)
  int64_t gc_period_seconds = 600;          // "gc_period": automatic GC (0: off)
  int64_t compaction_period_seconds = 10;   // "compaction_period": background compaction (0: off)
  uint64_t max_replay_wal_bytes = uint64_t{256} << 20;  // "max_replay_wal_bytes": snapshot spacing in the window

  bool operator==(const HistoryConfig&) const = default;
};

struct RepoConfig {
  int format = 1;
  uint64_t system_id = 0;         // the one PostgreSQL system of this repository
  int pg_version = 15;
  std::string pg_bin_dir = "/usr/lib/postgresql/15/bin";
  int port = kDefaultPageServerPort;  // names the Unix socket .s.PGSQL.<port>
  // "HOST:PORT": also listen on TCP there (IPv4; 0.0.0.0 is every
  // interface), every client authenticating with SCRAM-SHA-256 as user
  // "zenith" with the password in .zenith/password. "" = no TCP.
  std::string listen;
  // The TCP endpoint's TLS certificate and key files (PEM; a relative path
  // is in the .zenith directory). Empty: .zenith/server.crt and server.key,
  // made at the first start and signed by the repository CA (.zenith/ca.crt).
  std::string tls_cert, tls_key;
  // Serve TCP clients that do not ask for TLS (a warning at every start).
  // Off: they get FATAL 28000 telling them to use TLS.
  bool allow_plain_tcp = false;
  // "HOST:PORT": serve Prometheus metrics over HTTP there (GET /metrics;
  // no authentication: an address only the scraper reaches). "" = off.
  std::string metrics_listen;
  HistoryConfig history;

  std::string ToJson() const;
  // Corruption with a clear message for unreadable or incomplete JSON.
  static Result<RepoConfig> FromJson(const std::string& text);
  static Result<RepoConfig> Load(const std::string& path);
  Status Save(const std::string& path) const;  // crash-safe
};

struct ListenAddress {
  std::string host;
  uint16_t port = 0;
};
// "HOST:PORT" with an IPv4 address and a port 1-65535; InvalidArgument
// saying what is wrong otherwise.
Result<ListenAddress> ParseListenAddress(std::string_view text);

}  // namespace zenith::pageserver
