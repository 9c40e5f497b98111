#include "pageserver/repo/remote_layers.h"

#include <fcntl.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/file_util.h"
#include "pageserver/layers/layer_format.h"
#include "pageserver/metrics/remote_metrics.h"
#include "pageserver/s3/s3_client.h"
#include "pageserver/s3/timeline_index.h"

namespace zenith::pageserver {

namespace {

constexpr char kStubKind[] = "zenith remote layer";
constexpr size_t kMaxStubBytes = 4096;

// Ranged GETs of one object, retried while the bucket is unavailable.
class ObjectRangeReader : public LayerRangeReader {
 public:
  ObjectRangeReader(std::shared_ptr<s3::ObjectStore> store, std::string key, std::string name)
      : store_(std::move(store)), key_(std::move(key)), name_(std::move(name)) {}

  Status ReadAt(uint64_t offset, std::span<uint8_t> out) override {
    const auto deadline = std::chrono::steady_clock::now() + RemoteLayers::kReadPatience;
    auto wait = std::chrono::milliseconds(100);
    for (;;) {
      const auto started = std::chrono::steady_clock::now();
      Result<std::string> bytes = store_->GetRange(key_, offset, out.size());
      CountRemoteLayerRead(bytes.ok(), bytes.ok() ? bytes->size() : 0, std::chrono::steady_clock::now() - started);
      if (bytes.ok()) {
        if (bytes->size() != out.size()) {
          return Corruption("layer " + name_ + " ends before byte " + std::to_string(offset + out.size()));
        }
        std::memcpy(out.data(), bytes->data(), out.size());
        return Status::Ok();
      }
      if (bytes.status().code() != StatusCode::kUnavailable || std::chrono::steady_clock::now() + wait > deadline) {
        return bytes.status().WithContext("reading layer " + name_);
      }
      spdlog::warn("reading layer {}: {}; retrying in {} ms", name_, bytes.status().message(), wait.count());
      std::this_thread::sleep_for(wait);
      wait = std::min(wait * 2, std::chrono::milliseconds(5000));
    }
  }

  std::string name() const override { return name_; }

 private:
  const std::shared_ptr<s3::ObjectStore> store_;
  const std::string key_, name_;
};

}  // namespace

std::string RemoteLayerStub::ToJson() const {
  return nlohmann::json{{"kind", kStubKind}, {"generation", generation}, {"size", size}}.dump() + "\n";
}

Result<std::optional<RemoteLayerStub>> ReadRemoteLayerStub(const std::string& path) {
  ZENITH_ASSIGN_OR_RETURN(UniqueFd fd, OpenFile(path, O_RDONLY));
  std::string head(kMaxStubBytes + 1, '\0');
  ZENITH_ASSIGN_OR_RETURN(size_t got, PreadFull(fd.get(), {reinterpret_cast<uint8_t*>(head.data()), head.size()}, 0, path));
  head.resize(got);
  if (head.size() >= sizeof layer_format::kMagic &&
      std::memcmp(head.data(), layer_format::kMagic, sizeof layer_format::kMagic) == 0) {
    return std::optional<RemoteLayerStub>();
  }
  auto bad = [&] { return Corruption("\"" + path + "\" is neither a layer file nor a remote layer's stub"); };
  if (head.size() > kMaxStubBytes) return bad();
  nlohmann::json j = nlohmann::json::parse(head, nullptr, false);
  if (!j.is_object() || j.value("kind", "") != kStubKind || !j.contains("generation") || !j.contains("size") ||
      !j["generation"].is_number_unsigned() || !j["size"].is_number_unsigned()) {
    return bad();
  }
  return std::optional<RemoteLayerStub>(RemoteLayerStub{j["generation"].get<uint64_t>(), j["size"].get<uint64_t>()});
}

Status WriteRemoteLayerStub(const std::string& path, const RemoteLayerStub& stub) {
  return WriteFileDurably(path, stub.ToJson());
}

Status RemoteLayers::EnsureStore() {
  if (store_ != nullptr) return Status::Ok();
  auto url = s3::ParseS3Url(remote_.url);
  if (!url.ok()) return url.status().WithContext("the repository's remote");
  auto settings = s3::LoadS3Settings(s3::ProcessEnvironment(), remote_.endpoint, remote_.region);
  if (!settings.ok()) return settings.status().WithContext("the repository's remote " + remote_.url);
  url_ = std::move(url).value();
  store_ = std::make_shared<s3::S3Client>(std::move(settings).value(), url_.bucket);
  return Status::Ok();
}

Result<std::shared_ptr<LayerFile>> RemoteLayers::Open(const std::string& path, const TimelineId& timeline,
                                                      const std::string& name, const RemoteLayerStub& stub) {
  std::shared_ptr<s3::ObjectStore> store;
  s3::S3Url url;
  {
    std::lock_guard lock(mu_);
    ZENITH_RETURN_IF_ERROR(EnsureStore().WithContext("layer \"" + path + "\" is in the bucket only"));
    store = store_;
    url = url_;
  }
  const std::string key = s3::LayerKey(url, timeline.ToString(), name, stub.generation);
  auto reader = std::make_shared<ObjectRangeReader>(store, key, "s3://" + url.bucket + "/" + key);
  return LayerFile::OpenRemote(path, stub.size, std::move(reader));
}

Result<std::shared_ptr<LayerFile>> OpenLayerOrStub(const std::string& path, const TimelineId& timeline,
                                                   RemoteLayers* remote) {
  ZENITH_ASSIGN_OR_RETURN(auto stub, ReadRemoteLayerStub(path));
  if (!stub) return LayerFile::Open(path);
  if (remote == nullptr) {
    return Corruption("layer \"" + path + "\" is in the bucket only, and this repository has no remote");
  }
  return remote->Open(path, timeline, BaseName(path), *stub);
}

}  // namespace zenith::pageserver
