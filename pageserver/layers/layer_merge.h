// Merging snapshot layers: the one layer that reads exactly like a stack of
// them (compaction, see history.h).
//
// Given layers L1 (newest) .. Lm of one view's chain (SnapshotView: a page
// comes from the newest layer holding it; a layer that lacks it ends the
// search with zeros at or above its floor for the relation, or when the
// relation is absent), the merged layer M has L1's relation table and
// files, and for every relation:
//   - the pages the stack would return from L1..Lm, each taken from the
//     newest layer holding it, unless a newer layer's floor (or its lack of
//     the relation) would have cut it away;
//   - as floor, the smallest floor of L1..Lm (0 if some Li lacks the
//     relation or is complete).
// So a read of M, falling through to whatever lay below Lm, returns what a
// read of L1..Lm did: M is L1's snapshot, and the points L2..Lm stood for
// are no longer distinct. When Lm is complete (an image or the import),
// every floor is 0 and M is an image: every page of the timeline at L1.
//
// Thread-safety: reentrant; the inputs are immutable.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include "common/status.h"
#include "pageserver/api/timeline_id.h"
#include "pageserver/layers/layer_file.h"

namespace zenith::pageserver {

struct MergeOptions {
  // Checked now and then: when set, the merge stops with kBusy ("cancelled")
  // and leaves nothing behind.
  const std::atomic<bool>* cancel = nullptr;
  // Called every few hundred pages (tests slow merges down with it).
  std::function<void()> progress;
};

// Writes the merge of `newest_first` into `dir` as a layer of `timeline`
// described by `meta` and returns its path (made durable by LayerWriter).
// REQUIRES: newest_first is non-empty and holds consecutive layers of one
// chain; meta.image only when the last one is complete. Corruption if an
// input page fails its CRC (nothing is written then).
Result<std::string> WriteMergedLayer(std::span<const std::shared_ptr<const LayerFile>> newest_first,
                                     const std::string& dir, const TimelineId& timeline, const LayerMeta& meta,
                                     const MergeOptions& options = {});

}  // namespace zenith::pageserver
