// Planning compaction and garbage collection of a repository's history:
// pure functions over a description of its timelines, no I/O and no locks
// (history.h carries the plans out).
//
// Points. A *requestable point* of timeline T is an LSN some mount, branch
// or read may start from (docs/design.md, "History"):
//   - every LSN in T's window [horizon, end of WAL] (see Horizon());
//   - the branch point of each child of T;
//   - the snapshot a live mount of T started from (its pin), with the WAL
//     from its redo until the mount's PostgreSQL has recovered.
// A point X is served by its *starting snapshot* S = NewestAt(T, X), the
// newest layer with valid <= X along T's chain, plus the WAL from S's redo
// to X. A read at S's valid visits S's *chain*: S, then the layers below
// it (into the ancestors at the branch points), down to the first complete
// layer (an image or the import), which ends every read.
//
// Invariants the plans keep:
//   - GC removes only layers in no starting snapshot's chain, and WAL
//     segments wholly before the oldest redo any point's WAL starts at.
//   - Compaction keeps every *kept* layer an exact snapshot: the starting
//     snapshots of pins, branch points and the window's horizon, window
//     anchors (one at least every max_replay_wal_bytes of WAL, so a point
//     in the window replays at most about that much, and one every half
//     window of time, so the horizon moves on), the newest layer and
//     complete layers. It merges the layers between kept ones into the
//     kept one above them, which reads the same (layer_merge.h); the
//     points in between start from the kept layer below and replay more.
//     The newest run is merged once it has max_unmerged_layers layers or
//     weighs image_gain_ratio of the image below it. Merges are
//     size-tiered: a layer much bigger than those above it is not
//     rewritten for them.
//   - The bound: once compaction has caught up, a read visits at most
//     max_read_depth layers: a kept layer whose chain is longer gets an
//     image. Between kept layers at most max_unmerged_layers layers wait to
//     be merged. So a GetPage visits a fixed number of layers however long
//     the history.
//
// Thread-safety: pure functions and value types.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "common/lsn.h"

namespace zenith::pageserver {

// How much history a repository keeps (repo_config.h holds the settings).
struct RetentionPolicy {
  int64_t window_seconds = 7 * 24 * 3600;
  // Also keep at least this much WAL back from the end (0: time only).
  uint64_t window_wal_bytes = 0;
};

struct CompactionPolicy {
  uint64_t max_replay_wal_bytes = uint64_t{256} << 20;
  size_t max_unmerged_layers = 8;
  size_t max_read_depth = 12;
  // An image at the horizon is written once the deltas it would let GC
  // remove weigh this fraction of the image (its complete layer's size);
  // the newest layers are merged once they weigh as much.
  double image_gain_ratio = 0.5;
};

// One layer, as the planner sees it.
struct PlanLayer {
  Lsn start, redo, valid;
  bool complete = false;
  int64_t created_at = 0;  // unix seconds
  uint64_t bytes = 0;
};

// One timeline. `parent` indexes the same vector (-1 for a root).
struct PlanTimeline {
  int parent = -1;
  Lsn branch_lsn;  // when parent >= 0
  Lsn end_of_wal;
  Lsn gc_cutoff;   // history before it was collected already
  std::vector<PlanLayer> layers;  // oldest first; consecutive ranges
  std::vector<Lsn> pins;          // points live mounts started from
  std::vector<Lsn> page_pins;     // the same, once they need no WAL
};

struct LayerRef {
  int timeline = -1;
  int index = -1;
  bool operator==(const LayerRef&) const = default;
};

// The newest layer with valid <= x along timeline t's chain.
std::optional<LayerRef> NewestAt(const std::vector<PlanTimeline>& tls, int t, Lsn x);
// What a read at `s` visits, newest first, down to a complete layer (or the
// oldest layer there is).
std::vector<LayerRef> ChainOf(const std::vector<PlanTimeline>& tls, LayerRef s);
// The oldest point of t's window: the valid of its newest layer stored at or
// before now - window (or within window_wal_bytes of the end, whichever
// keeps more), never before the branch point, t's oldest snapshot or its
// gc_cutoff. Always a snapshot's valid or the branch point.
Lsn Horizon(const PlanTimeline& tl, const RetentionPolicy& retention, int64_t now);

struct TimelinePlan {
  Lsn horizon;
  std::vector<bool> needed;  // per own layer: in some starting snapshot's chain
  std::vector<bool> kept;    // per own layer: compaction keeps it exact
  // WAL segments that end at or before this LSN may go. Invalid: keep all.
  Lsn wal_needed_from;
  // For `zenith branch -v`: what points of other timelines need here (own
  // layers, and the WAL ranges [from, to]).
  std::vector<bool> needed_by_others;
  std::vector<std::pair<Lsn, Lsn>> wal_needed_by_others;
};

struct CompactionStep {
  enum class Kind { kMerge, kImage };
  Kind kind = Kind::kMerge;
  int timeline = -1;
  int first = -1, last = -1;  // own layers [first, last]; kImage: first == last
  bool operator==(const CompactionStep&) const = default;
};

struct HistoryPlan {
  std::vector<TimelinePlan> timelines;
  std::vector<CompactionStep> steps;  // the most useful first
};

HistoryPlan PlanHistory(const std::vector<PlanTimeline>& tls, const RetentionPolicy& retention,
                        const CompactionPolicy& compaction, int64_t now);

}  // namespace zenith::pageserver
