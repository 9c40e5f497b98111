// The parts of the zenith-fs daemon around a DatadirFs that every kind of
// mount shares: the readiness line to the CLI, the check that FUSE is
// there, the timing of the mount's steps, and serving until unmounted or
// signalled (fs/mount_run.h puts them together).
//
// Thread-safety: Readiness and MountSteps belong to the mount's main
// thread; ServeUntilStopped starts and joins its own threads.
#pragma once

#include <signal.h>

#include <chrono>
#include <string>

#include "common/status.h"
#include "common/unique_fd.h"
#include "fs/datadir_fs.h"
#include "fs/mount_pages.h"

namespace zenith::fs {

// Tells the CLI how the mount went, once: "ok <snapshot LSN>" or
// "error <message>" on the --ready-fd pipe (none when fd < 0).
class Readiness {
 public:
  explicit Readiness(int fd) : fd_(fd) {}
  void Report(const std::string& line);

 private:
  UniqueFd fd_;
};

// FUSE needs its device (and, for a user, the setuid fusermount3 helper).
// kUnavailable, saying how to install it, when either is missing.
Status CheckFuseAvailable(const std::string& device);

// How long each step of mounting took, for the log (tests/bench/mount_bench
// reports it).
class MountSteps {
 public:
  void Done(const char* step);
  const std::string& Summary() const { return summary_; }

 private:
  std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
  std::string summary_;
};

// The signals the daemon takes on a thread of its own, blocked in the
// calling thread: call before any thread starts, so that all inherit it.
sigset_t BlockDaemonSignals();

// Serves the mounted filesystem until it is unmounted or gets SIGTERM or
// SIGINT (SIGUSR1 logs the request counters so far); removes the trash
// BuildScratch set aside in `scratch` meanwhile. OK if it stopped cleanly.
// REQUIRES: `signals` from BlockDaemonSignals(), fs mounted.
Status ServeUntilStopped(DatadirFs& fs, const MountPages& pages, const std::string& scratch, sigset_t signals);

}  // namespace zenith::fs
