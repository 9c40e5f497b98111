// Changed blocks: which blocks of which relations changed between two
// points of a repository's history (`zenith diff`, docs/design.md §7).
//
// Two points have a *common point*: the newest LSN both histories share.
// For two points of one line of history that is the older of them; for two
// branches, where their lines part (the branch point of the younger one,
// or the older point if it lies before it). What changed on each side is
// what the WAL from the common point to that side's point touched: every
// block reference of every record, as redo would apply them. The WAL is
// exact where snapshots are not (a point lies between two checkpoints), and
// it is read once, never a page: the cost follows the WAL between the
// points, not the size of the database.
//
// Not seen: changes that write no WAL (unlogged and temporary relations),
// and relations dropped or truncated without a block reference (their
// sizes say so: the CLI reads them from the catalog at each point).
//
// Thread-safety: pure functions over thread-safe timelines.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "common/lsn.h"
#include "common/relation_path.h"
#include "common/status.h"
#include "pageserver/repo/timeline.h"

namespace zenith::pageserver {

struct TimelinePoint {
  std::shared_ptr<Timeline> timeline;
  Lsn lsn;  // a record end of the timeline's history
};

// The newest point both histories share (see above); `timeline` is the
// one whose WAL holds it. InvalidArgument if the two share no history (two
// repositories' timelines cannot meet; every branch starts from main).
Result<TimelinePoint> CommonPoint(const TimelinePoint& a, const TimelinePoint& b);

struct ChangedRelation {
  RelTag tag;
  uint32_t blocks = 0;  // distinct blocks touched on either side
};

// The relations (forks) whose blocks the WAL from the common point to `a`
// and to `b` touched, sorted by tag, each with the number of distinct
// blocks. NotFound if WAL that is needed was removed (the point lies
// outside the history kept); Corruption if it does not decode.
Result<std::vector<ChangedRelation>> ChangedBlocks(const TimelinePoint& a, const TimelinePoint& b,
                                                   uint64_t system_id);

}  // namespace zenith::pageserver
