// The documents `--json` prints (README, "Machine-readable output"): one JSON
// object per command, stable field names, LSNs as PostgreSQL writes them
// ("0/16B3748"), sizes in bytes, absent values as null. A field is never
// renamed or removed; new ones may be added.
//
// Thread-safety: stateless; safe from any thread.
#pragma once

#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pageserver/client/repo_client.h"

namespace zenith::cli {

// zenith branch --json: {"branches": [{"name", "timeline", "parent", "branch_lsn"}]}.
nlohmann::json BranchListJson(const std::vector<pageserver::BranchEntry>& branches);

// zenith branch -v --json: as above, with "end_of_wal", "history_from",
// "logical_size_bytes", "own_bytes", "exclusive_bytes" and "layers".
nlohmann::json BranchSizesJson(const std::vector<pageserver::BranchSizes>& branches);

// The postmaster running on a mount's directory, if any.
using PostmasterLookup = std::function<std::optional<pid_t>(const std::string& dir)>;

// zenith status --json: {"mounts": [{"branch", "timeline", "directory",
// "pid", "remote", "postgres_pid", "read_only", "point"}]}.
nlohmann::json MountsJson(const std::vector<pageserver::MountEntry>& mounts, const PostmasterLookup& postmaster);

// zenith pageserver status --json: {"running": false} or {"running": true,
// "pid", "socket", "version", "repository", "system_identifier" (a string:
// it does not fit a double), "timelines_loaded", "mounts", "compaction",
// "gc"}; the last two {"last_run", "failing_runs", "failing_since",
// "problem"} (unix seconds, 0: never) or null.
nlohmann::json PageServerStatusJson(const std::optional<pageserver::ServerStatus>& status, const std::string& socket);

// Prints `doc` on stdout, indented, one trailing newline.
void PrintJson(const nlohmann::json& doc);

}  // namespace zenith::cli
