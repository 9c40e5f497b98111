#include "common/daemon_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <fstream>

namespace zenith {

std::vector<char*> ExecArgv(const std::vector<std::string>& argv) {
  std::vector<char*> out;
  for (const auto& a : argv) out.push_back(const_cast<char*>(a.c_str()));
  out.push_back(nullptr);
  return out;
}

int ExitCodeOf(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return -1;
}

Result<pid_t> SpawnDaemon(const std::vector<std::string>& argv, const std::string& log_path, int keep_fd) {
  auto args = ExecArgv(argv);
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
  if (r == pid) return ExitCodeOf(status);
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
}  // namespace zenith
