// `zenith init --from CONNSTR`: a copy of a running PostgreSQL 15 server,
// made fit for import. pg_basebackup takes it over the replication protocol
// (BASE_BACKUP, with the WAL streamed alongside: -X stream), straight to
// disk, so memory stays flat; PostgreSQL then runs once on the copy, with
// no connections, to replay that WAL to consistency, and stops cleanly: a
// stopped cluster, which the import takes like any other.
//
// Thread-safety: one thread (runs processes).
#pragma once

#include <string>

#include "common/status.h"

namespace zenith::cli {

// The server's version as a number (150004), or an error with libpq's
// reason when it cannot be reached.
Result<int> ServerVersion(const std::string& conninfo);

// Makes `dest` (which must not exist) a cleanly stopped copy of the server
// at `conninfo`. pg_basebackup shows its progress on a terminal. On error
// `dest` may hold a partial copy; the caller removes it.
Status CopyRunningServer(const std::string& conninfo, const std::string& pg_bin_dir, const std::string& dest);

}  // namespace zenith::cli
