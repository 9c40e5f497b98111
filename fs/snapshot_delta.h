// SnapshotDelta: what a mount's relation files changed since the previous
// snapshot began (DatadirFs::BeginSnapshot() takes it; the RelationTable
// keeps it; the SnapshotUploader owes it to the page server).
//
// Thread-safety: plain values; copy or move them freely.
#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include "common/relation_path.h"

namespace zenith::fs {

// Blocks of one segment written since the previous BeginSnapshot().
struct DirtySegment {
  RelSegment seg;
  std::vector<uint32_t> blocks;  // block numbers within the segment, ascending
};

struct SnapshotDelta {
  std::vector<DirtySegment> dirty;  // segments with at least one dirty block, ascending by segment
  // floors[rel]: the smallest size, in relation blocks, the relation had
  // since the previous BeginSnapshot(): truncating segment s to n blocks
  // gives s*RELSEG_SIZE+n, unlinking or creating segment s gives
  // s*RELSEG_SIZE. Relations with no such event are absent.
  std::map<RelTag, uint32_t> floors;
};

}  // namespace zenith::fs
