// Starting child processes with posix_spawn(3): nothing of ours runs between
// fork and exec (the C library's spawn is async-signal-safe, even in a
// multithreaded process), every file descriptor the parent holds is closed
// in the child except the standard ones and those passed on purpose, and the
// child starts with no signal blocked and default dispositions (a daemon
// that blocks SIGTERM for its signal thread, or ignores SIGPIPE, does not
// hand that on). The one way the CLI, the daemons and the tests start
// programs.
//
// Thread-safety: reentrant.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

#include "common/status.h"

namespace zenith {

struct SpawnOptions {
  std::vector<std::string> argv;  // argv[0]: a path, or a name to look up in PATH (search_path)
  bool search_path = false;
  std::string cwd;                            // empty: the parent's
  std::map<std::string, std::string> env;     // added to (or replacing in) the parent's environment
  // The child's stdin, stdout and stderr: a descriptor of the parent's, or
  // -1 to inherit the parent's own. `stdin_null` reads /dev/null instead;
  // `output_path` (appended, created 0600) takes stdout and stderr.
  int stdin_fd = -1, stdout_fd = -1, stderr_fd = -1;
  bool stdin_null = false;
  std::string output_path;
  // Descriptors the child keeps, renumbered 3, 4, ... in this order.
  std::vector<int> pass_fds;
  bool new_session = false;        // setsid: a daemon, detached from the terminal
  bool new_process_group = false;  // its own group, so a test can kill it whole
};

// The child's pid. IoError naming the program when it cannot be started
// (exec failures such as a missing program come back here too).
Result<pid_t> Spawn(const SpawnOptions& options);

}  // namespace zenith
