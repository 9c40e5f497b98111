#include "common/fusermount.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>

namespace zenith {

namespace {

constexpr const char* kRepair =
    "; as root, run `dpkg --configure -a` (a fuse3 left unconfigured by an interrupted install) or "
    "mount_helpers/install-deps.sh";

std::string Mode(mode_t mode) {
  char buf[8];
  snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

}  // namespace

Status CheckFusermount(const std::string& helper, uid_t euid) {
  if (euid == 0) return Status::Ok();
  struct stat st{};
  if (stat(helper.c_str(), &st) != 0) {
    if (errno == ENOENT) return Unavailable("FUSE cannot be used: " + helper + " is missing (install fuse3)" + kRepair);
    return ErrnoStatus("stat", helper, errno);
  }
  if (!S_ISREG(st.st_mode)) return Unavailable("FUSE cannot be used: " + helper + " is not a regular file");
  if (st.st_uid != 0 || (st.st_mode & S_ISUID) == 0) {
    return PermissionDenied("FUSE cannot be used by a user: " + helper + " is not setuid root (mode " + Mode(st.st_mode) +
                            ", owner uid " + std::to_string(st.st_uid) + ")" + kRepair);
  }
  if ((st.st_mode & S_IXOTH) == 0) {
    return PermissionDenied("FUSE cannot be used by a user: " + helper + " is not executable by others (mode " +
                            Mode(st.st_mode) + ")" + kRepair);
  }
  return Status::Ok();
}

}  // namespace zenith
