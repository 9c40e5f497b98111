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

// Where PostgreSQL 15's programs are: $ZENITH_PG_BIN, else Debian's
// /usr/lib/postgresql/15/bin.
std::string PgBinDir();

// Runs argv with the CLI's stdin/stdout/stderr and waits. Returns the exit
// code (128+signal if it was killed).
Result<int> RunForeground(const std::vector<std::string>& argv);

// Like RunForeground, but the program's stdout goes through `keep`, line by
// line: lines it returns false for are not shown.
Result<int> RunForegroundFiltered(const std::vector<std::string>& argv,
                                  const std::function<bool(std::string_view line)>& keep);

// How a program collected with RunCollectingErrors ended.
struct Outcome {
  int exit_code = 0;
  std::string errors;  // its stderr, at most kMaxCollectedErrors bytes
};
inline constexpr size_t kMaxCollectedErrors = 64 * 1024;

// Runs argv with the CLI's stdout; its stderr is collected, not shown, so
// the CLI can say what went wrong in its own words.
Result<Outcome> RunCollectingErrors(const std::vector<std::string>& argv);
// Like RunCollectingErrors, with the program's stdout thrown away.
Result<Outcome> RunQuietly(const std::vector<std::string>& argv);

// `conninfo` (a libpq connection string or URI) as a child's arguments and
// the CLI's messages may show it: a password it names moves to this
// process's environment (PGPASSWORD), which the programs the CLI starts
// inherit and libpq reads; nothing else sees it. kInvalidArgument if libpq
// cannot parse it. The CLI runs one command: setting its environment is safe.
Result<std::string> MovePasswordToEnvironment(const std::string& conninfo);

}  // namespace zenith::cli
