// LayerHydrator: remote layers read often come back to the local disk
// whole (docs/design.md §12, "The local disk is a cache"). A remote layer
// serves a GetPage with one small ranged GET, which is what a cold read
// wants; a layer read again and again (a scan of a large table, a hot
// index on a repository just attached) costs a GET per range each time the
// in-memory ranges (RemotePages) have let it go. Once the bytes read from
// the bucket for a layer reach kHotFraction of its size (and at least
// RemotePages::kCacheBytes), the hydrator downloads it in ranges of
// kChunkBytes to a temp file beside its stub, opens it as a layer (header,
// sections and their CRCs checked), checks every page against its CRC and
// that it is the layer the stub stands for, and renames it over
// the stub (Timeline::HydrateLayer). Only while the cache bound has room
// for it: the uploader's eviction would send it back at once otherwise.
// One layer at a time, the hottest first, on a thread of its own: the
// uploader's WAL passes never wait for a download.
//
// A crash leaves the stub (the rename is the commit) and at worst a temp
// file, which the page server removes at its next start.
//
// Thread-safety: Start and Stop from the owner's thread; Pass runs on the
// hydrator's thread (or the caller's, in tests), never both.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>

#include "common/periodic_thread.h"
#include "common/status.h"
#include "pageserver/layers/layer_file.h"
#include "pageserver/repo/repository.h"
#include "pageserver/repo/timeline.h"
#include "pageserver/s3/object_store.h"
#include "pageserver/s3/s3_settings.h"

namespace zenith::pageserver {

class LayerHydrator {
 public:
  static constexpr uint64_t kHotFraction = 4;  // a quarter of the layer
  static constexpr uint64_t kChunkBytes = 8 << 20;
  static constexpr std::chrono::seconds kPeriod{1};
  static constexpr std::chrono::seconds kRetryAfter{30};  // after a failed download

  // `store` (the bucket of `url`) and `may_act` (false once this page
  // server is superseded) outlive the hydrator.
  LayerHydrator(Repository& repo, s3::S3Url url, s3::ObjectStore& store, std::function<bool()> may_act)
      : repo_(repo), url_(std::move(url)), store_(store), may_act_(std::move(may_act)) {}
  ~LayerHydrator() { Stop(); }
  LayerHydrator(const LayerHydrator&) = delete;
  LayerHydrator& operator=(const LayerHydrator&) = delete;

  void Start();
  // Ends a download in progress at its next chunk (its temp file goes).
  void Stop();
  // Brings back the hottest remote layer that qualifies, if any.
  Status Pass();
  uint64_t hydrated() const { return hydrated_.load(); }

 private:
  Status Hydrate(Timeline& tl, const std::shared_ptr<const LayerFile>& layer);
  // Downloads `key` (`size` bytes) into `path`, durably; adds the bytes
  // received to *downloaded.
  Status Download(const std::string& key, uint64_t size, const std::string& path, uint64_t* downloaded);

  Repository& repo_;
  const s3::S3Url url_;
  s3::ObjectStore& store_;
  const std::function<bool()> may_act_;
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> hydrated_{0};
  std::chrono::steady_clock::time_point retry_at_{};  // the thread's only
  PeriodicThread thread_;
};

}  // namespace zenith::pageserver
