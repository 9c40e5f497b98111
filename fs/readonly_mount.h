// What makes a mount read-only (`zenith mount --read-only BRANCH@POINT`):
// PostgreSQL on it is a hot standby recovered exactly to the point, and
// nothing it does reaches the repository.
//
// The point is exact because the mount's pg_wal is its own directory
// holding the timeline's WAL from the snapshot's redo up to the point and
// nothing after (zeros): recovery replays every record before the point and
// none after it, then, in standby mode (standby.signal), waits for WAL that
// never comes while serving read-only queries. No snapshot is uploaded (its
// checkpoints are the standby's restartpoints, kept in the scratch) and no
// WAL is written to the timeline; its lease-free registration with the page
// server (attach_readonly) only keeps the branch from being deleted under it
// and shows it in `zenith status`.
//
// Thread-safety: reentrant.
#pragma once

#include <string>

#include "common/lsn.h"
#include "common/status.h"
#include "pageserver/client/repo_client.h"
#include "pageserver/client/repo_layout.h"

namespace zenith::fs {

// standby.signal, and hot_standby on in postgresql.auto.conf.
Status WriteStandbySettings(const std::string& scratch_dir);

// Removes the read-only scratch directories of `timeline` whose zenith-fs
// is gone (killed before it could clean up).
void RemoveStaleReadOnlyDirs(const pageserver::RepoLayout& layout, const pageserver::TimelineId& timeline);

}  // namespace zenith::fs
