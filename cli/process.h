// Running other programs from the CLI: PostgreSQL's tools in the
// foreground with the user's terminal, and zenith daemons detached.
//
// Thread-safety: call from one thread (fork/exec).
#pragma once

#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "common/unique_fd.h"

namespace zenith::cli {

// Runs argv with the CLI's stdin/stdout/stderr and waits. Returns the exit
// code (128+signal if it was killed).
Result<int> RunForeground(const std::vector<std::string>& argv);

// Like RunForeground, but the program's stdout goes through `keep`, line by
// line: lines it returns false for are not shown.
Result<int> RunForegroundFiltered(const std::vector<std::string>& argv,
                                  const std::function<bool(std::string_view line)>& keep);

// Starts argv as a daemon: its own session, stdin from /dev/null, stdout and
// stderr appended to `log_path`. `keep_fd` (if valid) stays open in the
// child under the same number (a readiness pipe). Returns the child's pid;
// the child is not waited for here.
Result<pid_t> SpawnDaemon(const std::vector<std::string>& argv, const std::string& log_path, int keep_fd = -1);

// The exit status of a child that has exited, without blocking; nullopt if
// it still runs.
std::optional<int> ReapIfExited(pid_t pid);

// True while `pid` runs (a zombie counts as exited).
bool ProcessAlive(pid_t pid);

// The directory holding the running `zenith` executable (zenith-fs and
// zenith-pageserver live beside it).
std::string ExecutableDir();

}  // namespace zenith::cli
