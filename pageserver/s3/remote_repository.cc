#include "pageserver/s3/remote_repository.h"

#include <algorithm>
#include <charconv>
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

Result<RemoteRepositoryInfo> ReadRepositoryInfo(ObjectStore& store, const S3Url& url) {
  auto text = store.Get(RepositoryJsonKey(url));
  if (text.status().code() == StatusCode::kNotFound) {
    return NotFound(url.ToString() + " holds no zenith repository (no repository.json)");
  }
  if (!text.ok()) return text.status();
  auto info = RemoteRepositoryInfo::FromJson(*text);
  if (!info.ok()) return info.status().WithContext(url.ToString());
  return info;
}

namespace {

// The highest generation claimed under the prefix (0 if none).
Result<uint64_t> HighestGeneration(ObjectStore& store, const S3Url& url) {
  const std::string prefix = url.Key("generations/");
  ZENITH_ASSIGN_OR_RETURN(auto objects, store.ListAll(prefix));
  uint64_t highest = 0;
  for (const auto& o : objects) {
    const std::string_view name = std::string_view(o.key).substr(prefix.size());
    uint64_t g = 0;
    auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), g);
    if (ec == std::errc() && end == name.data() + name.size()) highest = std::max(highest, g);
  }
  return highest;
}

}  // namespace

Result<uint64_t> ClaimNextGeneration(ObjectStore& store, const S3Url& url) {
  ZENITH_ASSIGN_OR_RETURN(uint64_t g, HighestGeneration(store, url));
  const std::string claim = "{\"claimed_at\": " + std::to_string(std::time(nullptr)) + "}\n";
  // Each lost race means another claimant took that generation; a bound
  // keeps a misbehaving store from looping us forever.
  for (int attempt = 0; attempt < 100; ++attempt) {
    ++g;
    Status st = store.PutIfAbsent(GenerationKey(url, g), claim);
    if (st.ok()) return g;
    if (st.code() != StatusCode::kAlreadyExists) return st.WithContext("claiming generation " + std::to_string(g));
  }
  return Busy(url.ToString() + ": 100 generations were claimed by others while this one tried");
}

}  // namespace zenith::s3
