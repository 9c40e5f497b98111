// SnapshotSource: what a SnapshotUploader (fs/snapshot_uploader.h) reads:
// the mounted data directory's changes since the previous snapshot, its
// files, and its WAL. MountedSnapshotSource is the real one: a DatadirFs,
// its scratch directory and the timeline's WAL directory; unit tests give
// the uploader one of their own.
//
// Thread-safety: the uploader calls a source from its upload thread only;
// MountedSnapshotSource may run beside the FUSE threads (DatadirFs's
// BeginSnapshot and ReadBlocks are made for that).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/datadir_scan.h"
#include "common/lsn.h"
#include "common/relation_path.h"
#include "common/status.h"
#include "common/tar.h"
#include "fs/snapshot_delta.h"

namespace zenith::fs {

class DatadirFs;

// The start of a snapshot: the changes and the files, taken together.
struct SnapshotStart {
  SnapshotDelta delta;                // changes since the previous TakeChanges(); owed by the caller now
  std::vector<DatadirEntry> entries;  // every file of the data directory, with its size
};

class SnapshotSource {
 public:
  virtual ~SnapshotSource() = default;
  // Takes (and resets) the changes and lists the files at one instant: no
  // relation file is created, cut or removed in between.
  virtual Result<SnapshotStart> TakeChanges() = 0;
  // Blocks of `seg` as they are now, as DatadirFs::ReadBlocks: kNotFound
  // when the segment is gone.
  virtual Status ReadBlocks(const RelSegment& seg, std::span<const uint32_t> blocks, std::span<uint8_t> out) = 0;
  // The non-relation files `entries` names, into `tar`, with `pg_control`
  // in place of global/pg_control.
  virtual Status WriteFiles(const std::vector<DatadirEntry>& entries, const std::string& pg_control,
                            TarWriter& tar) = 0;
  // The WAL: where the checkpoint record starting at `checkpoint` ends;
  // the end of WAL now, from `from` on; whether a checkpoint record lies in
  // [from, to).
  virtual Result<Lsn> CheckpointRecordEnd(Lsn checkpoint) = 0;
  virtual Result<Lsn> EndOfWal(Lsn from) = 0;
  virtual Result<bool> CheckpointRecordBetween(Lsn from, Lsn to) = 0;
};

class MountedSnapshotSource : public SnapshotSource {
 public:
  // REQUIRES: `fs` outlives this. `scratch_dir` is read directly, not
  // through FUSE; `wal_dir` is the timeline's WAL.
  MountedSnapshotSource(DatadirFs* fs, std::string scratch_dir, std::string wal_dir, uint64_t system_id)
      : fs_(fs), scratch_dir_(std::move(scratch_dir)), wal_dir_(std::move(wal_dir)), system_id_(system_id) {}

  Result<SnapshotStart> TakeChanges() override;
  Status ReadBlocks(const RelSegment& seg, std::span<const uint32_t> blocks, std::span<uint8_t> out) override;
  Status WriteFiles(const std::vector<DatadirEntry>& entries, const std::string& pg_control, TarWriter& tar) override;
  Result<Lsn> CheckpointRecordEnd(Lsn checkpoint) override;
  Result<Lsn> EndOfWal(Lsn from) override;
  Result<bool> CheckpointRecordBetween(Lsn from, Lsn to) override;

 private:
  DatadirFs* const fs_;
  const std::string scratch_dir_, wal_dir_;
  const uint64_t system_id_;
};

}  // namespace zenith::fs
