// FUSE's mount helper for unprivileged users. A user (not root) mounts a FUSE
// filesystem through fusermount3, which must be setuid root to open
// /dev/fuse and call mount(2) for them. When dpkg stops at a conffile prompt
// while installing fuse3 it leaves the package unconfigured and fusermount3
// without its setuid bit; every mount then fails with a bare "Operation not
// permitted". CheckFusermount names that cause before a mount is attempted.
//
// Thread-safety: stateless; safe from any thread.
#pragma once

#include <sys/types.h>

#include <string>

#include "common/status.h"

namespace zenith {

inline constexpr const char* kFusermount = "/usr/bin/fusermount3";

// Ok when `euid` is root (it mounts without the helper) or when `helper` is a
// regular file owned by root with the setuid bit and executable by others.
// Otherwise an error that says what is wrong and how to repair it.
Status CheckFusermount(const std::string& helper, uid_t euid);

}  // namespace zenith
