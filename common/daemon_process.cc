#include "common/daemon_process.h"

#include "common/spawn.h"

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

int ExitCodeOf(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return -1;
}

Result<pid_t> SpawnDaemon(const std::vector<std::string>& argv, const std::string& log_path, int pass_fd) {
  SpawnOptions options;
  options.argv = argv;
  options.stdin_null = true;
  options.output_path = log_path;
  if (pass_fd >= 0) options.pass_fds = {pass_fd};
  options.new_session = true;
  return Spawn(options);
}

Result<int> WaitForExit(pid_t pid, const std::string& name) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return ErrnoStatus("wait for " + name, errno);
  }
  return ExitCodeOf(status);
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
std::optional<pid_t> RunningPostmaster(const std::string& datadir) {
  std::ifstream pidfile(datadir + "/postmaster.pid");
  long pid = 0;
  if (!(pidfile >> pid) || pid <= 0 || !ProcessAlive(static_cast<pid_t>(pid))) return std::nullopt;
  return static_cast<pid_t>(pid);
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
