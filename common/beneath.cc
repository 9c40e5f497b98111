#include "common/beneath.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

namespace zenith {

namespace {

std::string Join(const std::string& root, std::string_view rel) {
  return rel.empty() ? root : root + "/" + std::string(rel);
}

std::vector<std::string_view> Components(std::string_view rel) {
  std::vector<std::string_view> parts;
  for (size_t at = 0; at <= rel.size();) {
    size_t slash = rel.find('/', at);
    if (slash == std::string_view::npos) slash = rel.size();
    parts.push_back(rel.substr(at, slash - at));
    at = slash + 1;
  }
  return parts;
}

// The error for a path the kernel would not resolve beneath the root
// without a link (ELOOP from RESOLVE_NO_SYMLINKS or O_NOFOLLOW, EXDEV from
// RESOLVE_BENEATH), or any other errno.
Status ResolveError(std::string_view op, const std::string& root, std::string_view rel, int err) {
  if (err == ELOOP || err == EXDEV) {
    return PermissionDenied("refused to " + std::string(op) + " \"" + Join(root, rel) +
                            "\": the path goes through a symbolic link (zenith writes only beneath \"" + root +
                            "\" and follows no link there)");
  }
  return ErrnoStatus(op, Join(root, rel), err);
}

// A directory fd must be a directory and not a link (an O_PATH open with
// O_NOFOLLOW may return the link itself).
Status CheckIsDirectory(int fd, const std::string& root, std::string_view rel) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return ErrnoStatus("stat", Join(root, rel), errno);
  if (S_ISLNK(st.st_mode)) return ResolveError("open", root, rel, ELOOP);
  if (!S_ISDIR(st.st_mode)) return ErrnoStatus("open", Join(root, rel), ENOTDIR);
  return Status::Ok();
}

// openat(2) of a directory `name` in `dir`, never through a link: O_PATH
// with O_NOFOLLOW | O_DIRECTORY fails with ENOTDIR on a link, reported as
// the link it is (ELOOP).
UniqueFd OpenSubdirectory(int dir, const std::string& name, int* err) {
  UniqueFd fd(::openat(dir, name.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  *err = fd ? 0 : errno;
  struct stat st;
  if (*err == ENOTDIR && ::fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) {
    *err = ELOOP;
  }
  return fd;
}

UniqueFd OpenByOpenat2(int root_fd, std::string_view rel, int* err) {
  struct open_how how {};
  how.flags = O_PATH | O_DIRECTORY | O_CLOEXEC;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  const std::string path(rel);
  const long fd = ::syscall(SYS_openat2, root_fd, path.c_str(), &how, sizeof how);
  *err = fd < 0 ? errno : 0;
  return UniqueFd(static_cast<int>(fd));
}

// One component at a time, none of them followed if it is a link.
Result<UniqueFd> OpenByWalking(int root_fd, const std::string& root, std::string_view rel) {
  UniqueFd dir(::fcntl(root_fd, F_DUPFD_CLOEXEC, 0));
  if (!dir) return ErrnoStatus("duplicate descriptor of", root, errno);
  for (std::string_view part : Components(rel)) {
    const std::string name(part);
    int err = 0;
    UniqueFd next = OpenSubdirectory(dir.get(), name, &err);
    if (!next) return ResolveError("open", root, rel, err);
    ZENITH_RETURN_IF_ERROR(CheckIsDirectory(next.get(), root, rel));
    dir = std::move(next);
  }
  return dir;
}

}  // namespace

Status CheckBeneathPath(std::string_view rel) {
  if (rel.empty()) return InvalidArgument("an empty path names no file beneath a directory");
  if (rel.front() == '/') return InvalidArgument("\"" + std::string(rel) + "\" is absolute, not beneath a directory");
  for (std::string_view part : Components(rel)) {
    if (part.empty() || part == "." || part == "..") {
      return InvalidArgument("\"" + std::string(rel) + "\" is not a plain relative path (it has an empty, \".\" or "
                             "\"..\" component)");
    }
  }
  return Status::Ok();
}

namespace beneath_internal {

Result<UniqueFd> OpenDirectory(int root_fd, const std::string& root_path, std::string_view rel, bool walk) {
  if (rel.empty()) {
    UniqueFd dup(::fcntl(root_fd, F_DUPFD_CLOEXEC, 0));
    if (!dup) return ErrnoStatus("duplicate descriptor of", root_path, errno);
    return dup;
  }
  ZENITH_RETURN_IF_ERROR(CheckBeneathPath(rel));
  if (!walk) {
    int err = 0;
    UniqueFd fd = OpenByOpenat2(root_fd, rel, &err);
    if (fd) return fd;
    // No openat2 (an old kernel, or a seccomp filter that does not know it).
    if (err != ENOSYS && err != EPERM) return ResolveError("open", root_path, rel, err);
  }
  return OpenByWalking(root_fd, root_path, rel);
}

}  // namespace beneath_internal

Result<BeneathDir> BeneathDir::Open(const std::string& root) {
  UniqueFd fd(::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return ErrnoStatus("open", root, errno);
  return BeneathDir(std::move(fd), root);
}

Result<UniqueFd> BeneathDir::OpenParent(std::string_view rel, std::string* last) const {
  ZENITH_RETURN_IF_ERROR(CheckBeneathPath(rel));
  const size_t slash = rel.rfind('/');
  *last = std::string(slash == std::string_view::npos ? rel : rel.substr(slash + 1));
  const std::string_view parent = slash == std::string_view::npos ? std::string_view() : rel.substr(0, slash);
  return beneath_internal::OpenDirectory(fd_.get(), path_, parent, /*walk=*/false);
}

Result<UniqueFd> BeneathDir::OpenFile(std::string_view rel, int flags, mode_t mode) const {
  std::string last;
  ZENITH_ASSIGN_OR_RETURN(UniqueFd parent, OpenParent(rel, &last));
  UniqueFd fd(::openat(parent.get(), last.c_str(), flags | O_NOFOLLOW | O_CLOEXEC, mode));
  if (!fd) return ResolveError("open", path_, rel, errno);
  return fd;
}

Status BeneathDir::MakeDirectories(std::string_view rel, mode_t mode) const {
  ZENITH_RETURN_IF_ERROR(CheckBeneathPath(rel));
  UniqueFd dir(::fcntl(fd_.get(), F_DUPFD_CLOEXEC, 0));
  if (!dir) return ErrnoStatus("duplicate descriptor of", path_, errno);
  size_t done = 0;
  for (std::string_view part : Components(rel)) {
    done += part.size() + (done == 0 ? 0 : 1);
    const std::string name(part);
    // mkdirat never follows a link in its last component: an existing link
    // is EEXIST, then refused by the open below.
    if (::mkdirat(dir.get(), name.c_str(), mode) != 0 && errno != EEXIST) {
      return ErrnoStatus("create directory", Join(path_, rel.substr(0, done)), errno);
    }
    int err = 0;
    UniqueFd next = OpenSubdirectory(dir.get(), name, &err);
    if (!next) return ResolveError("open", path_, rel.substr(0, done), err);
    ZENITH_RETURN_IF_ERROR(CheckIsDirectory(next.get(), path_, rel.substr(0, done)));
    dir = std::move(next);
  }
  return Status::Ok();
}

Status BeneathDir::ChmodDirectory(std::string_view rel, mode_t mode) const {
  std::string last;
  ZENITH_ASSIGN_OR_RETURN(UniqueFd parent, OpenParent(rel, &last));
  UniqueFd dir(::openat(parent.get(), last.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!dir) return ResolveError("open", path_, rel, errno);
  if (::fchmod(dir.get(), mode) != 0) return ErrnoStatus("chmod", Join(path_, rel), errno);
  return Status::Ok();
}

Status BeneathDir::Symlink(std::string_view rel, const std::string& target) const {
  std::string last;
  ZENITH_ASSIGN_OR_RETURN(UniqueFd parent, OpenParent(rel, &last));
  if (::symlinkat(target.c_str(), parent.get(), last.c_str()) != 0) {
    return ErrnoStatus("create symlink", Join(path_, rel), errno);
  }
  return Status::Ok();
}

}  // namespace zenith
