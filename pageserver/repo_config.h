// RepoConfig: the repository's `config` file (JSON).
//
// Thread-safety: plain value type.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"

namespace zenith::pageserver {

inline constexpr int kDefaultPageServerPort = 64000;

struct RepoConfig {
  int format = 1;
  uint64_t system_id = 0;         // the one PostgreSQL system of this repository
  int pg_version = 15;
  std::string pg_bin_dir = "/usr/lib/postgresql/15/bin";
  int port = kDefaultPageServerPort;  // names the Unix socket .s.PGSQL.<port>
  int tcp_port = 0;                   // also listen on 127.0.0.1:<tcp_port> when non-zero

  std::string ToJson() const;
  // Corruption with a clear message for unreadable or incomplete JSON.
  static Result<RepoConfig> FromJson(const std::string& text);
  static Result<RepoConfig> Load(const std::string& path);
  Status Save(const std::string& path) const;  // crash-safe
};

}  // namespace zenith::pageserver
