// The steps every way of creating a repository shares (`zenith init` from
// initdb or a stopped cluster: import.cc; from a running server's base
// backup: backup_import.cc).
//
// A repository is assembled in "<root>.tmp-<pid>" and renamed to <root>
// only when complete and durable: a crash or a failure leaves either no
// repository or a whole one, never half of one. What a killed creation left
// ("<root>.tmp-<pid>" of a process gone) goes at the next one.
//
// Thread-safety: reentrant.
#pragma once

#include <functional>
#include <string>

#include "common/status.h"
#include "pageserver/api/repo_config.h"
#include "pageserver/api/repo_layout.h"
#include "pageserver/repo/timeline.h"

namespace zenith::pageserver {

// Runs `build` on the layout of "<root>.tmp-<pid>", then renames it to
// <root> and syncs the parent. AlreadyExists if `root` exists; on any
// failure nothing is left at either path.
Status CreateRepositoryAtomically(const std::string& root, const std::function<Status(const RepoLayout&)>& build);

// The directories of a repository whose branch main is the new timeline
// `main` (its wal/ and layers/ included), each durable.
Status MakeRepositoryDirectories(const RepoLayout& layout, const TimelineId& main);

// The last step, once main's layer 0 and WAL are in place: main's metadata
// and branch ref, then WriteRepositoryConfig.
Status WriteRepositoryFiles(const RepoLayout& layout, const TimelineId& main, const RepoConfig& config);

// The config and the TCP endpoint's passwords (new ones: no secret comes
// from elsewhere), each durable.
Status WriteRepositoryConfig(const RepoLayout& layout, const RepoConfig& config);

}  // namespace zenith::pageserver
