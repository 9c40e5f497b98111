#include "tests/harness/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/spawn.h"
#include "common/unique_fd.h"

namespace zenith::testing {

namespace {

using Clock = std::chrono::steady_clock;

// The child in its own process group (a timeout kills the group), argv[0]
// searched in PATH.
SpawnOptions ChildOptions(const std::vector<std::string>& argv, const RunOptions& options) {
  SpawnOptions s;
  s.argv = argv;
  s.search_path = true;
  s.cwd = options.cwd;
  s.env = options.env;
  s.new_process_group = true;
  return s;
}

void DecodeWaitStatus(int status, RunResult* r) {
  if (WIFEXITED(status)) r->exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) r->term_signal = WTERMSIG(status);
}

// Pumps stdin/stdout/stderr until both outputs close or the deadline passes.
void Pump(int in_fd, int out_fd, int err_fd, const std::string& input, Clock::time_point deadline, RunResult* r) {
  size_t written = 0;
  UniqueFd in(in_fd), out(out_fd), errfd(err_fd);
  if (input.empty()) in.reset();
  while (out.valid() || errfd.valid()) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      r->timed_out = true;
      return;
    }
    pollfd fds[3] = {{out.get(), POLLIN, 0}, {errfd.get(), POLLIN, 0}, {in.get(), POLLOUT, 0}};
    int n = poll(fds, 3, static_cast<int>(std::min<long>(left, 1000)));
    if (n < 0 && errno != EINTR) return;
    char buf[65536];
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t got = read(fds[i].fd, buf, sizeof buf);
      if (got > 0) (i == 0 ? r->out : r->err).append(buf, static_cast<size_t>(got));
      else (i == 0 ? out : errfd).reset();
    }
    if (in.valid() && (fds[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
      ssize_t w = write(in.get(), input.data() + written, input.size() - written);
      if (w > 0) written += static_cast<size_t>(w);
      if (w < 0 || written == input.size()) in.reset();
    }
  }
}

}  // namespace

std::string RunResult::Describe() const {
  std::string s = timed_out ? "timed out" : term_signal ? "killed by signal " + std::to_string(term_signal)
                                                        : "exit " + std::to_string(exit_code);
  return s + "\nstdout: " + out + "\nstderr: " + err;
}

RunResult RunCommand(const std::vector<std::string>& argv, const RunOptions& options) {
  RunResult r;
  int in[2], out[2], err[2];
  if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC)) {
    r.err = "pipe failed";
    return r;
  }
  signal(SIGPIPE, SIG_IGN);
  SpawnOptions spawn = ChildOptions(argv, options);
  spawn.stdin_fd = in[0];
  spawn.stdout_fd = out[1];
  spawn.stderr_fd = err[1];
  auto started = Spawn(spawn);
  close(in[0]);
  close(out[1]);
  close(err[1]);
  if (!started.ok()) {
    close(in[1]); close(out[0]); close(err[0]);
    r.exit_code = 127;
    r.err = started.status().message();
    return r;
  }
  const pid_t pid = *started;
  Pump(in[1], out[0], err[0], options.input, Clock::now() + options.timeout, &r);
  if (r.timed_out) kill(-pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  DecodeWaitStatus(status, &r);
  if (r.timed_out) r.exit_code = -1;
  return r;
}

RunResult RunShell(const std::string& script, const RunOptions& options) {
  return RunCommand({"bash", "-c", script}, options);
}

Child Child::Start(const std::vector<std::string>& argv, const std::string& log_path, const RunOptions& options) {
  Child c;
  SpawnOptions spawn = ChildOptions(argv, options);
  spawn.stdin_null = true;
  spawn.output_path = log_path;
  auto started = Spawn(spawn);
  c.pid_ = started.ok() ? *started : -1;
  return c;
}

Child& Child::operator=(Child&& o) noexcept {
  if (this != &o) {
    Kill();
    pid_ = o.pid_;
    o.pid_ = -1;
  }
  return *this;
}

bool Child::running() {
  if (pid_ <= 0) return false;
  int status;
  pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    pid_ = -1;
    return false;
  }
  return true;
}

void Child::Kill() {
  if (pid_ <= 0) return;
  kill(-pid_, SIGKILL);
  kill(pid_, SIGKILL);
  int status;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
}

}  // namespace zenith::testing
