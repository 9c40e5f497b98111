// MountPages: where a mount's remote pages come from: the page server's
// socket (RemotePageSource), and on its machine the snapshot's layer files
// in front of it (LocalLayerSource); read-ahead (PrefetchingPageSource) in
// front of both.
//
// Thread-safety: source() is called by the owner; the PageSource it returns
// is thread-safe; MoveTo and Summary from any thread.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include "common/lsn.h"
#include "fs/local_layer_source.h"
#include "fs/mount_lease.h"
#include "fs/prefetching_page_source.h"
#include "fs/remote_page_source.h"

namespace zenith::fs {

// Loads the layer files of `timeline`'s snapshot at an LSN, asking the page
// server (through `connect`) which they are.
LocalLayerSource::Loader LayerLoader(MountLease::Connector connect, std::string timeline);

class MountPages {
 public:
  // `local_loader` empty: every read goes to `remote`. REQUIRES: `remote`
  // outlives this.
  MountPages(RemotePageSource& remote, std::optional<LocalLayerSource::Loader> local_loader, Lsn lsn,
             size_t readahead_pages);
  PageSource* source() { return &*prefetch_; }
  void MoveTo(Lsn lsn);
  std::string Summary() const;

 private:
  RemotePageSource& remote_;
  std::optional<LocalLayerSource> local_;
  std::optional<PrefetchingPageSource> prefetch_;
};

}  // namespace zenith::fs
