#include "pageserver/client/repo_config.h"

#include <nlohmann/json.hpp>

#include "common/duration.h"
#include "common/file_util.h"

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

}  // namespace

std::string RepoConfig::ToJson() const {
  nlohmann::json j = {{"format", format},         {"system_id", std::to_string(system_id)},
                      {"pg_version", pg_version}, {"pg_bin_dir", pg_bin_dir},
                      {"port", port},             {"tcp_port", tcp_port},
                      {"history", HistoryToJson(history)}};
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
    c.tcp_port = j.value("tcp_port", 0);
    if (j.contains("history")) {
      if (!j["history"].is_object()) return Corruption("repository config: history is not an object");
      auto h = HistoryFromJson(j["history"]);
      if (!h.ok()) return h.status().WithContext("repository config");
      c.history = *h;
    }
  } catch (const std::exception& e) {
    return Corruption(std::string("repository config is incomplete: ") + e.what());
  }
  if (c.format != 1) return Corruption("repository format " + std::to_string(c.format) + " is not supported");
  if (c.port <= 0 || c.port > 65535 || c.tcp_port < 0 || c.tcp_port > 65535) return Corruption("repository config has a bad port");
  return c;
}

Result<RepoConfig> RepoConfig::Load(const std::string& path) {
  ZENITH_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  auto c = FromJson(text);
  if (!c.ok()) return c.status().WithContext("\"" + path + "\"");
  return c;
}

Status RepoConfig::Save(const std::string& path) const { return WriteFileDurably(path, ToJson()); }

}  // namespace zenith::pageserver
