#include "pageserver/repo_config.h"

#include <nlohmann/json.hpp>

#include "common/file_util.h"

namespace zenith::pageserver {

std::string RepoConfig::ToJson() const {
  nlohmann::json j = {{"format", format},         {"system_id", std::to_string(system_id)},
                      {"pg_version", pg_version}, {"pg_bin_dir", pg_bin_dir},
                      {"port", port},             {"tcp_port", tcp_port}};
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
