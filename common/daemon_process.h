// Child processes: starting zenith's daemons detached (through spawn.h),
// and watching them.
//
// Thread-safety: reentrant.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace zenith {

// Starts argv as a daemon: its own session, stdin from /dev/null, stdout and
// stderr appended to `log_path`, no other descriptor but `pass_fd` (if
// valid), which the child gets as descriptor 3 (a readiness pipe). Returns
// the child's pid; the child is not waited for here.
Result<pid_t> SpawnDaemon(const std::vector<std::string>& argv, const std::string& log_path, int pass_fd = -1);

// The exit status of a child that has exited, without blocking; nullopt if
// it still runs.
std::optional<int> ReapIfExited(pid_t pid);

// Waits for child `name` (pid `pid`) to exit: its exit code (128+signal if
// it was killed). IoError if it cannot be waited for.
Result<int> WaitForExit(pid_t pid, const std::string& name);

// True while `pid` runs (a zombie counts as exited).
bool ProcessAlive(pid_t pid);

// The postmaster running on a data directory, from its postmaster.pid
// (a kill -9'd postmaster leaves the file behind: nullopt then).
std::optional<pid_t> RunningPostmaster(const std::string& datadir);

// The directory holding the running executable (zenith, zenith-fs and
// zenith-pageserver live side by side).
std::string ExecutableDir();

// A waitpid status as an exit code: the code, or 128 + the signal.
int ExitCodeOf(int wait_status);

}  // namespace zenith
