#include "fs/snapshot_source.h"

#include "common/pg_control.h"
#include "common/wal_directory.h"
#include "common/wal_reader.h"
#include "fs/datadir_fs.h"

namespace zenith::fs {

Result<SnapshotStart> MountedSnapshotSource::TakeChanges() {
  ZENITH_ASSIGN_OR_RETURN(auto session, fs_->BeginSnapshot());
  SnapshotStart start{session->delta(), {}};
  ZENITH_ASSIGN_OR_RETURN(start.entries, ScanDatadir(scratch_dir_));
  return start;
}  // The snapshot lock is released: PostgreSQL may create, cut and remove relation files again.

Status MountedSnapshotSource::ReadBlocks(const RelSegment& seg, std::span<const uint32_t> blocks,
                                         std::span<uint8_t> out) {
  return fs_->ReadBlocks(seg, blocks, out);
}

Status MountedSnapshotSource::WriteFiles(const std::vector<DatadirEntry>& entries, const std::string& pg_control,
                                         TarWriter& tar) {
  return WriteNonRelationFiles(scratch_dir_, entries, {{std::string(kPgControlPath), pg_control}}, tar);
}

Result<Lsn> MountedSnapshotSource::CheckpointRecordEnd(Lsn checkpoint) {
  return zenith::CheckpointRecordEnd(MakeWalDirectoryReader(wal_dir_, 1), system_id_, checkpoint);
}

Result<Lsn> MountedSnapshotSource::EndOfWal(Lsn from) {
  return FindEndOfWal(MakeWalDirectoryReader(wal_dir_, 1), from, system_id_);
}

Result<bool> MountedSnapshotSource::CheckpointRecordBetween(Lsn from, Lsn to) {
  return zenith::CheckpointRecordBetween(MakeWalDirectoryReader(wal_dir_, 1), system_id_, from, to);
}

}  // namespace zenith::fs
