#include "fs/local_layer_source.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include "common/file_util.h"
#include "common/pg_abi.h"
#include "fs/mount_counters.h"

namespace zenith::fs {

using pageserver::LayerFile;
using pageserver::LayerFileEntry;
using pageserver::SnapshotView;

namespace {

// Loading again after a failure: a file compaction replaced between the
// list and the open is gone, and the next list names its successor.
constexpr int kLoadAttempts = 3;
constexpr std::chrono::milliseconds kRetryDelay{100};
// A read of this many adjacent pages is the kernel's readahead of a
// sequential reader: the file after it is read ahead, kPrefetchChunks
// chunks of kChunkBytes.
constexpr size_t kSequentialRun = 4;
constexpr uint64_t kChunkBytes = 1 << 20;
constexpr uint64_t kPrefetchChunks = 3;

}  // namespace

Result<std::shared_ptr<const SnapshotView>> OpenLayerView(const std::vector<LayerFileEntry>& files, Lsn lsn) {
  if (files.empty() || files.front().valid != lsn) {
    return NotFound("the page server listed no layer valid at " + lsn.ToString());
  }
  std::vector<std::shared_ptr<const LayerFile>> layers;
  for (const LayerFileEntry& f : files) {
    ZENITH_ASSIGN_OR_RETURN(std::shared_ptr<LayerFile> layer, LayerFile::Open(f.path, LayerFile::Fd::kKeep));
    if (layer->timeline_id() != f.timeline || layer->lsns().valid != f.valid) {
      return Corruption("layer file \"" + f.path + "\" is not the layer the page server listed (timeline " +
                        f.timeline.ToString() + ", valid at " + f.valid.ToString() + ")");
    }
    layers.push_back(std::move(layer));
  }
  return std::make_shared<const SnapshotView>(lsn, std::move(layers));
}

LocalLayerSource::LocalLayerSource(PageSource& fallback, Loader load, Lsn lsn, std::chrono::milliseconds check_period)
    : fallback_(fallback), load_(std::move(load)), check_period_(check_period), wanted_(lsn) {
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

bool LocalLayerSource::HoldsRemovedFile(const View& view) {
  for (const auto& layer : view.layers()) {
    struct stat st;
    if (::fstat(layer->fd(), &st) == 0 && st.st_nlink == 0) return true;
  }
  return false;
}

// Loads each LSN asked for, newest request first; the old view stays in
// use until the new one is ready (both are right: mount_lease.h). Between
// requests, reopens the view whose files were removed.
void LocalLayerSource::LoadLoop() {
  std::unique_lock lock(mu_);
  for (;;) {
    const bool asked = wake_.wait_for(lock, check_period_, [this] { return stop_ || tried_ != wanted_; });
    if (stop_) break;
    bool removed = false;
    if (!asked) {  // the check, without the lock readers take
      const std::shared_ptr<const SnapshotView> view = view_;
      if (view == nullptr || view->lsn() != wanted_) continue;
      lock.unlock();
      removed = HoldsRemovedFile(*view);
      lock.lock();
      if (!removed || stop_ || view_ != view || tried_ != wanted_) continue;
      spdlog::info("a layer file of the snapshot valid at {} was removed (compaction or GC): opening its view again",
                   view->lsn().ToString());
    }
    const Lsn lsn = wanted_;
    lock.unlock();
    Result<std::shared_ptr<const SnapshotView>> view = NotFound("not loaded");
    for (int attempt = 1; attempt <= kLoadAttempts; ++attempt) {
      view = load_(lsn);
      if (view.ok()) break;
      if (attempt < kLoadAttempts) std::this_thread::sleep_for(kRetryDelay);
    }
    lock.lock();
    if (view.ok()) {
      spdlog::info("reading pages from the layer files of the snapshot valid at {}", lsn.ToString());
      view_ = std::move(*view);
    } else if (removed) {
      // Its files were removed (compaction, GC, or the cache sent them back
      // to the bucket) and it cannot be opened again: the page server
      // serves the same pages, and the removed files' space is freed.
      spdlog::info("reading pages through the page server: the layer files at {} did not open again: {}",
                   lsn.ToString(), view.status().message());
      view_ = nullptr;
    } else if (view_ != nullptr) {
      spdlog::warn("the layer files at {} did not open ({}); reading on from those of the snapshot valid at {}",
                   lsn.ToString(), view.status().message(), view_->lsn().ToString());
    } else {
      spdlog::warn("reading pages through the page server: the layer files at {} did not open: {}", lsn.ToString(),
                   view.status().message());
    }
    tried_ = lsn;
    settled_.notify_all();
  }
  settled_.notify_all();
}

// Each run of pages that lie one after another in one layer file is read
// with one pread, straight into `out`, then each page's CRC is checked
// there: a cold read costs what PostgreSQL's own read of a local file
// costs (the kernel's readahead of the layer file, one copy), and the
// CRC runs over memory the copy just brought into the cache.
Status LocalLayerSource::GetPages(const RelTag& rel, std::span<const uint32_t> blocks, std::span<uint8_t> out) {
  const std::shared_ptr<const SnapshotView> view = CurrentView();
  if (view == nullptr) {
    fallback_calls_.fetch_add(1, std::memory_order_relaxed);
    return fallback_.GetPages(rel, blocks, out);
  }
  auto failed = [&](size_t i, const Status& s) {
    return Status(s.code(), "block " + std::to_string(blocks[i]) + " of " + rel.ToString() + " in the layer files at " +
                                view->lsn().ToString() + ": " + s.message());
  };
  const size_t bs = kZenithPgAbi.blcksz;
  std::vector<SnapshotView::PageSlot> slots(blocks.size());
  if (Status s = view->LocateAll(rel, blocks, slots); !s.ok()) {
    return Status(s.code(), "reading " + rel.ToString() + " in the layer files at " + view->lsn().ToString() + ": " +
                                s.message());
  }
  for (size_t i = 0; i < blocks.size();) {
    const LayerFile* layer = slots[i].layer;
    if (layer == nullptr) {
      std::memset(out.data() + i * bs, 0, bs);
      ++i;
      continue;
    }
    size_t n = 1;  // the run: the next pages in the same file
    while (i + n < blocks.size() && slots[i + n].layer == layer &&
           layer->PageOffset(slots[i + n].index) == layer->PageOffset(slots[i].index) + n * bs) {
      ++n;
    }
    std::span<uint8_t> run = out.subspan(i * bs, n * bs);
    if (n >= kSequentialRun) PrefetchAfter(*layer, layer->PageOffset(slots[i].index) + n * bs);
    Result<size_t> got = PreadFull(layer->fd(), run, layer->PageOffset(slots[i].index), layer->path());
    if (got.ok() && *got != run.size()) got = Corruption("layer file \"" + layer->path() + "\" is cut short");
    if (!got.ok()) return failed(i, got.status());
    for (size_t k = 0; k < n; ++k) {
      if (Status s = layer->CheckPage(slots[i + k].index, run.subspan(k * bs, bs)); !s.ok()) return failed(i + k, s);
    }
    i += n;
  }
  calls_.fetch_add(1, std::memory_order_relaxed);
  pages_.fetch_add(blocks.size(), std::memory_order_relaxed);
  ThisMount().PagesFromLayers(blocks.size());
  return Status::Ok();
}

// The layer file is one file under every mount's readers (PostgreSQL's
// parallel workers each scan their own part of a table), so the kernel's
// readahead of it, which follows one stream per open file, loses track;
// here each sequential run asks for the chunks after it itself. The disk
// serves those requests while the reader works on this run.
void LocalLayerSource::PrefetchAfter(const LayerFile& layer, uint64_t end) {
  const uint64_t first = end / kChunkBytes;  // the chunk the run ends in, then the next ones
  for (uint64_t chunk = first; chunk < first + kPrefetchChunks; ++chunk) {
    {
      std::lock_guard lock(prefetch_mu_);
      const PrefetchedChunk key{&layer, chunk};
      if (std::find(prefetched_.begin(), prefetched_.end(), key) != prefetched_.end()) continue;
      prefetched_[next_prefetched_++ % prefetched_.size()] = key;
    }
    // A hint: if it fails, the read finds the pages on disk.
    ::posix_fadvise(layer.fd(), static_cast<off_t>(chunk * kChunkBytes), static_cast<off_t>(kChunkBytes),
                    POSIX_FADV_WILLNEED);
  }
}

std::string LocalLayerSource::Summary() const {
  const std::shared_ptr<const SnapshotView> view = CurrentView();
  return std::to_string(calls_.load()) + " calls, " + std::to_string(pages_.load()) + " pages from layer files" +
         (view ? " at " + view->lsn().ToString() : "") + "; " + std::to_string(fallback_calls_.load()) +
         " calls through the page server";
}

}  // namespace zenith::fs
