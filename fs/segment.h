// The in-memory state of one relation segment file of a mount: which of its
// blocks come from the PageSource and which were written locally.
//
// Invariant (see datadir_fs.h): block b is *remote* iff b < remote_limit and
// b is not local; a remote block's bytes come from the PageSource, every
// other block's bytes from the scratch file (holes read as zeros). The
// remote limit only goes down and the local set only loses blocks at or past
// the end of the file, which are >= the remote limit, so a block that is not
// remote never becomes remote again. Writers rely on that to decide, without
// the I/O lock, that they need no read-modify-write.
//
// Thread-safety: all methods are thread-safe. io_mutex() orders data I/O on
// the segment's scratch file (see its comment); an internal mutex guards the
// sets. Lock order: SnapshotLock -> io_mutex() -> internal mutex.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <shared_mutex>
#include <vector>

#include "common/relation_path.h"

namespace zenith::fs {

// A set of block numbers, dense (one bit per block up to the highest one).
// Thread-safety: a plain value.
class BlockSet {
 public:
  bool Contains(uint32_t block) const;
  void Insert(uint32_t block);
  // Removes every block >= `end`.
  void EraseFrom(uint32_t end);
  void Clear() { words_.clear(); }
  bool empty() const;
  // The blocks, ascending.
  std::vector<uint32_t> ToVector() const;

 private:
  std::vector<uint64_t> words_;
};

class Segment {
 public:
  // A linked segment whose blocks below `remote_limit` are remote.
  Segment(RelSegment id, uint32_t remote_limit);
  Segment(const Segment&) = delete;
  Segment& operator=(const Segment&) = delete;

  const RelSegment& id() const { return id_; }
  // Relation block number of block `block_in_segment` of this segment.
  uint32_t RelationBlock(uint32_t block_in_segment) const;

  // Held shared by reads and by writes that need no page from the
  // PageSource; exclusive by read-modify-write, truncation and allocation, so
  // that a block's "remote or local" answer and its bytes stay consistent
  // while they are used.
  std::shared_mutex& io_mutex() { return io_mu_; }

  bool IsRemote(uint32_t block) const;
  // The remote blocks among [first, first + count), ascending.
  std::vector<uint32_t> RemoteBlocks(uint32_t first, uint32_t count) const;
  // Blocks [first, first + count) were written: they become local, dirty
  // while the segment is linked, and used (NoteUsed).
  void MarkWritten(uint32_t first, uint32_t count);
  // The file was cut (or extended) to `new_size` bytes: lowers the remote
  // limit to the blocks wholly below it and forgets local and dirty blocks
  // that start at or past it. REQUIRES: io_mutex() held exclusively; a block
  // cut in the middle was made local first (see RelationFile::Truncate).
  void Truncate(uint64_t new_size);
  // The file's name was removed: its dirty blocks no longer belong to any
  // snapshot and later writes (through fds still open) are not tracked.
  void Unlink();
  // Returns the dirty blocks, ascending, and empties the dirty set.
  std::vector<uint32_t> TakeDirty();

  uint32_t remote_limit() const;
  bool linked() const;

  // Blocks [first, first + count) were read or written by PostgreSQL: the
  // mount's hot set, which the next mount of the branch prewarms
  // (fs/prewarm.h). Used() lists them, ascending.
  void NoteUsed(uint32_t first, uint32_t count);
  std::vector<uint32_t> Used() const;

  // Read-ahead: after a read of [first, first + count), the blocks to fetch
  // ahead with it. None unless the read continues a sequential run: it
  // starts where the previous read ended, or inside what the run already
  // named ahead (the kernel's readahead sends a run's reads a little out of
  // order). A run's window starts at kMinReadAhead blocks past the read and
  // doubles with every read of the run up to kMaxReadAhead; blocks are named
  // once per run, in chunks of at least half the window, and only when fewer
  // than half a window remain named ahead of the read (so most reads of a
  // long scan fetch nothing ahead, and one in several fetches much).
  struct BlockRange {
    uint32_t first = 0;
    uint32_t count = 0;
    bool operator==(const BlockRange&) const = default;
  };
  BlockRange ReadAheadAfter(uint32_t first, uint32_t count);
  static constexpr uint32_t kMinReadAhead = 16;   // 128 KB
  static constexpr uint32_t kMaxReadAhead = 256;  // 2 MB

 private:
  const RelSegment id_;
  std::shared_mutex io_mu_;
  mutable std::mutex mu_;   // guards the fields below
  uint32_t remote_limit_;
  BlockSet local_;
  BlockSet dirty_;          // always a subset of local_
  BlockSet used_;
  bool linked_ = true;
  // The sequential run (ReadAheadAfter); guarded by mu_.
  uint32_t next_read_ = UINT32_MAX;  // where the run's furthest read ended
  uint32_t ahead_end_ = 0;           // blocks before it were named ahead
  uint32_t window_ = 0;
};

}  // namespace zenith::fs
