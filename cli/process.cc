#include "cli/process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

#include "common/spawn.h"
#include "common/unique_fd.h"

namespace zenith::cli {

namespace {

Result<int> Wait(pid_t pid, const std::string& name) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return ErrnoStatus("wait for " + name, errno);
  }
  return ExitCodeOf(status);
}

// Runs argv with the CLI's terminal; stdout becomes `stdout_fd` if valid.
Result<pid_t> Spawn(const std::vector<std::string>& argv, int stdout_fd) {
  SpawnOptions options;
  options.argv = argv;
  options.stdout_fd = stdout_fd;
  return zenith::Spawn(options);
}

}  // namespace

Result<int> RunForeground(const std::vector<std::string>& argv) {
  ZENITH_ASSIGN_OR_RETURN(pid_t pid, Spawn(argv, -1));
  return Wait(pid, argv[0]);
}

Result<int> RunForegroundFiltered(const std::vector<std::string>& argv,
                                  const std::function<bool(std::string_view line)>& keep) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return ErrnoStatus("create a pipe for " + argv[0], errno);
  UniqueFd read_end(fds[0]), write_end(fds[1]);
  auto pid = Spawn(argv, write_end.get());
  write_end.reset();  // the child holds the only writer: EOF when it exits
  if (!pid.ok()) return pid.status();
  std::string pending;
  char buf[4096];
  for (;;) {
    ssize_t n = read(read_end.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    pending.append(buf, static_cast<size_t>(n));
    for (size_t eol; (eol = pending.find('\n')) != std::string::npos; pending.erase(0, eol + 1)) {
      std::string_view line(pending.data(), eol);
      if (keep(line)) std::fwrite(pending.data(), 1, eol + 1, stdout);
    }
    std::fflush(stdout);
  }
  if (!pending.empty() && keep(pending)) std::fwrite(pending.data(), 1, pending.size(), stdout);
  return Wait(*pid, argv[0]);
}

}  // namespace zenith::cli
