// The page server's commands: the one table mapping command names to
// handlers (see command.h for the protocol side, client/page_protocol.h for
// the binary formats inside COPY streams).
//
//   status                                  name/value rows
//   branch_list                             branches with ancestry
//   branch_create <name> <parent>[@<lsn>]   forks; metadata only
//   timeline_describe <branch|timeline>     ancestry and end of WAL
//   snapshot_list <branch|timeline>         visible snapshots, newest first
//   basebackup <branch|timeline> [<lsn>]    CopyOut tar + manifest
//   pagestream <branch|timeline>            CopyBoth GetPage@LSN
//   put_snapshot <branch|timeline>          CopyIn snapshot layer
//   prepare_wal <branch|timeline> <lsn>     copy ancestor WAL a mount needs
//   attach <timeline> <mountpoint> <pid>    take the read-write mount lease
//   mounts                                  the leases held
//
// Thread-safety: handlers run concurrently; all shared state is in the
// Repository, which is thread-safe.
#pragma once

#include <chrono>

#include "pageserver/command.h"
#include "pageserver/repository.h"

namespace zenith::pageserver {

struct PageServiceOptions {
  // How long a request for an LSN beyond the end of WAL waits for it.
  std::chrono::milliseconds wal_wait_timeout{std::chrono::seconds(5)};
};

// REQUIRES: `repo` outlives the table and every connection using it.
CommandTable MakePageServiceCommands(Repository& repo, PageServiceOptions options = {});

}  // namespace zenith::pageserver
