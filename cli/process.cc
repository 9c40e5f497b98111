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

#include "common/unique_fd.h"

namespace zenith::cli {

namespace {

std::vector<char*> Argv(const std::vector<std::string>& argv) {
  std::vector<char*> out;
  for (const auto& a : argv) out.push_back(const_cast<char*>(a.c_str()));
  out.push_back(nullptr);
  return out;
}

int DecodeWait(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

Result<int> Wait(pid_t pid, const std::string& name) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return ErrnoStatus("wait for " + name, errno);
  }
  return DecodeWait(status);
}

// Forks and execs argv; in the child, stdout becomes `stdout_fd` if valid.
Result<pid_t> Spawn(const std::vector<std::string>& argv, int stdout_fd) {
  auto args = Argv(argv);
  pid_t pid = fork();
  if (pid < 0) return ErrnoStatus("fork to run " + argv[0], errno);
  if (pid == 0) {
    if (stdout_fd >= 0) dup2(stdout_fd, 1);
    execv(args[0], args.data());
    dprintf(2, "zenith: could not run %s: %s\n", args[0], strerror(errno));
    _exit(127);
  }
  return pid;
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

Result<pid_t> SpawnDaemon(const std::vector<std::string>& argv, const std::string& log_path, int keep_fd) {
  auto args = Argv(argv);
  pid_t pid = fork();
  if (pid < 0) return ErrnoStatus("fork to run " + argv[0], errno);
  if (pid == 0) {
    setsid();
    int devnull = open("/dev/null", O_RDONLY);
    int log = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (devnull < 0 || log < 0) _exit(126);
    dup2(devnull, 0);
    dup2(log, 1);
    dup2(log, 2);
    // Close what we inherited, except the readiness pipe.
    for (int fd = 3; fd < 1024; ++fd) {
      if (fd != keep_fd) close(fd);
    }
    if (keep_fd >= 0) fcntl(keep_fd, F_SETFD, 0);
    execv(args[0], args.data());
    dprintf(2, "zenith: could not run %s: %s\n", args[0], strerror(errno));
    _exit(127);
  }
  return pid;
}

std::optional<int> ReapIfExited(pid_t pid) {
  int status = 0;
  pid_t r = waitpid(pid, &status, WNOHANG);
  if (r == pid) return DecodeWait(status);
  if (r < 0 && errno == ECHILD) return -1;
  return std::nullopt;
}

bool ProcessAlive(pid_t pid) {
  if (pid <= 0 || (kill(pid, 0) != 0 && errno != EPERM)) return false;
  // A zombie has finished; only its parent has not reaped it yet (a daemon's
  // parent is init, which on some machines reaps late).
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return false;
  size_t close = line.rfind(')');
  return close == std::string::npos || close + 2 >= line.size() || (line[close + 2] != 'Z' && line[close + 2] != 'X');
}

std::string ExecutableDir() {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return ".";
  buf[n] = '\0';
  std::string path(buf);
  return path.substr(0, path.rfind('/'));
}

}  // namespace zenith::cli
