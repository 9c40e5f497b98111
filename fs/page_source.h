// PageSource: where a mounted datadir gets the relation pages it does not
// hold locally. In production this is the page server's GetPage@LSN at the
// mount's LSN (wired in by zenith-fs); tests serve pages from a stopped
// PostgreSQL data directory.
//
// Thread-safety: implementations must be thread-safe; DatadirFs calls them
// concurrently from its FUSE worker threads.
#pragma once

#include <cstdint>
#include <span>

#include "common/relation_path.h"
#include "common/status.h"

namespace zenith::fs {

class PageSource {  // thread-safe; called concurrently from FUSE worker threads
 public:
  virtual ~PageSource() = default;

  // Fills `out` (exactly blocks.size() * BLCKSZ bytes, owned by the caller
  // for the duration of the call) with the pages of `blocks` of `rel`, in
  // that order, as of the mount's LSN. Block numbers are relation block
  // numbers (segno * RELSEG_SIZE + block in segment). Implementations
  // pipeline the requests: one call is one round of I/O, not one per page.
  // Returns OK with every page filled, or an error (then `out` is garbage);
  // the filesystem turns an error into EIO for the reader.
  virtual Status GetPages(const RelTag& rel, std::span<const uint32_t> blocks, std::span<uint8_t> out) = 0;

  // Whether GetPagesAhead uses its `ahead` blocks: readers work them out
  // (a lock and a scan of the segment's blocks) only then.
  virtual bool ReadsAhead() const { return false; }

  // Like GetPages; `ahead` are remote blocks a sequential reader will
  // likely ask for next, which a source may fetch in the same round trip
  // and keep (fs/prefetching_page_source.h). The default ignores them.
  virtual Status GetPagesAhead(const RelTag& rel, std::span<const uint32_t> blocks, std::span<uint8_t> out,
                               std::span<const uint32_t> ahead) {
    (void)ahead;
    return GetPages(rel, blocks, out);
  }
};

}  // namespace zenith::fs
