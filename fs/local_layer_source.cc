#include "fs/local_layer_source.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstring>

#include "common/pg_abi.h"

namespace zenith::fs {

using pageserver::LayerFile;
using pageserver::LayerFileEntry;
using pageserver::SnapshotView;

namespace {

// Loading again after a failure: a file compaction replaced between the
// list and the open is gone, and the next list names its successor.
constexpr int kLoadAttempts = 3;
constexpr std::chrono::milliseconds kRetryDelay{100};

}  // namespace

Result<std::shared_ptr<const SnapshotView>> OpenLayerView(const std::vector<LayerFileEntry>& files, Lsn lsn) {
  if (files.empty() || files.front().valid != lsn) {
    return NotFound("the page server listed no layer valid at " + lsn.ToString());
  }
  std::vector<std::shared_ptr<const LayerFile>> layers;
  for (const LayerFileEntry& f : files) {
    ZENITH_ASSIGN_OR_RETURN(std::shared_ptr<LayerFile> layer, LayerFile::Open(f.path));
    if (layer->timeline_id() != f.timeline || layer->lsns().valid != f.valid) {
      return Corruption("layer file \"" + f.path + "\" is not the layer the page server listed (timeline " +
                        f.timeline.ToString() + ", valid at " + f.valid.ToString() + ")");
    }
    layers.push_back(std::move(layer));
  }
  return std::make_shared<const SnapshotView>(lsn, std::move(layers));
}

LocalLayerSource::LocalLayerSource(PageSource& fallback, Loader load, Lsn lsn)
    : fallback_(fallback), load_(std::move(load)), wanted_(lsn) {
  loader_ = std::thread([this] { LoadLoop(); });
}

LocalLayerSource::~LocalLayerSource() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  loader_.join();
}

void LocalLayerSource::MoveTo(Lsn lsn) {
  {
    std::lock_guard lock(mu_);
    wanted_ = lsn;
  }
  wake_.notify_all();
}

bool LocalLayerSource::WaitLoaded() {
  std::unique_lock lock(mu_);
  settled_.wait(lock, [this] { return stop_ || tried_ == wanted_; });
  return view_ != nullptr && view_->lsn() == wanted_;
}

std::shared_ptr<const SnapshotView> LocalLayerSource::CurrentView() const {
  std::lock_guard lock(mu_);
  return view_;
}

// Loads each LSN asked for, newest request first; the old view stays in
// use until the new one is ready (both are right: mount_lease.h).
void LocalLayerSource::LoadLoop() {
  std::unique_lock lock(mu_);
  for (;;) {
    wake_.wait(lock, [this] { return stop_ || tried_ != wanted_; });
    if (stop_) break;
    const Lsn lsn = wanted_;
    lock.unlock();
    Result<std::shared_ptr<const SnapshotView>> view = NotFound("not loaded");
    for (int attempt = 1; attempt <= kLoadAttempts; ++attempt) {
      view = load_(lsn);
      if (view.ok()) break;
      if (attempt < kLoadAttempts) std::this_thread::sleep_for(kRetryDelay);
    }
    if (view.ok()) spdlog::info("reading pages from the layer files of the snapshot valid at {}", lsn.ToString());
    else spdlog::warn("reading pages through the page server: the layer files at {} did not open: {}", lsn.ToString(), view.status().message());
    lock.lock();
    if (view.ok()) view_ = std::move(*view);
    tried_ = lsn;
    settled_.notify_all();
  }
  settled_.notify_all();
}

Status LocalLayerSource::GetPages(const RelTag& rel, std::span<const uint32_t> blocks, std::span<uint8_t> out) {
  const std::shared_ptr<const SnapshotView> view = CurrentView();
  if (view == nullptr) {
    fallback_calls_.fetch_add(1, std::memory_order_relaxed);
    return fallback_.GetPages(rel, blocks, out);
  }
  const size_t bs = kZenithPgAbi.blcksz;
  for (size_t i = 0; i < blocks.size(); ++i) {
    Result<std::span<const uint8_t>> page = view->GetPage(rel, blocks[i]);
    if (!page.ok()) {
      return Status(page.status().code(), "block " + std::to_string(blocks[i]) + " of " + rel.ToString() +
                                              " in the layer files at " + view->lsn().ToString() + ": " +
                                              page.status().message());
    }
    std::memcpy(out.data() + i * bs, page->data(), bs);
  }
  calls_.fetch_add(1, std::memory_order_relaxed);
  pages_.fetch_add(blocks.size(), std::memory_order_relaxed);
  return Status::Ok();
}

std::string LocalLayerSource::Summary() const {
  const std::shared_ptr<const SnapshotView> view = CurrentView();
  return std::to_string(calls_.load()) + " calls, " + std::to_string(pages_.load()) + " pages from layer files" +
         (view ? " at " + view->lsn().ToString() : "") + "; " + std::to_string(fallback_calls_.load()) +
         " calls through the page server";
}

}  // namespace zenith::fs
