// LocalLayerSource: the PageSource of a mount on the page server's own
// machine. It reads pages from the layer files of the mount's snapshot,
// opened by zenith-fs, instead of asking GetPage@LSN over the socket:
// a cold read costs a lookup and a copy, not two processes' wakeups.
//
// The page server says which files make up its view at the mount's LSN
// (`layer_files`, told only to a client on its Unix socket, which runs as
// the repository's owner). They are read the way the page server reads
// them (pageserver::SnapshotView: newest layer first, floors, page CRCs),
// so a page read here is the page GetPage@LSN returns. Pages are copied
// with pread, a run of pages adjacent in a file at once, as PostgreSQL
// reads a local file: the kernel's readahead of the layer file serves a
// sequential reader, and each page's CRC is checked on the copy. Layer files never
// change; one that compaction or GC removes while it is open stays
// readable until it is closed, so a loaded view never changes under a
// reader.
//
// Loading (the list, then opening each file, which checks its index) runs
// on a thread of its own. Until a view is loaded, and whenever loading
// failed, reads go to `fallback` (the page server's socket). When the
// mount moves to a newer snapshot (MoveTo, see mount_lease.h), the view at
// the new LSN replaces the old one once loaded, and the old files are
// closed, so that what GC deleted frees its space. A mount that stays at
// one snapshot (a read-only one, or one that takes no checkpoint) would
// hold the files compaction replaced for as long: every `check_period` the
// loader looks whether a file of its view was removed and, if so, opens
// the view at the same LSN again (the same pages, from the files that
// replaced them) and closes the old files; if that view cannot be opened
// (its layers went back to the bucket: the page server lists no files for
// it), reads go to `fallback` and the old files are closed all the same.
//
// Thread-safety: GetPages from any number of threads, MoveTo from any
// thread; mu_ guards the view and the wanted LSN.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/lsn.h"
#include "common/status.h"
#include "fs/page_source.h"
#include "pageserver/client/repo_client.h"
#include "pageserver/layers/snapshot_view.h"

namespace zenith::fs {

// Opens `files` (as `layer_files` lists them, newest first) as the view at
// `lsn`. Each file's header must name the timeline and valid LSN listed;
// the newest must be valid at `lsn`. Errors name the file.
Result<std::shared_ptr<const pageserver::SnapshotView>> OpenLayerView(
    const std::vector<pageserver::LayerFileEntry>& files, Lsn lsn);

class LocalLayerSource : public PageSource {
 public:
  using View = pageserver::SnapshotView;
  // The view at an LSN the mount reads at (in production: `layer_files`
  // from the page server, then OpenLayerView).
  using Loader = std::function<Result<std::shared_ptr<const View>>(Lsn)>;

  static constexpr std::chrono::milliseconds kCheckPeriod{30000};

  // Starts loading the view at `lsn`. `fallback` must outlive this.
  LocalLayerSource(PageSource& fallback, Loader load, Lsn lsn, std::chrono::milliseconds check_period = kCheckPeriod);
  ~LocalLayerSource();
  LocalLayerSource(const LocalLayerSource&) = delete;
  LocalLayerSource& operator=(const LocalLayerSource&) = delete;

  Status GetPages(const RelTag& rel, std::span<const uint32_t> blocks, std::span<uint8_t> out) override;

  // The mount reads at this snapshot from now on: load its view.
  void MoveTo(Lsn lsn);
  // Waits until the view at the latest LSN asked for is loaded or failed to
  // load; true if loaded (tests, benchmarks).
  bool WaitLoaded();

  // "N calls, M pages from layer files at LSN; K calls through the page
  // server", for logs.
  std::string Summary() const;

 private:
  std::shared_ptr<const View> CurrentView() const;
  void LoadLoop();
  // Whether a file of the view was removed since it was opened.
  static bool HoldsRemovedFile(const View& view);
  // Reads ahead (in the background) the chunks of `layer` after byte `end`
  // of a sequential run that were not asked for lately.
  void PrefetchAfter(const pageserver::LayerFile& layer, uint64_t end);

  PageSource& fallback_;
  const Loader load_;
  const std::chrono::milliseconds check_period_;
  mutable std::mutex mu_;
  std::condition_variable wake_;     // the loader waits for work
  std::condition_variable settled_;  // WaitLoaded waits for the loader
  std::shared_ptr<const View> view_;  // guarded by mu_; null until loaded
  Lsn wanted_;                        // guarded by mu_
  Lsn tried_;                         // guarded by mu_: the last LSN loading ended for
  bool stop_ = false;                 // guarded by mu_
  std::atomic<uint64_t> calls_{0}, pages_{0}, fallback_calls_{0};
  // The chunks read ahead lately (a ring): each is asked for once.
  struct PrefetchedChunk {
    const pageserver::LayerFile* layer = nullptr;
    uint64_t chunk = 0;
    bool operator==(const PrefetchedChunk&) const = default;
  };
  std::mutex prefetch_mu_;
  std::array<PrefetchedChunk, 64> prefetched_{};  // guarded by prefetch_mu_
  size_t next_prefetched_ = 0;                    // guarded by prefetch_mu_
  std::thread loader_;
};

}  // namespace zenith::fs
