#include "fs/mount_counters.h"

namespace zenith::fs {

void MountCounters::SnapshotUpload(std::chrono::steady_clock::duration took, bool stored, bool failed) {
  if (stored) uploads_.fetch_add(1, std::memory_order_relaxed);
  if (failed) upload_failures_.fetch_add(1, std::memory_order_relaxed);
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(took).count();
  upload_micros_.fetch_add(static_cast<uint64_t>(micros < 0 ? 0 : micros), std::memory_order_relaxed);
}

pageserver::MountStats MountCounters::Read() const {
  pageserver::MountStats s;
  s.pages_scratch = pages_scratch_.load(std::memory_order_relaxed);
  s.pages_layers = pages_layers_.load(std::memory_order_relaxed);
  s.pages_fetched = pages_fetched_.load(std::memory_order_relaxed);
  s.snapshot_uploads = uploads_.load(std::memory_order_relaxed);
  s.snapshot_upload_failures = upload_failures_.load(std::memory_order_relaxed);
  s.snapshot_upload_micros = upload_micros_.load(std::memory_order_relaxed);
  return s;
}

MountCounters& ThisMount() {
  static MountCounters* counters = new MountCounters();  // never destroyed: threads may count at exit
  return *counters;
}

}  // namespace zenith::fs
