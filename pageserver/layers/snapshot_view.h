// SnapshotView: what GetPage@LSN sees at one LSN of one timeline: the layers
// visible there (docs/design.md §6), newest first, along the ancestor
// chain (own layers with valid <= lsn, then the ancestor's with
// valid <= min(lsn, branch point), and so on).
//
// A page is taken from the newest layer that holds it. A layer that does
// not hold it ends the search with zeros when the block was cut away
// during that layer's interval (block >= floor) or the relation did not
// exist then; otherwise the search falls through to older layers. Sizes
// come from the newest layer, whose relation table is complete.
//
// Thread-safety: immutable; shared by any number of threads.
#pragma once

#include <memory>
#include <span>
#include <vector>

#include "common/lsn.h"
#include "common/relation_path.h"
#include "common/status.h"
#include "pageserver/layers/layer_file.h"

namespace zenith::pageserver {

class SnapshotView {
 public:
  SnapshotView(Lsn lsn, std::vector<std::shared_ptr<const LayerFile>> newest_first)
      : lsn_(lsn), layers_(std::move(newest_first)) {}

  Lsn lsn() const { return lsn_; }
  // The snapshot a mount at lsn() starts from; nullptr if none is visible.
  const LayerFile* newest() const { return layers_.empty() ? nullptr : layers_.front().get(); }
  const std::vector<std::shared_ptr<const LayerFile>>& layers() const { return layers_; }

  // The relation's size at this snapshot; nullopt if it does not exist.
  std::optional<uint32_t> RelationSize(const RelTag& rel) const;
  // The page, valid while this view lives, or, from a remote layer,
  // copied into `scratch` (kBlockSize bytes). NotFound if the relation does
  // not exist, InvalidArgument for a block past its end, Corruption for a
  // damaged layer, the bucket's error for a remote one it cannot read.
  Result<std::span<const uint8_t>> GetPage(const RelTag& rel, uint32_t block, std::span<uint8_t> scratch = {}) const;
  // Some layer of the view is in the bucket only (LayerFile::remote()).
  bool any_remote() const;

  // Where GetPage's page is, found without reading it: index `index` of
  // `layer`, or a page of zeros when `layer` is null. The same errors as
  // GetPage, except Corruption, which only reading the page can tell.
  struct PageSlot {
    const LayerFile* layer = nullptr;
    uint64_t index = 0;
  };
  Result<PageSlot> Locate(const RelTag& rel, uint32_t block) const;
  // Locate for each of `blocks` into `slots` (the same size), looking the
  // relation up once per layer, not once per block.
  Status LocateAll(const RelTag& rel, std::span<const uint32_t> blocks, std::span<PageSlot> slots) const;

 private:
  Lsn lsn_;
  std::vector<std::shared_ptr<const LayerFile>> layers_;
};

// An all-zero page (BLCKSZ bytes), for holes and cut-away blocks.
std::span<const uint8_t> ZeroPage();

}  // namespace zenith::pageserver
