#include "pageserver/repo/layer_hydrator.h"

#include <fcntl.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/file_util.h"
#include "pageserver/layers/remote_pages.h"
#include "pageserver/metrics/remote_metrics.h"
#include "pageserver/repo/remote_layers.h"
#include "pageserver/s3/timeline_index.h"

namespace zenith::pageserver {

void LayerHydrator::Start() {
  stopping_ = false;
  thread_.Start(kPeriod, "layer hydration", [this] {
    const auto now = std::chrono::steady_clock::now();
    if (now < retry_at_) return;
    Status st = Pass();
    if (st.ok()) return;
    // The bucket away or the object damaged: not again every second.
    retry_at_ = now + kRetryAfter;
    spdlog::warn("bringing a layer back from the bucket (next try in {} s): {}", kRetryAfter.count(), st.message());
  });
}

void LayerHydrator::Stop() {
  stopping_ = true;
  thread_.Stop();
}

Status LayerHydrator::Pass() {
  if (!may_act_()) return Status::Ok();
  ZENITH_ASSIGN_OR_RETURN(auto timelines, repo_.AllTimelines());
  uint64_t local_bytes = 0;
  std::shared_ptr<Timeline> hot_timeline;
  std::shared_ptr<const LayerFile> hot;
  for (const auto& tl : timelines.live) {
    for (const auto& layer : tl->OwnLayers()) {
      if (!layer->remote()) {
        local_bytes += layer->file_size();
        continue;
      }
      const uint64_t read = layer->remote_bytes_read();
      if (read < std::max(RemotePages::kCacheBytes, layer->file_size() / kHotFraction)) continue;
      if (!hot || read > hot->remote_bytes_read()) {
        hot = layer;
        hot_timeline = tl;
      }
    }
  }
  const uint64_t bound = repo_.config().remote.cache_size;
  if (!hot || (bound != 0 && local_bytes + hot->file_size() > bound)) return Status::Ok();
  return Hydrate(*hot_timeline, hot);
}

Status LayerHydrator::Download(const std::string& key, uint64_t size, const std::string& path, uint64_t* downloaded) {
  ZENITH_ASSIGN_OR_RETURN(UniqueFd fd, OpenFile(path, O_WRONLY | O_CREAT | O_TRUNC, 0600));
  for (uint64_t at = 0; at < size; at += kChunkBytes) {
    if (stopping_) return Busy("the page server is stopping");
    const uint64_t want = std::min(kChunkBytes, size - at);
    ZENITH_ASSIGN_OR_RETURN(std::string bytes, store_.GetRange(key, at, want));
    *downloaded += bytes.size();
    if (bytes.size() != want) {
      return Corruption("s3://" + url_.bucket + "/" + key + " holds fewer bytes than its stub says (" +
                        std::to_string(size) + ")");
    }
    ZENITH_RETURN_IF_ERROR(
        PwriteFull(fd.get(), {reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()}, at, path));
  }
  return FsyncFd(fd.get(), path);
}

Status LayerHydrator::Hydrate(Timeline& tl, const std::shared_ptr<const LayerFile>& layer) {
  const std::string path = layer->path(), name = BaseName(path), id = tl.id().ToString();
  ZENITH_ASSIGN_OR_RETURN(auto stub, ReadRemoteLayerStub(path));
  if (!stub) return Status::Ok();  // a layer file already
  const std::string key = s3::LayerKey(url_, id, name, stub->generation);
  LiveTempFile temp(DirName(path) + "/." + name + ".download.tmp." + std::to_string(::getpid()));
  uint64_t downloaded = 0;
  Status st = Download(key, stub->size, temp.path(), &downloaded);
  if (st.ok()) {
    // It must open as this very layer before it takes the stub's place.
    auto local = LayerFile::Open(temp.path());
    if (!local.ok()) {
      st = local.status();
    } else if ((*local)->lsns() != layer->lsns() || (*local)->page_count() != layer->page_count() ||
               (*local)->relation_count() != layer->relation_count() ||
               (*local)->timeline_id() != layer->timeline_id()) {
      st = Corruption("s3://" + url_.bucket + "/" + key + " is not the layer its stub stands for");
    }
    // Every page against its CRC: a damaged object never becomes a local file.
    for (uint64_t i = 0; st.ok() && i < (*local)->page_count(); ++i) {
      if (auto page = (*local)->PageAt(i); !page.ok()) {
        st = Corruption("s3://" + url_.bucket + "/" + key + ": " + page.status().message());
      }
    }
  }
  if (st.ok()) st = tl.HydrateLayer(layer, temp.path(), *stub);
  if (!st.ok()) {
    IgnoreError(RemoveFile(temp.path()));
    // Busy: compaction or GC took the layer meanwhile, or the page server stops.
    if (st.code() == StatusCode::kBusy) return Status::Ok();
    CountRemoteHydration(false, downloaded);
    return st.WithContext("layer " + id + "/" + name);
  }
  CountRemoteHydration(true, downloaded);
  ++hydrated_;
  spdlog::info("brought layer {}/{} ({} bytes) back from the bucket: it was read often", id, name, stub->size);
  return Status::Ok();
}

}  // namespace zenith::pageserver
