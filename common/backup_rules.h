// Backup rules: which entries of a data directory a basebackup leaves out,
// exactly as PostgreSQL 15's BASE_BACKUP does (src/backend/replication/
// basebackup.c: excludeDirContents, excludeFiles and sendDir()), so that a
// datadir zenith mounts holds what pg_basebackup would have restored.
//
// Two kinds of exclusion:
//  - the entry itself is left out (postmaster.pid, pg_internal.init,
//    pgsql_tmp*, temp relations t<backend>_<rel>, backup_label, ...);
//  - a directory is kept, empty: its contents are left out (pg_wal,
//    pg_stat_tmp, pg_replslot, pg_dynshmem, pg_notify, pg_serial,
//    pg_snapshots, pg_subtrans). PostgreSQL recreates or resets them at
//    startup; the directory is kept so its permissions survive.
//
// One deliberate difference: PostgreSQL leaves out every fork but the init
// fork of an UNLOGGED relation; zenith keeps them. A zenith snapshot of a
// cleanly shut down compute is restarted without crash recovery, and
// PostgreSQL resets unlogged relations from their init forks only after a
// crash, so dropping the forks would lose data a local restart keeps (and
// leave relations without their main fork).
//
// Not decided here: the order of entries (PostgreSQL sends global/pg_control
// last) and entry types (PostgreSQL sends symlinks only from pg_tblspc, writes
// pg_wal and excluded directories as directories even when they are links,
// and skips sockets and devices): those are the walker's concern.
//
// Paths are relative to the data directory, '/'-separated ("base/5/t3_16384");
// a leading "./" and a trailing '/' are ignored.
//
// Thread-safety: pure functions.
#pragma once

#include <string_view>

namespace zenith {

// True when the entry at `path_in_datadir` is not part of a basebackup:
// its own name is excluded, or it lies inside a directory whose contents are
// excluded (or inside an excluded entry). `is_directory` matters only for
// pg_wal/archive_status, which PostgreSQL sends as an empty directory.
bool IsExcludedFromBackup(std::string_view path_in_datadir, bool is_directory);

// True when the directory at `dir_path_in_datadir` is kept but everything in
// it is left out (pg_wal, pg_stat_tmp, ..., and pg_wal/archive_status).
bool IsDirectoryContentExcluded(std::string_view dir_path_in_datadir);

}  // namespace zenith
