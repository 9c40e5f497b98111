// RelationTable: the relation segments a mount currently has, by name, and
// the size floors of the relations since the last snapshot. SnapshotLock: the
// lock that keeps relation data from shrinking while a snapshot is taken.
//
// A Segment lives here while its file has its name ("linked"); inodes and
// open files hold it too, so an unlinked file that is still open keeps its
// state but no longer reports dirty blocks. Names are stable: relation files
// are never renamed or linked (DatadirFs refuses with EXDEV), so a name maps
// to at most one scratch file at a time.
//
// Thread-safety: all methods are thread-safe. Lock order: SnapshotLock ->
// (the filesystem's namespace mutex) -> RelationTable -> Segment.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "common/relation_path.h"
#include "common/status.h"
#include "fs/snapshot_delta.h"
#include "fs/segment.h"

namespace zenith::fs {

// A reader-writer lock whose exclusive holder may release it from another
// thread (a SnapshotSession may die anywhere), with writer preference so that
// a stream of truncations cannot starve a snapshot. Meets the standard
// Lockable and SharedLockable requirements.
class SnapshotLock {
 public:
  void lock();
  void unlock();
  void lock_shared();
  void unlock_shared();

  // Threads blocked in lock() or lock_shared() right now.
  int waiting() const;

 private:
  mutable std::mutex mu_;  // guards the fields below
  std::condition_variable cv_;
  int shared_holders_ = 0;
  int shared_waiters_ = 0;
  int exclusive_waiters_ = 0;
  bool exclusive_ = false;
};

class RelationTable {
 public:
  // `remote_limits`: segments and their remote limits (blocks) at mount.
  explicit RelationTable(const std::map<RelSegment, uint32_t>& remote_limits);

  // The state of the existing file at `seg`: the one known, or a new one with
  // no remote blocks (a relation file the scratch holds in full).
  std::shared_ptr<Segment> Attach(const RelSegment& seg);
  // The linked segment at `seg`, or null.
  std::shared_ptr<Segment> Find(const RelSegment& seg) const;
  // A new, empty file was created at `seg`: any previous state is unlinked,
  // the floor becomes segno*RELSEG_SIZE. REQUIRES: SnapshotLock held shared.
  std::shared_ptr<Segment> Created(const RelSegment& seg);
  // The file at `seg` was unlinked: its state stops reporting dirty blocks,
  // the floor becomes segno*RELSEG_SIZE. REQUIRES: SnapshotLock held shared.
  void Unlinked(const RelSegment& seg);
  // The file of `segment` was cut to `blocks_in_segment` blocks; counts only
  // while `segment` is the linked one (an unlinked file that is still open
  // says nothing about the relation). REQUIRES: SnapshotLock held shared.
  void Truncated(const Segment& segment, uint32_t blocks_in_segment);

  // The used blocks (Segment::Used) of every linked segment that has any.
  std::map<RelSegment, std::vector<uint32_t>> UsedBlocks() const;

  // Takes and resets every dirty set and the floors.
  // REQUIRES: SnapshotLock held exclusively.
  SnapshotDelta TakeDelta();

 private:
  void LowerFloor(const RelTag& rel, uint32_t blocks);  // REQUIRES: mu_ held

  mutable std::mutex mu_;  // guards the fields below
  std::map<RelSegment, std::shared_ptr<Segment>> linked_;
  std::map<RelTag, uint32_t> floors_;
};

}  // namespace zenith::fs
