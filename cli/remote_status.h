// What the page server's remote uploader last wrote about itself
// (.zenith/remote-status.json, pageserver/repo/remote_uploader.h), for the
// commands that report it.
//
// Thread-safety: reentrant.
#pragma once

#include <optional>
#include <string>

#include "cli/repo_context.h"

namespace zenith::cli {

// A line saying the page server was superseded (the repository attached
// elsewhere under a newer generation), or nullopt if it was not, or the
// status file is absent or unreadable.
std::optional<std::string> SupersededNotice(const RepoContext& repo);

// For `zenith status`: a warning when the last upload pass failed (its
// error and the bytes not yet in the bucket) or the page server was
// superseded; nullopt when all is well or there is no remote.
std::optional<std::string> RemoteWarning(const RepoContext& repo);

}  // namespace zenith::cli
