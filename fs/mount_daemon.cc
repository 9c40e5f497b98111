#include "fs/mount_daemon.h"

#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <spdlog/spdlog.h>
#include <thread>

#include "common/byte_io.h"
#include "common/catch_all.h"
#include "common/file_util.h"
#include "fs/scratch_setup.h"

namespace zenith::fs {

void Readiness::Report(const std::string& line) {
  if (!fd_.valid()) return;
  std::string msg = line + "\n";
  IgnoreError(WriteFull(fd_.get(), AsBytes(msg), "readiness pipe"));
  fd_.reset();
}

Status CheckFuseAvailable(const std::string& device) {
  const char* hint =
      "; as root, run mount_helpers/install-deps.sh, which installs fuse3 and makes /dev/fuse usable by users";
  if (access(device.c_str(), R_OK | W_OK) != 0) {
    return Unavailable("FUSE is not available on this machine: " + device + ": " + std::strerror(errno) + hint);
  }
  if (geteuid() != 0 && access("/usr/bin/fusermount3", X_OK) != 0) {
    return Unavailable(std::string("FUSE is not available on this machine: /usr/bin/fusermount3 is missing") + hint);
  }
  return Status::Ok();
}

void MountSteps::Done(const char* step) {
  auto now = std::chrono::steady_clock::now();
  summary_ += (summary_.empty() ? "" : ", ") + std::string(step) + " " +
              std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(now - last_).count()) + " ms";
  last_ = now;
}

sigset_t BlockDaemonSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGUSR1);
  sigaddset(&signals, SIGUSR2);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  return signals;
}

namespace {

// SIGTERM/SIGINT stop the filesystem; SIGUSR1 logs the request counters so
// far (for profiling a running mount). Taken synchronously on a thread.
std::thread StartSignalThread(DatadirFs* fs, const MountPages* pages, sigset_t signals) {
  // Runs until our own SIGUSR2 at exit, so waking it is always safe.
  return std::thread([fs, pages, signals] {
    for (;;) {
      int sig = 0;
      sigwait(&signals, &sig);
      if (sig == SIGUSR2) return;
      if (sig == SIGUSR1) {
        spdlog::info("served FUSE requests so far: {}; {}", fs->RequestSummary(), pages->Summary());
        continue;
      }
      spdlog::info("received signal {}, unmounting", sig);
      fs->Stop();
    }
  });
}

}  // namespace

Status ServeUntilStopped(DatadirFs& fs, const MountPages& pages, const std::string& scratch, sigset_t signals) {
  std::thread signal_thread = StartSignalThread(&fs, &pages, signals);
  // What BuildScratch set aside goes in the background, not on the mount's path.
  std::atomic<bool> stop_removing{false};
  std::thread trash_remover([&scratch, &stop_removing] {
    Status s = CatchAll("removing the old scratch", [&] { return RemoveScratchTrash(scratch, stop_removing); });
    if (!s.ok()) spdlog::warn("{}", s.message());
  });
  Status run = fs.Run();
  pthread_kill(signal_thread.native_handle(), SIGUSR2);
  signal_thread.join();
  stop_removing = true;  // the rest waits for the next mount
  trash_remover.join();
  if (!run.ok()) spdlog::error("the filesystem stopped: {}", run.message());
  spdlog::info("served FUSE requests: {}", fs.RequestSummary());
  spdlog::info("{}", pages.Summary());
  return run;
}

}  // namespace zenith::fs
