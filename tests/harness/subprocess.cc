#include "tests/harness/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/unique_fd.h"

namespace zenith::testing {

namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void ExecChild(const std::vector<std::string>& argv, const RunOptions& options) {
  setpgid(0, 0);
  if (!options.cwd.empty() && chdir(options.cwd.c_str()) != 0) _exit(126);
  for (const auto& [k, v] : options.env) setenv(k.c_str(), v.c_str(), 1);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  execvp(args[0], args.data());
  dprintf(2, "exec %s: %s\n", args[0], strerror(errno));
  _exit(127);
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
  pid_t pid = fork();
  if (pid == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    dup2(err[1], 2);
    ExecChild(argv, options);
  }
  close(in[0]);
  close(out[1]);
  close(err[1]);
  if (pid < 0) {
    close(in[1]); close(out[0]); close(err[0]);
    r.err = "fork failed";
    return r;
  }
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
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    int devnull = open("/dev/null", O_RDONLY);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    if (devnull >= 0) dup2(devnull, 0);
    ExecChild(argv, options);
  }
  c.pid_ = pid;
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
