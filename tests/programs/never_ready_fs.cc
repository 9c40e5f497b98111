// zenith-fs-never-ready: zenith-fs whose read-write mount, once mounted,
// never reports ready (it waits for signals instead), for tests of what
// `zenith mount` does with such a daemon. Tests install it as `zenith-fs`
// beside a copy of `zenith` (tests/harness/test_env.h, TestBinDir).
#include <unistd.h>

#include "fs/mount_run.h"

int main(int argc, char** argv) {
  zenith::fs::MountHooks hooks;
  hooks.before_ready = [] {
    for (;;) pause();
  };
  return zenith::fs::ZenithFsMain(argc, argv, hooks);
}
