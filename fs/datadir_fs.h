// DatadirFs: the FUSE filesystem of one mounted PostgreSQL data directory.
//
// Design. The mount is a passthrough of a *scratch directory* (a real
// directory holding the datadir's non-relation files, its directories and
// symlinks such as pg_wal -> .zenith/timelines/<id>/wal), except that
// relation files are virtual: their blocks not written locally come from a
// PageSource (the page server's GetPage@LSN at the mount's LSN).
//
// On disk: each relation segment file is a sparse scratch file whose size is
// the segment's size. For each segment the filesystem keeps, in memory,
//   - the remote limit: the manifest size in blocks, lowered by every
//     truncation since mount;
//   - the local set: blocks written through this mount (their bytes are in
//     the scratch file);
//   - the dirty set: local blocks written since the last BeginSnapshot().
// Invariant: a block reads from the scratch file iff it is local or at/after
// the remote limit; otherwise it comes from the PageSource. Pages fetched for
// reads are never stored in the scratch (the kernel page cache serves
// repeats), so the scratch grows only with writes.
//
// Crash model: the scratch is disposable. After any crash the datadir is
// rebuilt from the repository (a snapshot plus WAL, which lives outside this
// filesystem), so nothing here needs to reach the disk: fsync is a no-op and
// the in-memory sets die with the process, like the scratch itself.
//
// Snapshots: the daemon uploads a layer when PostgreSQL writes a new
// checkpoint into global/pg_control (on_control_write tells it). It calls
// BeginSnapshot(), which atomically takes and resets the dirty sets and the
// size floors under a snapshot lock, holds it only while it lists the
// relation sizes, and reads the dirty blocks back afterwards with
// ReadBlocks(), while PostgreSQL goes on (snapshot_uploader.h says why that
// is sound).
//
// Thread-safety: Create, Mount, Run and the destructor are called by the
// owner; Stop() and BeginSnapshot() may be called from any thread while Run()
// serves requests on its worker threads.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "common/relation_path.h"
#include "common/status.h"
#include "fs/datadir_fs_options.h"
#include "fs/snapshot_delta.h"

struct fuse_session;

namespace zenith::fs {

namespace internal {
class FsCore;
}

// The start of a snapshot (from DatadirFs::BeginSnapshot()). While it lives,
// truncation, unlink and creation of relation files wait; reads and writes
// go on. Keep it only to take the relation sizes along with delta().
// Destruction releases the snapshot lock (from any thread).
// REQUIRES: destroyed before the DatadirFs that made it.
class SnapshotSession {
 public:
  ~SnapshotSession();
  SnapshotSession(const SnapshotSession&) = delete;
  SnapshotSession& operator=(const SnapshotSession&) = delete;

  const SnapshotDelta& delta() const { return delta_; }
  // The truncations, unlinks and creations of relation files waiting for
  // this snapshot to end, right now.
  int waiting() const;

 private:
  friend class DatadirFs;
  SnapshotSession(internal::FsCore* core, SnapshotDelta delta);
  internal::FsCore* core_;
  SnapshotDelta delta_;
};

class DatadirFs {
 public:
  using Options = DatadirFsOptions;

  // Validates the options and opens the scratch directory. Errors:
  // kInvalidArgument for a remote file that is not a relation path or a
  // missing PageSource, kNotFound/kIoError when the scratch cannot be opened.
  static Result<std::unique_ptr<DatadirFs>> Create(Options options);

  // Unmounts if still mounted. REQUIRES: Run() is not running (call Stop()
  // and wait for Run() to return first), every SnapshotSession destroyed.
  ~DatadirFs();
  DatadirFs(const DatadirFs&) = delete;
  DatadirFs& operator=(const DatadirFs&) = delete;

  // Mounts on `mountpoint` (an existing directory) with the low-level FUSE
  // API: fsname=zenith:<this process's pid> (how `zenith umount` finds the
  // daemon to wait for), subtype=zenith (/proc/mounts says "fuse.zenith"),
  // default_permissions. Requests wait in the kernel until Run() starts.
  // Raises the process's soft limit of open files to its hard limit: every
  // inode the kernel knows holds an fd. REQUIRES: called once.
  Status Mount(const std::string& mountpoint);

  // Serves requests on a pool of worker threads until the filesystem is
  // unmounted (fusermount3 -u, umount) or Stop() is called, then unmounts.
  // REQUIRES: Mount() succeeded. Blocks the calling thread.
  Status Run();

  // Makes Run() return and unmounts; safe from any thread (for instance the
  // thread a signal handler notifies), and a no-op when not mounted.
  // Processes still using the mount get ENOTCONN afterwards.
  void Stop();

  // Takes the snapshot lock (waiting for truncations, unlinks and creations
  // in progress), then atomically takes and resets the dirty sets and
  // floors. The lock is held until the session is destroyed.
  Result<std::unique_ptr<SnapshotSession>> BeginSnapshot();

  // Reads blocks of `seg` (numbers within the segment, ascending) as they
  // are now into `out` (BLCKSZ bytes each), opening the file once and
  // reading each run of consecutive blocks at once; meant for the blocks of
  // a delta, which the mount holds locally. kNotFound when the segment no
  // longer exists; bytes past the end of the file read as zeros.
  Status ReadBlocks(const RelSegment& seg, std::span<const uint32_t> blocks, std::span<uint8_t> out);

  // The requests served so far by kind, with their average time, for logs.
  std::string RequestSummary() const;
  // The blocks PostgreSQL read or wrote in each relation segment since
  // mounting (the hot set fs/prewarm.h saves). Any thread.
  std::map<RelSegment, std::vector<uint32_t>> UsedBlocks() const;

 private:
  explicit DatadirFs(std::unique_ptr<internal::FsCore> core);
  // REQUIRES: state_mu_ held, the session loop not running.
  void UnmountLocked();

  std::unique_ptr<internal::FsCore> core_;
  std::mutex state_mu_;  // guards the fields below; taken by Mount, Run, Stop
  std::string mountpoint_;
  fuse_session* session_ = nullptr;  // non-null from Mount() until unmounted
  bool running_ = false;             // Run() is inside the session loop
  bool stop_requested_ = false;
};

}  // namespace zenith::fs
