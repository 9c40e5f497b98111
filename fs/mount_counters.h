// MountCounters: this zenith-fs process's own figures (one mount per
// process), counted where the work happens and sent to the page server with
// every keepalive (pageserver/api/mount_stats.h), whose metrics endpoint
// serves them: relation pages read from the scratch, from the snapshot's
// layer files, or fetched with GetPage@LSN; snapshot uploads and their time.
//
// Thread-safety: lock-free; counted from any FUSE worker or uploader thread,
// read (Read) from the keepalive's.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

#include "pageserver/api/mount_stats.h"

namespace zenith::fs {

class MountCounters {
 public:
  void PagesFromScratch(uint64_t n) { pages_scratch_.fetch_add(n, std::memory_order_relaxed); }
  void PagesFromLayers(uint64_t n) { pages_layers_.fetch_add(n, std::memory_order_relaxed); }
  void PagesFetched(uint64_t n) { pages_fetched_.fetch_add(n, std::memory_order_relaxed); }
  // One snapshot upload attempt: stored, or failed; superseded attempts
  // (neither) count only their time.
  void SnapshotUpload(std::chrono::steady_clock::duration took, bool stored, bool failed);

  pageserver::MountStats Read() const;

 private:
  std::atomic<uint64_t> pages_scratch_{0}, pages_layers_{0}, pages_fetched_{0};
  std::atomic<uint64_t> uploads_{0}, upload_failures_{0}, upload_micros_{0};
};

// The process's counters.
MountCounters& ThisMount();

}  // namespace zenith::fs
