// ZenithEnv: a repository in a test's own directory, driven through the real
// `zenith` command as a user would, plus helpers to crash processes for real.
// The destructor stops every PostgreSQL started on its mounts, unmounts, and
// stops the page server, even when the test failed.
//
// Thread-safety: one owner.
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/harness/subprocess.h"
#include "tests/harness/temp_dir.h"

namespace zenith::testing {

class ZenithEnv {
 public:
  // The repository is dir/.zenith; `zenith` runs with dir as its cwd.
  explicit ZenithEnv(const TempDir& dir);
  ZenithEnv(const ZenithEnv&) = delete;
  ZenithEnv& operator=(const ZenithEnv&) = delete;
  ~ZenithEnv();

  // Runs `zenith args...`.
  RunResult Zenith(const std::vector<std::string>& args) const;
  // Same, recording a test failure (with its output) unless it exits 0.
  RunResult MustZenith(const std::vector<std::string>& args) const;
  // Starts `zenith args...`, its output appended to `log_path`; the Child
  // kills it and every process it started (its process group) with SIGKILL.
  Child StartZenith(const std::vector<std::string>& args, const std::string& log_path) const;

  const std::string& dir() const { return dir_; }
  std::string repo() const { return dir_ + "/.zenith"; }
  // An environment variable for every later `zenith` (and so for the
  // daemons it starts).
  void SetEnv(const std::string& name, const std::string& value) { env_[name] = value; }
  // Changes .zenith/config as `edit` says (durably), recording a test
  // failure if it cannot be read or written. Later `zenith` commands see it;
  // a running page server reads it at its next start.
  void EditConfig(const std::function<void(nlohmann::json&)>& edit) const;

 private:
  std::string dir_;
  std::map<std::string, std::string> env_ = {{"ZENITH_REPO", ""}};
};

// SIGKILLs a process and every descendant, and waits until all are gone.
void KillTree(pid_t root);
// The postmaster running on `datadir` (from postmaster.pid), or 0.
pid_t PostmasterOf(const std::string& datadir);
// Every process of this user whose name (comm) is `name`.
std::vector<pid_t> ProcessesNamed(const std::string& name);
// Every process of this user with `arg` among its arguments (a test's own
// mountpoint or repository tells its daemons from other tests').
std::vector<pid_t> ProcessesWithArgument(const std::string& arg);
// Waits until none of `pids` exists any more (they may be reaped late).
void WaitGone(const std::vector<pid_t>& pids);

}  // namespace zenith::testing
