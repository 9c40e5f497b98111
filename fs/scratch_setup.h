// Preparing a mount's scratch directory (DESIGN.md section 4, Mount steps
// 2, 4 and 5): the basebackup's non-relation files extracted, every
// relation segment of the manifest created as a sparse file of its size (no
// data: mounting copies no relation data), pg_wal a symlink to the
// timeline's wal/, and postgresql.auto.conf set so PostgreSQL never removes
// or recycles WAL segments.
//
// The scratch is disposable: it is rebuilt on every mount, and nothing in
// it is ever synced. An old scratch is only renamed aside on the mount's
// path, to be deleted in the background (deleting a large one takes time
// that would grow with the database).
//
// Thread-safety: reentrant.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "common/status.h"
#include "pageserver/client/page_protocol.h"

namespace zenith::fs {

// The settings a mount puts in postgresql.auto.conf (name, value).
const std::map<std::string, std::string>& MountSettings();

struct PreparedScratch {
  pageserver::BasebackupManifest manifest;
  std::map<std::string, uint64_t> remote_files;  // relation segment path -> bytes
};

// Rebuilds `scratch_dir` from a basebackup tar (the bytes of a whole
// archive as the page server sends it) and points pg_wal at `wal_dir`. An
// existing `scratch_dir` is renamed aside first (see RemoveScratchTrash).
// Corruption for a malformed archive (no manifest first, bad names...).
Result<PreparedScratch> BuildScratch(const std::string& scratch_dir, const std::string& basebackup_tar,
                                     const std::string& wal_dir);

// Deletes the old scratch directories BuildScratch renamed aside next to
// `scratch_dir` (by this mount or by earlier ones that crashed). Slow for a
// large scratch: meant for a background thread once the mount is ready.
Status RemoveScratchTrash(const std::string& scratch_dir);

// Rewrites postgresql.auto.conf in `datadir` (not synced: see above): MountSettings() replace any
// earlier lines for the same names; other lines are kept.
Status ApplyMountSettings(const std::string& datadir);

}  // namespace zenith::fs
