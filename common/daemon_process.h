// Child processes: starting zenith's daemons detached, and watching them.
//
// Thread-safety: reentrant; fork/exec from a multithreaded process is safe
// here because the child only calls async-signal-safe functions before exec.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace zenith {

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

// The directory holding the running executable (zenith, zenith-fs and
// zenith-pageserver live side by side).
std::string ExecutableDir();

// argv as exec wants it: pointers into `argv`, then nullptr.
std::vector<char*> ExecArgv(const std::vector<std::string>& argv);
// A waitpid status as an exit code: the code, or 128 + the signal.
int ExitCodeOf(int wait_status);

}  // namespace zenith
