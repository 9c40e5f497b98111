// Writing beneath a root directory: every path an archive names (a
// snapshot's files in a mount's scratch, an export's directory) is resolved
// strictly inside the root and never through a symbolic link, wherever in
// the path the link is. O_NOFOLLOW alone guards only the last component: an
// entry "x -> /home/owner/.ssh" followed by "x/authorized_keys" would write
// through the link.
//
// Resolution uses Linux openat2 with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS
// for the parent directory and O_NOFOLLOW (or mkdirat/symlinkat, which never
// follow) for the last component. On a kernel without openat2 (ENOSYS) the
// parent is walked component by component with O_NOFOLLOW | O_DIRECTORY.
// Symbolic links may be created (a tablespace link), but nothing is ever
// opened, created or made through one.
//
// Paths are relative, '/'-separated, without "." or ".." components; an
// absolute path or a ".." is InvalidArgument before anything is touched.
// A link met on the way is PermissionDenied, naming the path.
//
// Thread-safety: a BeneathDir is immutable once opened; its methods may run
// on several threads at once.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "common/status.h"
#include "common/unique_fd.h"

namespace zenith {

class BeneathDir {
 public:
  // Opens `root` (a directory; following links in `root` itself is the
  // caller's choice of root, not input from an archive).
  static Result<BeneathDir> Open(const std::string& root);

  // openat(2) of `rel` with `flags` | O_NOFOLLOW | O_CLOEXEC: its parent must
  // exist (see MakeDirectories).
  Result<UniqueFd> OpenFile(std::string_view rel, int flags, mode_t mode = 0600) const;
  // `rel` and its missing parents as directories (mkdir -p); an existing
  // directory is fine, an existing link or file is an error.
  Status MakeDirectories(std::string_view rel, mode_t mode = 0700) const;
  // Sets the permission bits of the directory `rel`.
  Status ChmodDirectory(std::string_view rel, mode_t mode) const;
  // A symbolic link `rel` -> `target` (the target is not resolved here).
  Status Symlink(std::string_view rel, const std::string& target) const;

  const std::string& path() const { return path_; }
  int fd() const { return fd_.get(); }

 private:
  BeneathDir(UniqueFd fd, std::string path) : fd_(std::move(fd)), path_(std::move(path)) {}

  // The parent directory of `rel` (the root itself for a single name),
  // opened beneath the root; *last gets the final component.
  Result<UniqueFd> OpenParent(std::string_view rel, std::string* last) const;

  UniqueFd fd_;
  std::string path_;
};

// OK when `rel` is relative, not empty, and has no "", "." or ".." component.
Status CheckBeneathPath(std::string_view rel);

namespace beneath_internal {
// The directory `rel` beneath `root_fd` without following links, by
// openat2 (false) or by the component walk used where openat2 is missing
// (true). Exposed so that tests run both; use BeneathDir.
Result<UniqueFd> OpenDirectory(int root_fd, const std::string& root_path, std::string_view rel, bool walk);
}  // namespace beneath_internal

}  // namespace zenith
