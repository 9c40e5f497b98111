// RemotePages: the pages of a remote layer (layer_file.h), read from the
// bucket on demand and kept in memory for a while.
//
// A read fetches the aligned range of kMinRange bytes around the page: a
// GetPage on a cold layer costs one small GET. A reader that goes on where
// the last range ended (a sequential scan, a merge) gets ranges twice as
// large each time, up to kMaxRange, so a scan costs a GET per MiB, not per
// page. Fetched ranges stay in memory up to kCacheBytes per layer; the
// least recently used go first. Pages are CRC-checked by the caller
// (LayerFile::PageAt) on every read, cached or not.
//
// Thread-safety: Read from any number of threads; a range two threads miss
// at once may be fetched twice.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "common/status.h"

namespace zenith::pageserver {

class LayerRangeReader;

class RemotePages {
 public:
  static constexpr uint64_t kMinRange = 64 << 10;
  static constexpr uint64_t kMaxRange = 2 << 20;
  static constexpr uint64_t kCacheBytes = 8 << 20;

  // The pages lie in [begin, end) of the object.
  RemotePages(std::shared_ptr<LayerRangeReader> reader, uint64_t begin, uint64_t end)
      : reader_(std::move(reader)), begin_(begin), end_(end) {}

  // out.size() bytes at `offset`, inside [begin, end).
  Status Read(uint64_t offset, std::span<uint8_t> out);
  uint64_t bytes_fetched() const;

 private:
  struct Range {
    std::vector<uint8_t> bytes;
    uint64_t used = 0;  // the tick of its last read
  };
  // Copies from a cached range holding [offset, offset + out.size()).
  bool CopyCached(uint64_t offset, std::span<uint8_t> out);
  // The range to fetch for a miss at `offset`: [start, start + size).
  std::pair<uint64_t, uint64_t> PlanFetch(uint64_t offset, uint64_t length);
  void Keep(uint64_t start, std::vector<uint8_t> bytes);

  const std::shared_ptr<LayerRangeReader> reader_;
  const uint64_t begin_, end_;
  mutable std::mutex mu_;
  std::map<uint64_t, Range> ranges_;  // GUARDED_BY(mu_), by start offset
  uint64_t cached_ = 0;               // GUARDED_BY(mu_), bytes in ranges_
  uint64_t tick_ = 0;                 // GUARDED_BY(mu_)
  uint64_t last_end_ = 0;             // GUARDED_BY(mu_), where the last fetch ended
  uint64_t next_size_ = kMinRange;    // GUARDED_BY(mu_)
  uint64_t fetched_ = 0;              // GUARDED_BY(mu_)
};

}  // namespace zenith::pageserver
