// Creating a repository from a freshly initdb'd data directory (`zenith
// init`, docs/design.md §3): the cluster's relation pages and sizes, its
// non-relation files and pg_control become snapshot layer 0 of the branch
// "main"; its WAL segments from the checkpoint's redo point to the end of WAL
// become the timeline's wal/ (older and recycled ones are left out).
//
// The repository is assembled in "<root>.tmp-<pid>" and renamed to <root>
// only when complete and durable: a crash leaves either no repository or a
// whole one, never half of one.
//
// Thread-safety: reentrant.
#pragma once

#include <string>

#include "common/status.h"
#include "pageserver/api/repo_config.h"

namespace zenith {
class ProgressLine;
}

namespace zenith::pageserver {

// REQUIRES: `datadir` holds a cluster that was shut down cleanly (as initdb
// leaves it). `config.system_id` is filled in from its pg_control.
// AlreadyExists if `root` exists.
// `progress`, if given, counts the bytes read (relation files and WAL).
Status CreateRepository(const std::string& root, const std::string& datadir, RepoConfig config,
                        ProgressLine* progress = nullptr);

}  // namespace zenith::pageserver
