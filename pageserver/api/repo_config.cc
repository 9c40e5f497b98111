#include "pageserver/api/repo_config.h"

#include <arpa/inet.h>

#include <charconv>

#include <nlohmann/json.hpp>

#include "common/duration.h"
#include "common/file_util.h"
#include "common/log_level.h"

namespace zenith::pageserver {

namespace {

nlohmann::json HistoryToJson(const HistoryConfig& h) {
  return {{"window", FormatDuration(h.window_seconds)},
          {"window_wal_bytes", h.window_wal_bytes},
          {"gc_period", FormatDuration(h.gc_period_seconds)},
          {"compaction_period", FormatDuration(h.compaction_period_seconds)},
          {"max_replay_wal_bytes", h.max_replay_wal_bytes}};
}

// REQUIRES: j is an object. Throws nlohmann's exceptions for wrong types.
Result<HistoryConfig> HistoryFromJson(const nlohmann::json& j) {
  HistoryConfig h;
  for (auto [key, field] : {std::pair<const char*, int64_t*>{"window", &h.window_seconds},
                            {"gc_period", &h.gc_period_seconds},
                            {"compaction_period", &h.compaction_period_seconds}}) {
    if (!j.contains(key)) continue;
    auto seconds = ParseDuration(j.at(key).get<std::string>());
    if (!seconds) {
      return Corruption("history." + std::string(key) + " is not a duration such as \"7d\", \"12h\" or \"30m\"");
    }
    *field = *seconds;
  }
  h.window_wal_bytes = j.value("window_wal_bytes", h.window_wal_bytes);
  h.max_replay_wal_bytes = j.value("max_replay_wal_bytes", h.max_replay_wal_bytes);
  if (h.max_replay_wal_bytes == 0) return Corruption("history.max_replay_wal_bytes must be above 0");
  return h;
}

nlohmann::json LimitsToJson(const LimitsConfig& l) {
  return {{"max_connections", l.max_connections},
          {"max_unauthenticated", l.max_unauthenticated},
          {"max_unauthenticated_per_address", l.max_unauthenticated_per_address},
          {"auth_timeout", FormatDuration(l.auth_timeout_seconds)},
          {"failed_login_delay_max", FormatDuration(l.failed_login_delay_max_seconds)},
          {"idle_timeout", FormatDuration(l.idle_timeout_seconds)},
          {"send_timeout", FormatDuration(l.send_timeout_seconds)},
          {"log_max_bytes", l.log_max_bytes},
          {"log_max_files", l.log_max_files}};
}

// REQUIRES: j is an object. Throws nlohmann's exceptions for wrong types.
Result<LimitsConfig> LimitsFromJson(const nlohmann::json& j) {
  LimitsConfig l;
  for (auto [key, field] : {std::pair<const char*, int64_t*>{"auth_timeout", &l.auth_timeout_seconds},
                            {"failed_login_delay_max", &l.failed_login_delay_max_seconds},
                            {"idle_timeout", &l.idle_timeout_seconds},
                            {"send_timeout", &l.send_timeout_seconds}}) {
    if (!j.contains(key)) continue;
    auto seconds = ParseDuration(j.at(key).get<std::string>());
    if (!seconds) return Corruption("limits." + std::string(key) + " is not a duration such as \"30s\" or \"10m\"");
    *field = *seconds;
  }
  for (auto [key, field] : {std::pair<const char*, int*>{"max_connections", &l.max_connections},
                            {"max_unauthenticated", &l.max_unauthenticated},
                            {"max_unauthenticated_per_address", &l.max_unauthenticated_per_address},
                            {"log_max_files", &l.log_max_files}}) {
    *field = j.value(key, *field);
    if (*field < 1) return Corruption("limits." + std::string(key) + " must be at least 1");
  }
  l.log_max_bytes = j.value("log_max_bytes", l.log_max_bytes);
  if (l.log_max_bytes < 4096) return Corruption("limits.log_max_bytes must be at least 4096");
  if (l.auth_timeout_seconds < 1) return Corruption("limits.auth_timeout must be at least 1s");
  return l;
}

}  // namespace

std::string RepoConfig::ToJson() const {
  nlohmann::json j = {{"format", format},         {"system_id", std::to_string(system_id)},
                      {"pg_version", pg_version}, {"pg_bin_dir", pg_bin_dir},
                      {"port", port},             {"listen", listen},
                      {"history", HistoryToJson(history)}};
  if (!tls_cert.empty() || !tls_key.empty()) {
    j["tls_cert"] = tls_cert;
    j["tls_key"] = tls_key;
  }
  if (allow_plain_tcp) j["allow_plain_tcp"] = true;
  if (!remote.url.empty()) {
    j["remote"] = {{"url", remote.url}, {"endpoint", remote.endpoint}, {"region", remote.region}};
    if (remote.cache_size != 0) j["remote"]["cache_size"] = remote.cache_size;
    if (remote.wal_upload_interval != RemoteConfig{}.wal_upload_interval) {
      j["remote"]["wal_upload_interval"] = remote.wal_upload_interval;
    }
  }
  if (limits != LimitsConfig{}) j["limits"] = LimitsToJson(limits);
  if (mount_timeout_seconds != RepoConfig{}.mount_timeout_seconds) {
    j["mount_timeout"] = FormatDuration(mount_timeout_seconds);
  }
  if (log_level != "info") j["log_level"] = log_level;
  if (!metrics_listen.empty()) j["metrics_listen"] = metrics_listen;
  return j.dump(2) + "\n";
}

Result<RepoConfig> RepoConfig::FromJson(const std::string& text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Corruption("repository config is not valid JSON");
  RepoConfig c;
  try {
    c.format = j.at("format").get<int>();
    c.system_id = std::stoull(j.at("system_id").get<std::string>());
    c.pg_version = j.at("pg_version").get<int>();
    c.pg_bin_dir = j.at("pg_bin_dir").get<std::string>();
    c.port = j.at("port").get<int>();
    c.listen = j.value("listen", "");
    if (const int tcp_port = j.value("tcp_port", 0); tcp_port != 0 && c.listen.empty()) {
      c.listen = "127.0.0.1:" + std::to_string(tcp_port);  // the older form
    }
    c.tls_cert = j.value("tls_cert", "");
    c.tls_key = j.value("tls_key", "");
    c.allow_plain_tcp = j.value("allow_plain_tcp", false);
    c.metrics_listen = j.value("metrics_listen", "");
    if (j.contains("mount_timeout")) {
      auto seconds = ParseDuration(j.at("mount_timeout").get<std::string>());
      if (!seconds || *seconds < 1) return Corruption("repository config: mount_timeout is not a duration of 1s or more");
      c.mount_timeout_seconds = *seconds;
    }
    if (j.contains("history")) {
      if (!j["history"].is_object()) return Corruption("repository config: history is not an object");
      auto h = HistoryFromJson(j["history"]);
      if (!h.ok()) return h.status().WithContext("repository config");
      c.history = *h;
    }
    if (j.contains("remote")) {
      const auto& r = j.at("remote");
      if (!r.is_object()) return Corruption("repository config: remote is not an object");
      c.remote = {r.at("url").get<std::string>(), r.value("endpoint", ""), r.value("region", ""),
                  r.value("wal_upload_interval", RemoteConfig{}.wal_upload_interval)};
      if (!(c.remote.wal_upload_interval >= 0.2 && c.remote.wal_upload_interval <= 60)) {
        return Corruption("repository config: remote.wal_upload_interval must be between 0.2 and 60 seconds");
      }
      if (r.contains("cache_size")) {
        if (!r["cache_size"].is_number_unsigned()) {
          return Corruption("repository config: remote.cache_size must be a number of bytes (0: no bound)");
        }
        c.remote.cache_size = r["cache_size"].get<uint64_t>();
      }
    }
    c.log_level = j.value("log_level", "info");
    if (auto level = ParseLogLevel(c.log_level); !level.ok()) {
      return Corruption("repository config: log_level: " + level.status().message());
    }
    if (j.contains("limits")) {
      if (!j["limits"].is_object()) return Corruption("repository config: limits is not an object");
      auto l = LimitsFromJson(j["limits"]);
      if (!l.ok()) return l.status().WithContext("repository config");
      c.limits = *l;
    }
  } catch (const std::exception& e) {
    return Corruption(std::string("repository config is incomplete: ") + e.what());
  }
  if (c.format != 1) return Corruption("repository format " + std::to_string(c.format) + " is not supported");
  if (c.port <= 0 || c.port > 65535) return Corruption("repository config has a bad port");
  if (c.tls_cert.empty() != c.tls_key.empty()) {
    return Corruption("repository config: name both tls_cert and tls_key, or neither");
  }
  if (!c.listen.empty()) {
    if (auto listen = ParseListenAddress(c.listen); !listen.ok()) return Corruption("repository config: " + listen.status().message());
  }
  if (!c.metrics_listen.empty()) {
    if (auto at = ParseListenAddress(c.metrics_listen); !at.ok()) {
      return Corruption("repository config: metrics_listen: " + at.status().message());
    }
  }
  return c;
}

Result<ListenAddress> ParseListenAddress(std::string_view text) {
  const size_t colon = text.rfind(':');
  const std::string bad = "'" + std::string(text) + "' is not an address to listen on; write it as HOST:PORT, e.g. 0.0.0.0:6400";
  if (colon == std::string_view::npos) return InvalidArgument(bad);
  ListenAddress a{std::string(text.substr(0, colon)), 0};
  in_addr ip{};
  if (::inet_pton(AF_INET, a.host.c_str(), &ip) != 1) return InvalidArgument(bad + " (HOST is an IPv4 address)");
  const std::string_view port = text.substr(colon + 1);
  unsigned value = 0;
  auto [end, err] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (err != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535) return InvalidArgument(bad);
  a.port = static_cast<uint16_t>(value);
  return a;
}

Result<RepoConfig> RepoConfig::Load(const std::string& path) {
  ZENITH_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  auto c = FromJson(text);
  if (!c.ok()) return c.status().WithContext("\"" + path + "\"");
  return c;
}

Status RepoConfig::Save(const std::string& path) const { return WriteFileDurably(path, ToJson()); }

}  // namespace zenith::pageserver
