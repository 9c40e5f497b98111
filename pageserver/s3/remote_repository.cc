#include "pageserver/s3/remote_repository.h"

#include <cstdio>
#include <ctime>

#include <nlohmann/json.hpp>

namespace zenith::s3 {

std::string RemoteRepositoryInfo::ToJson() const {
  nlohmann::json j = {{"format", format}, {"system_id", std::to_string(system_id)}, {"pg_version", pg_version}};
  return j.dump(2) + "\n";
}

Result<RemoteRepositoryInfo> RemoteRepositoryInfo::FromJson(const std::string& text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Corruption("repository.json is not a JSON object");
  RemoteRepositoryInfo info;
  try {
    info.format = j.at("format").get<int>();
    info.system_id = std::stoull(j.at("system_id").get<std::string>());
    info.pg_version = j.at("pg_version").get<int>();
  } catch (const std::exception& e) {
    return Corruption(std::string("repository.json is incomplete: ") + e.what());
  }
  return info;
}

std::string RepositoryJsonKey(const S3Url& url) { return url.Key("repository.json"); }

std::string GenerationKey(const S3Url& url, uint64_t generation) {
  char name[48];
  std::snprintf(name, sizeof name, "generations/%020llu", static_cast<unsigned long long>(generation));
  return url.Key(name);
}

Status CheckPrefixIsFree(ObjectStore& store, const S3Url& url) {
  ZENITH_RETURN_IF_ERROR(store.CheckBucket());
  auto head = store.Head(RepositoryJsonKey(url));
  if (head.ok()) return AlreadyExists(url.ToString() + " already holds a zenith repository");
  if (head.status().code() != StatusCode::kNotFound) return head.status();
  return Status::Ok();
}

Result<uint64_t> ClaimNewRepository(ObjectStore& store, const S3Url& url, const RemoteRepositoryInfo& info) {
  Status st = store.PutIfAbsent(RepositoryJsonKey(url), info.ToJson());
  if (st.code() == StatusCode::kAlreadyExists) {
    return AlreadyExists(url.ToString() + " already holds a zenith repository");
  }
  ZENITH_RETURN_IF_ERROR(st);
  const std::string claim = "{\"claimed_at\": " + std::to_string(std::time(nullptr)) + "}\n";
  st = store.PutIfAbsent(GenerationKey(url, 1), claim);
  if (st.code() == StatusCode::kAlreadyExists) {
    return AlreadyExists(url.ToString() + ": generation 1 was claimed by another page server");
  }
  ZENITH_RETURN_IF_ERROR(st);
  return uint64_t{1};
}

}  // namespace zenith::s3
