#include "pageserver/repo/layer_uploader.h"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <charconv>
#include <cstdio>

#include "common/file_util.h"
#include "pageserver/api/timeline_id.h"
#include "pageserver/layers/layer_writer.h"
#include "pageserver/s3/s3_client.h"

namespace zenith::pageserver {

LayerUploader::LayerUploader(RepoLayout layout, s3::S3Url url, uint64_t generation,
                             std::unique_ptr<s3::ObjectStore> store)
    : layout_(std::move(layout)), url_(std::move(url)), generation_(generation), store_(std::move(store)) {}

std::string LayerUploader::LayerKey(const std::string& timeline, const std::string& name) const {
  char g[24];
  std::snprintf(g, sizeof g, "%020llu", static_cast<unsigned long long>(generation_));
  return url_.Key("timelines/" + timeline + "/layers/" + name + "-" + g);
}

void LayerUploader::Start(std::chrono::milliseconds period) {
  thread_.Start(period, "layer upload", [this] {
    Status st = UploadPending();
    std::lock_guard lock(mu_);
    if (!st.ok() && st.message() != last_error_.message()) spdlog::warn("layer upload: {}", st.message());
    if (st.ok() && !last_error_.ok()) spdlog::info("layer upload works again");
    last_error_ = st;
  });
}

Status LayerUploader::LastError() const {
  std::lock_guard lock(mu_);
  return last_error_;
}

// Keys "…/timelines/<id>/layers/<name>-<g>": every generation's upload counts.
Status LayerUploader::LearnUploaded() {
  const std::string prefix = url_.Key("timelines/");
  auto objects = store_->ListAll(prefix);
  if (!objects.ok()) return objects.status();
  for (const auto& o : *objects) {
    std::string_view rest = std::string_view(o.key).substr(prefix.size());
    size_t slash = rest.find("/layers/");
    size_t dash = rest.rfind('-');
    if (slash == std::string_view::npos || dash == std::string_view::npos || dash < slash) continue;
    std::string timeline(rest.substr(0, slash));
    std::string name(rest.substr(slash + 8, dash - slash - 8));
    uploaded_.insert(timeline + "/" + name);
  }
  listed_ = true;
  return Status::Ok();
}

Status LayerUploader::UploadTimeline(const std::string& timeline) {
  const std::string dir = layout_.layers_dir(*TimelineId::Parse(timeline));
  auto names = ListDirectory(dir);
  if (!names.ok()) {
    // A timeline deleted meanwhile has nothing left to upload.
    return names.status().sys_errno() == ENOENT ? Status::Ok() : names.status();
  }
  for (const auto& name : *names) {
    if (!IsLayerFileName(name) || uploaded_.count(timeline + "/" + name) != 0) continue;
    Status st = store_->PutFile(LayerKey(timeline, name), dir + "/" + name);
    if (st.sys_errno() == ENOENT) continue;  // merged or collected away before it went up
    if (!st.ok()) return st.WithContext("layer " + timeline + "/" + name);
    uploaded_.insert(timeline + "/" + name);
    spdlog::debug("uploaded layer {}/{}", timeline, name);
  }
  return Status::Ok();
}

Status LayerUploader::UploadPending() {
  if (!listed_) ZENITH_RETURN_IF_ERROR(LearnUploaded());
  auto timelines = ListDirectory(layout_.timelines_dir());
  if (!timelines.ok()) return timelines.status();
  for (const auto& timeline : *timelines) {
    if (!TimelineId::Parse(timeline)) continue;
    ZENITH_RETURN_IF_ERROR(UploadTimeline(timeline));
  }
  return Status::Ok();
}

Result<std::unique_ptr<LayerUploader>> MakeLayerUploader(const RepoLayout& layout, const std::string& remote_url,
                                                         const std::string& endpoint, const std::string& region) {
  if (remote_url.empty()) return std::unique_ptr<LayerUploader>();
  auto url = s3::ParseS3Url(remote_url);
  if (!url.ok()) return url.status().WithContext("the repository's remote");
  auto settings = s3::LoadS3Settings(s3::ProcessEnvironment(), endpoint, region);
  if (!settings.ok()) return settings.status().WithContext("the repository's remote " + remote_url);
  auto text = ReadFileToString(layout.generation_file());
  if (!text.ok()) return text.status().WithContext("the repository's generation");
  uint64_t generation = 0;
  auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), generation);
  if (ec != std::errc() || generation == 0) {
    return Corruption("\"" + layout.generation_file() + "\" does not hold a generation number");
  }
  auto store = std::make_unique<s3::S3Client>(std::move(settings).value(), url->bucket);
  return std::make_unique<LayerUploader>(layout, std::move(url).value(), generation, std::move(store));
}

}  // namespace zenith::pageserver
