// InodeTable: the inodes the kernel knows, keyed by their scratch file's
// (st_dev, st_ino), each holding an O_PATH fd of that file (the approach of
// libfuse's passthrough_hp). The FUSE inode number is the Inode's address;
// FUSE_ROOT_ID is the scratch root.
//
// Lookup counts are invariants: every entry reply (lookup, create, mkdir,
// symlink, link, readdirplus) adds one, FORGET takes them away, and taking
// away more than was added aborts the process, loudly: the kernel and the
// table disagree and any later answer could name the wrong file. The O_PATH
// fd pins the scratch inode, so its number cannot be reused while the kernel
// still knows it.
//
// Thread-safety: all methods are thread-safe (one mutex guards the map and
// the lookup counts). An Inode's fields are immutable after creation except
// where noted.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "common/unique_fd.h"
#include "fs/fuse_api.h"
#include "fs/segment.h"

namespace zenith::fs {

struct Inode {
  Inode(UniqueFd fd, const struct stat& st, std::string path, std::shared_ptr<Segment> segment, bool is_control)
      : fd(std::move(fd)), dev(st.st_dev), ino(st.st_ino), path(std::move(path)), segment(std::move(segment)),
        is_control(is_control) {}

  const UniqueFd fd;  // O_PATH, O_NOFOLLOW
  const dev_t dev;
  const ino_t ino;
  // Datadir-relative path when first looked up ("" for the root). Exact in
  // base/, global/ and pg_tblspc/, which are never renamed; elsewhere it may
  // go stale after a rename of an ancestor, which cannot matter: it only
  // classifies files (nothing outside those directories is a relation file)
  // and names them in log lines.
  const std::string path;
  // The relation segment state, for relation files; null otherwise.
  const std::shared_ptr<Segment> segment;
  // Whether writes to this file report pg_control (set again when a file is
  // renamed or linked to global/pg_control).
  std::atomic<bool> is_control;
  // Orders pg_control writes with the copies handed to on_control_write.
  std::mutex control_mu;

 private:
  friend class InodeTable;
  uint64_t nlookup_ = 0;  // guarded by InodeTable::mu_
};

class InodeTable {
 public:
  // `root_fd`: O_PATH fd of the scratch root, whose stat is `root_st`.
  InodeTable(UniqueFd root_fd, const struct stat& root_st);

  Inode& root() { return *root_; }
  // The inode the kernel calls `ino`. Aborts on a number this table never
  // gave out or already forgot (the kernel must not send those).
  Inode& Get(fuse_ino_t ino);
  fuse_ino_t IdOf(const Inode& inode) const;

  // Returns the inode of the scratch file `st` with one more lookup. A new
  // inode takes `fd` and the other arguments; a known one keeps its own and
  // `fd` is closed.
  Inode& Acquire(UniqueFd fd, const struct stat& st, std::string path, std::shared_ptr<Segment> segment,
                 bool is_control);
  // Adds one lookup to an inode the kernel already knows (link()).
  void AddLookup(Inode& inode);
  // The known inode of (dev, ino), or null. The pointer stays valid only
  // while the kernel holds a lookup on it.
  Inode* Find(dev_t dev, ino_t ino);
  // Removes `n` lookups; the inode is dropped when none are left. The root
  // is never dropped. Aborts when `n` exceeds the count.
  void Forget(fuse_ino_t ino, uint64_t n);

 private:
  std::unique_ptr<Inode> root_;
  std::mutex mu_;  // guards inodes_ and every Inode::nlookup_
  std::map<std::pair<dev_t, ino_t>, std::unique_ptr<Inode>> inodes_;
};

}  // namespace zenith::fs
