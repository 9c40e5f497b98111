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

// Where the repository's durable home is (docs/design.md §12): set by
// `zenith init --remote`, in the config file as "remote": {"url": ...}. Never
// a key: those come from the environment or ~/.aws/credentials.
struct RemoteConfig {
  std::string url;       // "s3://BUCKET/PREFIX"; "" = no remote
  std::string endpoint;  // "http://host:port" of the S3 service
  std::string region;
  // Seconds between the uploader's passes: the bound on how far the
  // bucket's WAL lags the end of WAL (plus one pass); 0.2 to 60.
  double wal_upload_interval = 2.0;
  // Bytes of layers kept on this disk once they are in the bucket: past it,
  // the least recently read go back to the bucket (docs/design.md §12,
  // "The local disk is a cache"). 0: no bound.
  uint64_t cache_size = 0;

  bool operator==(const RemoteConfig&) const = default;
};

// What the page server allows its clients, and how big its log may grow.
// In the config file as "limits": {"max_unauthenticated": 64, ...}, every
// field optional, durations as ParseDuration reads them.
struct LimitsConfig {
  int max_connections = 1000;              // per listener: the Unix socket's and TCP's apart
  int max_unauthenticated = 64;            // TCP clients before their password, overall
  int max_unauthenticated_per_address = 8;  // ... and from one IP address
  int64_t auth_timeout_seconds = 5;        // "auth_timeout": startup, TLS and SCRAM together
  int64_t failed_login_delay_max_seconds = 10;  // "failed_login_delay_max": the slowdown's bound
  int64_t idle_timeout_seconds = 600;      // "idle_timeout": TCP, no lease, nothing sent (0: off)
  int64_t send_timeout_seconds = 60;       // "send_timeout": TCP replies left unread (0: off)
  uint64_t log_max_bytes = 10u << 20;      // pageserver.log is rotated past this
  int log_max_files = 5;                   // rotated logs kept: pageserver.log.1 ... .N

  bool operator==(const LimitsConfig&) const = default;
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
  RemoteConfig remote;
  LimitsConfig limits;
  // "mount_timeout": how long `zenith mount` and `zenith start` wait for
  // zenith-fs to report ready (a basebackup from a cold bucket can take a
  // while) before they stop it and say so; 1 s or more.
  int64_t mount_timeout_seconds = 300;
  // The page server's and local mounts' log level: trace, debug, info,
  // warning, error or off (common/log_level.h).
  std::string log_level = "info";

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
