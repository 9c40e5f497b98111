// RunMount: carries out a MountPlan (fs/mount_plan.h): mounts, reports
// ready to the CLI, serves until unmounted or signalled, then (read-write)
// uploads the snapshot it still owes and lets the lease go.
// ZenithFsMain is all of zenith-fs's main(); a test program calls it with
// hooks of its own (tests/programs/).
//
// Thread-safety: call once per process, from its main thread, before any
// other thread starts (it blocks the signals it takes on a thread).
#pragma once

#include <functional>

#include "fs/mount_plan.h"

namespace zenith::fs {

// Seams for tests of the daemon's life; the shipped program passes none.
struct MountHooks {
  // Called once the filesystem is mounted, before the mount reports ready
  // (a read-write mount; a test program makes a daemon that never gets
  // ready by not returning). May be empty.
  std::function<void()> before_ready;
};

// The process's exit code: 0 after a clean unmount (and, read-write, the
// last snapshot stored), 1 when mounting or serving failed (the reason is
// logged and reported on plan.ready_fd).
int RunMount(const MountPlan& plan, const MountHooks& hooks = {});

// Parses zenith-fs's command line (AddMountOptions), plans and runs the
// mount. Exit code 2 for options that make no plan.
int ZenithFsMain(int argc, char** argv, const MountHooks& hooks = {});

}  // namespace zenith::fs
