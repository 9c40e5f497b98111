#include "pageserver/repo/changed_blocks.h"

#include <algorithm>
#include <map>

#include "common/wal_reader.h"

namespace zenith::pageserver {

namespace {

// Where a point's history runs: its own timeline up to its LSN, then each
// ancestor up to the branch point it was forked at.
std::vector<TimelinePoint> Lineage(const TimelinePoint& p) {
  std::vector<TimelinePoint> line = {p};
  for (auto tl = p.timeline; tl->ancestor() != nullptr; tl = tl->ancestor()) {
    line.push_back({tl->ancestor(), std::min(line.back().lsn, tl->ancestor_lsn())});
  }
  return line;
}

// The blocks of one relation fork: appended as records name them, made
// sorted and unique whenever they have doubled, so that a hot block
// rewritten by a million records costs no million entries.
struct BlockSet {
  std::vector<uint32_t> blocks;
  size_t compact_at = 4096;

  void Add(uint32_t block) {
    blocks.push_back(block);
    if (blocks.size() < compact_at) return;
    Compact();
    compact_at = std::max<size_t>(4096, 2 * blocks.size());
  }
  void Compact() {
    std::sort(blocks.begin(), blocks.end());
    blocks.erase(std::unique(blocks.begin(), blocks.end()), blocks.end());
  }
};
using BlockSets = std::map<RelTag, BlockSet>;

// Adds the blocks the WAL of `to`'s history touched after `from`.
Status CollectBlocks(Lsn from, const TimelinePoint& to, uint64_t system_id, BlockSets* sets) {
  if (to.lsn <= from) return Status::Ok();
  WalReader reader(to.timeline->MakeWalReader(), system_id, from);
  RelTag last_tag;
  BlockSet* last = nullptr;
  for (;;) {
    ZENITH_ASSIGN_OR_RETURN(const WalRecord* rec, reader.ReadRecord());
    if (rec == nullptr) {
      return NotFound("the WAL of timeline " + to.timeline->id().ToString() + " from " + from.ToString() + " to " +
                      to.lsn.ToString() + " is not all kept: it ends at " + reader.position().ToString() + " (" +
                      reader.end_reason() + ")");
    }
    if (rec->end_lsn > to.lsn) return Status::Ok();
    for (const WalBlockRef& b : rec->blocks) {
      const RelTag tag{b.tablespace, b.database, b.relfilenode, static_cast<ForkNumber>(b.fork)};
      if (last == nullptr || tag != last_tag) {
        last = &(*sets)[tag];
        last_tag = tag;
      }
      last->Add(b.block);
    }
    if (rec->end_lsn == to.lsn) return Status::Ok();
  }
}

}  // namespace

Result<TimelinePoint> CommonPoint(const TimelinePoint& a, const TimelinePoint& b) {
  const std::vector<TimelinePoint> line_a = Lineage(a);
  for (const TimelinePoint& on_b : Lineage(b)) {
    for (const TimelinePoint& on_a : line_a) {
      if (on_a.timeline->id() == on_b.timeline->id()) return TimelinePoint{on_a.timeline, std::min(on_a.lsn, on_b.lsn)};
    }
  }
  return InvalidArgument("timelines " + a.timeline->id().ToString() + " and " + b.timeline->id().ToString() +
                         " share no history");
}

Result<std::vector<ChangedRelation>> ChangedBlocks(const TimelinePoint& a, const TimelinePoint& b,
                                                   uint64_t system_id) {
  ZENITH_ASSIGN_OR_RETURN(TimelinePoint common, CommonPoint(a, b));
  BlockSets sets;
  ZENITH_RETURN_IF_ERROR(CollectBlocks(common.lsn, a, system_id, &sets));
  ZENITH_RETURN_IF_ERROR(CollectBlocks(common.lsn, b, system_id, &sets));
  std::vector<ChangedRelation> out;
  out.reserve(sets.size());
  for (auto& [tag, set] : sets) {
    set.Compact();
    out.push_back({tag, static_cast<uint32_t>(set.blocks.size())});
  }
  return out;
}

}  // namespace zenith::pageserver
