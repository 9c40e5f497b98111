// Creating a repository from a running PostgreSQL 15 server (`zenith init
// --from CONNINFO`, docs/design.md "Import"): the server's base backup is
// streamed as a tar archive (BASE_BACKUP with its WAL, as `pg_basebackup
// -F t -X fetch -D -` writes it) and becomes main's layer 0 as it arrives:
// relation pages go into the layer, WAL segments into the timeline's wal/,
// the other files (a few MB) through a spool into the layer's files. The
// cluster is never copied to disk first, and nothing recovers it here.
//
// Layer 0 is then a fuzzy snapshot, like one a mount stores at an online
// checkpoint: pages copied while the server ran, from the backup's start
// checkpoint (backup_label) to its end. Its pg_control is rewritten to name
// that checkpoint (state "in production", no backup fields), its redo is the
// checkpoint's, and its valid point is the end of the WAL that came with it,
// which must hold the backup's end-of-backup record. The first PostgreSQL
// that runs on main (a mount, a read-only mount, an export) replays that WAL
// from the redo point past the backup's end, as crash recovery: what
// PostgreSQL does with a base backup and its backup_label.
//
// Thread-safety: reentrant.
#pragma once

#include <cstdio>
#include <string>

#include "common/status.h"
#include "common/tar.h"
#include "pageserver/api/repo_config.h"

namespace zenith::pageserver {

// Makes the repository at `root` from the base backup `backup` yields.
// `config.system_id` is filled in from its pg_control. Errors (the repository is then not made):
// AlreadyExists if `root` exists; InvalidArgument for an archive that is not
// a whole base backup of a PostgreSQL 15 primary on timeline 1 with its WAL
// (no backup_label, a standby's backup, no WAL or WAL that stops before the
// backup's end); Corruption for a damaged or truncated archive; errors of
// `backup` unchanged.
Status CreateRepositoryFromBackup(const std::string& root, const TarReader::Source& backup, RepoConfig config);

// Connects to the server at `conninfo` (a libpq connection string or URI),
// checks that it is a PostgreSQL 15 primary, holds a temporary replication
// slot on it so that the backup's WAL stays until it is copied, and imports
// the output of `<pg_bin_dir>/pg_basebackup` as it comes. A progress line
// goes to `progress_stream` when it is a terminal (nullptr: none).
// Unavailable ("cannot connect to ...") when the server cannot be reached;
// IoError with pg_basebackup's own message when it fails. A password in
// `conninfo` reaches pg_basebackup through its environment, never its
// arguments, and no message repeats it.
Status CreateRepositoryFromServer(const std::string& root, const std::string& conninfo, const std::string& pg_bin_dir,
                                  RepoConfig config, std::FILE* progress_stream);

}  // namespace zenith::pageserver
