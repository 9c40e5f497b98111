#include "cli/process.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include "common/spawn.h"
#include "common/unique_fd.h"
#include "pageserver/api/conninfo_password.h"
#include "pageserver/api/repo_config.h"

namespace zenith::cli {

namespace {

// Runs argv with the CLI's terminal; stdout and stderr become `stdout_fd`
// and `stderr_fd` where valid.
Result<pid_t> Spawn(const std::vector<std::string>& argv, int stdout_fd, int stderr_fd = -1) {
  SpawnOptions options;
  options.argv = argv;
  options.stdout_fd = stdout_fd;
  options.stderr_fd = stderr_fd;
  return zenith::Spawn(options);
}

// Reads `fd` to EOF, handing each chunk to `chunk`.
void ReadToEnd(int fd, const std::function<void(std::string_view)>& chunk) {
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    chunk(std::string_view(buf, static_cast<size_t>(n)));
  }
}

struct Pipe {
  UniqueFd read_end, write_end;
};

Result<Pipe> MakePipe(const std::string& for_program) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return ErrnoStatus("create a pipe for " + for_program, errno);
  return Pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

}  // namespace

std::string PgBinDir() {
  const char* env = std::getenv("ZENITH_PG_BIN");
  return env && *env ? env : pageserver::RepoConfig{}.pg_bin_dir;
}

Result<int> RunForeground(const std::vector<std::string>& argv) {
  ZENITH_ASSIGN_OR_RETURN(pid_t pid, Spawn(argv, -1));
  return WaitForExit(pid, argv[0]);
}

Result<int> RunForegroundFiltered(const std::vector<std::string>& argv,
                                  const std::function<bool(std::string_view line)>& keep) {
  ZENITH_ASSIGN_OR_RETURN(Pipe pipe, MakePipe(argv[0]));
  auto pid = Spawn(argv, pipe.write_end.get());
  pipe.write_end.reset();  // the child holds the only writer: EOF when it exits
  if (!pid.ok()) return pid.status();
  std::string pending;
  ReadToEnd(pipe.read_end.get(), [&](std::string_view chunk) {
    pending.append(chunk);
    for (size_t eol; (eol = pending.find('\n')) != std::string::npos; pending.erase(0, eol + 1)) {
      std::string_view line(pending.data(), eol);
      if (keep(line)) std::fwrite(pending.data(), 1, eol + 1, stdout);
    }
    std::fflush(stdout);
  });
  if (!pending.empty() && keep(pending)) std::fwrite(pending.data(), 1, pending.size(), stdout);
  return WaitForExit(*pid, argv[0]);
}

namespace {

// Runs argv with its stdout on `stdout_fd` (-1: the CLI's), collecting its stderr.
Result<Outcome> RunCollecting(const std::vector<std::string>& argv, int stdout_fd) {
  ZENITH_ASSIGN_OR_RETURN(Pipe pipe, MakePipe(argv[0]));
  auto pid = Spawn(argv, stdout_fd, pipe.write_end.get());
  pipe.write_end.reset();
  if (!pid.ok()) return pid.status();
  Outcome out;
  ReadToEnd(pipe.read_end.get(), [&](std::string_view chunk) {
    out.errors.append(chunk.substr(0, kMaxCollectedErrors - std::min(out.errors.size(), kMaxCollectedErrors)));
  });
  ZENITH_ASSIGN_OR_RETURN(out.exit_code, WaitForExit(*pid, argv[0]));
  return out;
}

}  // namespace

Result<Outcome> RunCollectingErrors(const std::vector<std::string>& argv) { return RunCollecting(argv, -1); }

Result<Outcome> RunQuietly(const std::vector<std::string>& argv) {
  UniqueFd null(::open("/dev/null", O_WRONLY | O_CLOEXEC));
  if (!null.valid()) return ErrnoStatus("open /dev/null", errno);
  return RunCollecting(argv, null.get());
}

Result<std::string> MovePasswordToEnvironment(const std::string& conninfo) {
  ZENITH_ASSIGN_OR_RETURN(pageserver::ConnInfoParts parts, pageserver::SplitPassword(conninfo));
  if (parts.has_password && ::setenv("PGPASSWORD", parts.password.c_str(), 1) != 0) {
    return ErrnoStatus("set PGPASSWORD", errno);
  }
  return parts.without_password;
}

}  // namespace zenith::cli
