// Preparing a mount's scratch directory (docs/design.md §8, steps
// 3, 4 and 5): the basebackup's non-relation files extracted, every
// relation segment of the manifest a sparse file of its size (no data:
// mounting copies no relation data), pg_wal a symlink to the timeline's
// wal/, and postgresql.auto.conf set so PostgreSQL never removes or recycles
// WAL segments.
//
// The scratch is disposable: it is rebuilt on every mount, and nothing in
// it is ever synced. Rebuilt in place: the previous mount's scratch is kept
// where it can be reused (directories, non-relation files rewritten,
// relation files that hold no data truncated to their new size), because
// creating hundreds of files costs far more than truncating them (ext4
// without a journal scans past recently deleted inodes at every creation).
// The rest (relation files with written data, anything the new basebackup
// does not have) is renamed aside, to be deleted in the background: freeing
// a large written file takes time that would grow with the database.
//
// Thread-safety: reentrant.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "common/status.h"
#include "pageserver/api/page_protocol.h"

namespace zenith::fs {

// The settings a mount puts in postgresql.auto.conf (name, value).
const std::map<std::string, std::string>& MountSettings();

struct PreparedScratch {
  pageserver::BasebackupManifest manifest;
  std::map<std::string, uint64_t> remote_files;  // relation segment path -> bytes
};

// Rebuilds `scratch_dir` from a basebackup tar (the bytes of a whole
// archive as the page server sends it) and points pg_wal at `wal_dir` (or,
// with `wal_dir` empty, makes it an empty directory of its own), over
// what an earlier mount left there (see above; RemoveScratchTrash deletes
// what was set aside). Afterwards the directory holds exactly the archive's
// entries, the manifest's relation files (sparse, of their sizes), pg_wal
// and postgresql.auto.conf. Corruption for a malformed archive (no manifest
// first, bad names...), found before the scratch is touched; after an I/O
// error the scratch is in no defined state (the next mount rebuilds it).
Result<PreparedScratch> BuildScratch(const std::string& scratch_dir, const std::string& basebackup_tar,
                                     const std::string& wal_dir);

// Deletes what BuildScratch set aside next to `scratch_dir` (for this mount,
// or for earlier ones that died first). Slow when that holds much written
// data: meant for a background thread once the mount is ready. Returns
// early, leaving the rest for the next mount, once `stop` is set (it is
// checked between entries).
Status RemoveScratchTrash(const std::string& scratch_dir, const std::atomic<bool>& stop);

// Rewrites postgresql.auto.conf in `datadir` (not synced: see above):
// MountSettings() replace any earlier lines for the same names; other lines
// are kept, except those a remote mount added (fs/remote_compute.h), here
// and in pg_hba.conf and pg_ident.conf: they end with kRemoteComputeMarker.
Status ApplyMountSettings(const std::string& datadir);

// The comment ending each line a remote mount adds to postgresql.auto.conf,
// pg_hba.conf and pg_ident.conf; every mount removes them first.
inline constexpr std::string_view kRemoteComputeMarker = "# zenith: remote mount";

}  // namespace zenith::fs
