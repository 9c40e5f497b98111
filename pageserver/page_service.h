// The page server's commands: the one table mapping command names to
// handlers (see command.h for the protocol side, client/page_protocol.h for
// the binary formats inside COPY streams). Commands marked * may be run by
// role compute too, the rest only by the owner, role zenith (role.h); a
// compute gets SQLSTATE 42501 (insufficient_privilege) for those.
//
//  *status                                  name/value rows
//   branch_list                             branches with ancestry
//   branch_create <name> <parent>[@<lsn>]   forks; metadata only
//   branch_prepare <name> <parent>[@<lsn>] a branch's timeline with no
//                                           name yet, held by this session
//   branch_publish <name>                   names it, readable from its
//                                           newest snapshot on
//   branch_detach <name>                    the branch stops depending on
//                                           its ancestors
//   branch_reset <name> <parent>[@<lsn>]|'' <keep>|''
//                                           NAME shows its parent's state
//                                           again; `keep` names the old one
//  *timeline_describe <branch|timeline>     ancestry and end of WAL
//   snapshot_list <branch|timeline>         visible snapshots, newest first
//   branch_delete <name>                    removes a branch's name
//   branch_info                             branches with sizes (`zenith branch -v`)
//  *basebackup <branch|timeline> [<lsn>] [pin]
//                                           CopyOut tar + manifest; `pin`
//                                           pins its snapshot for the session
//  *pagestream <branch|timeline> [exact]    CopyBoth GetPage@LSN; `exact`:
//                                           only at an LSN a snapshot is valid at
//   layer_files <branch|timeline> <lsn>     the layer files of the view at a
//                                           snapshot's valid, newest first
//                                           (local clients only: a mount
//                                           maps them, fs/local_layer_source.h)
//  *put_snapshot <branch|timeline> [<lease token>]
//                                           CopyIn snapshot layer; only from
//                                           the holder of the timeline's lease:
//                                           its connection, or one giving the
//                                           lease's token
//  *prepare_wal <branch|timeline> <lsn>     copy ancestor WAL a mount needs
//  *attach <branch|timeline> <mountpoint> <pid>
//                                           take the read-write mount lease;
//                                           its token (secret). Over TCP the
//                                           mountpoint is HOST:PATH
//  *wal_token <branch|timeline>             the lease's secret for put_wal
//  *put_wal <branch|timeline> <token>       CopyBoth: a remote compute's WAL,
//                                           forwarded by its mount; durable
//                                           before answered (wal_receiver.h)
//  *point <branch|timeline> [<lsn>|<time>]  where a read of that point goes
//  *attach_readonly <branch|timeline> <lsn> <mountpoint> <pid>
//                                           register a read-only mount
//  *wal <branch|timeline> <from> <upto>     CopyOut the WAL in [from, upto)
//   changes <branch|timeline> <lsn> <branch|timeline> <lsn>
//                                           the common point, then the
//                                           relation forks whose blocks
//                                           changed (`zenith diff`)
//  *pin <branch|timeline> <lsn> [pages]     keep a mount's snapshot (session);
//                                           `pages`: no longer its WAL
//  *unpin <branch|timeline> <lsn>           drop one of the session's pins
//  *mounts                                  the leases held, with their pins
//  *mount_stats [<key>=<value> ...]         a mount's figures for the metrics
//   compact [<window>]                      compact now
//   gc [<window>]                           compact, then collect garbage
//
// Each usage above is the table's own (a unit test holds them together); the
// table counts a command's arguments from it before the handler runs.
// Thread-safety: handlers run concurrently; all shared state is in the
// Repository and the History, which are thread-safe.
#pragma once

#include <chrono>

#include "pageserver/pq/command.h"
#include "pageserver/repo/history.h"
#include "pageserver/repo/repository.h"

namespace zenith::pageserver {

struct PageServiceOptions {
  // How long a request for an LSN beyond the end of WAL waits for it.
  std::chrono::milliseconds wal_wait_timeout{std::chrono::seconds(5)};
  // Compaction and GC (`compact`, `gc`, `branch_info`); null: those
  // commands answer that this server does not tend history.
  History* history = nullptr;
};

// REQUIRES: `repo` (and options.history) outlive the table and every
// connection using it.
CommandTable MakePageServiceCommands(Repository& repo, PageServiceOptions options = {});

}  // namespace zenith::pageserver
