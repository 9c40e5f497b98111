// Running PostgreSQL's tools from the CLI in the foreground, with the user's
// terminal (daemons: common/daemon_process.h).
//
// Thread-safety: call from one thread (fork/exec).
#pragma once

#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/daemon_process.h"
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

}  // namespace zenith::cli
