// Running real programs from tests: one-shot commands with captured output
// and a timeout, and long-running children owned by an RAII handle.
//
// Thread-safety: each object is used by one thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace zenith::testing {

struct RunResult {
  int exit_code = -1;     // exit status, or -1 if killed by a signal or timed out
  int term_signal = 0;    // signal that ended the process, 0 if it exited
  bool timed_out = false;
  std::string out;        // everything written to stdout
  std::string err;        // everything written to stderr
  bool ok() const { return exit_code == 0; }
  // "exit 1: <stderr>" for failure messages.
  std::string Describe() const;
};

struct RunOptions {
  std::string cwd;                                 // empty: inherit
  std::map<std::string, std::string> env;          // added to (or replacing in) the environment
  std::string input;                               // written to stdin, then closed
  std::chrono::milliseconds timeout{std::chrono::seconds(120)};
};

// Runs argv[0] (searched in PATH) to completion. The child is killed with
// SIGKILL (its whole process group) when the timeout passes.
RunResult RunCommand(const std::vector<std::string>& argv, const RunOptions& options = {});

// Runs `bash -c script`, for shell pipelines in tests.
RunResult RunShell(const std::string& script, const RunOptions& options = {});

// A child process that lives until Stop() or destruction, which sends
// SIGKILL to its process group and reaps it.
class Child {
 public:
  Child() = default;
  // Starts argv with stdout and stderr appended to `log_path`.
  static Child Start(const std::vector<std::string>& argv, const std::string& log_path, const RunOptions& options = {});
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  Child(Child&& o) noexcept : pid_(o.pid_) { o.pid_ = -1; }
  Child& operator=(Child&& o) noexcept;
  ~Child() { Kill(); }

  pid_t pid() const { return pid_; }
  bool running();
  // SIGKILL and reap; no-op if not running.
  void Kill();

 private:
  pid_t pid_ = -1;
};

}  // namespace zenith::testing
