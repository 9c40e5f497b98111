// FsCore's namespace operations: creating, linking, renaming and removing
// names, and reading directories. See fs_core.h.
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>  // renameat2, RENAME_*
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "fs/fs_core.h"

namespace zenith::fs::internal {
namespace {

bool IsDirectoryEntry(const Inode& dir, const char* name) {
  struct stat st;
  return ::fstatat(dir.fd.get(), name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

bool IsDotOrDotDot(const char* name) { return std::strcmp(name, ".") == 0 || std::strcmp(name, "..") == 0; }

}  // namespace

Result<fuse_entry_param> FsCore::MakeNode(fuse_ino_t parent_ino, const char* name, mode_t mode, dev_t rdev) {
  Inode& parent = inodes_.Get(parent_ino);
  std::string path = ChildPath(parent, name);
  const bool relation = S_ISREG(mode) && ParseRelationPath(path).has_value();
  std::shared_lock snapshot(snapshot_lock_, std::defer_lock);
  std::unique_lock ns(ns_mu_, std::defer_lock);
  if (relation) {
    snapshot.lock();
    ns.lock();
  }
  if (::mknodat(parent.fd.get(), name, mode, rdev) != 0) return ErrnoStatus("create", path, errno);
  // Our own umask must not narrow the mode the kernel already masked.
  if (::fchmodat(parent.fd.get(), name, mode & 07777, 0) != 0) return ErrnoStatus("change the mode of", path, errno);
  return AcquireChild(parent, name, path, /*created=*/relation);
}

Result<fuse_entry_param> FsCore::MakeDir(fuse_ino_t parent_ino, const char* name, mode_t mode) {
  Inode& parent = inodes_.Get(parent_ino);
  std::string path = ChildPath(parent, name);
  if (::mkdirat(parent.fd.get(), name, mode) != 0) return ErrnoStatus("create directory", path, errno);
  if (::fchmodat(parent.fd.get(), name, mode & 07777, 0) != 0) return ErrnoStatus("change the mode of", path, errno);
  return AcquireChild(parent, name, path, /*created=*/false);
}

Result<fuse_entry_param> FsCore::MakeSymlink(const char* target, fuse_ino_t parent_ino, const char* name) {
  Inode& parent = inodes_.Get(parent_ino);
  std::string path = ChildPath(parent, name);
  if (::symlinkat(target, parent.fd.get(), name) != 0) return ErrnoStatus("create symbolic link", path, errno);
  return AcquireChild(parent, name, path, /*created=*/false);
}

Result<fuse_entry_param> FsCore::Link(fuse_ino_t ino, fuse_ino_t new_parent_ino, const char* new_name) {
  Inode& inode = inodes_.Get(ino);
  Inode& new_parent = inodes_.Get(new_parent_ino);
  std::string path = ChildPath(new_parent, new_name);
  // A relation file has exactly one name, its own.
  if (inode.segment != nullptr || ParseRelationPath(path)) return ErrnoStatus("link", path, EXDEV);
  std::string proc = "/proc/self/fd/" + std::to_string(inode.fd.get());
  if (::linkat(AT_FDCWD, proc.c_str(), new_parent.fd.get(), new_name, AT_SYMLINK_FOLLOW) != 0) {
    return ErrnoStatus("link", path, errno);
  }
  struct stat st;
  if (::fstatat(inode.fd.get(), "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) {
    return ErrnoStatus("stat", path, errno);
  }
  if (path == kControlFilePath) inode.is_control = true;
  inodes_.AddLookup(inode);
  return Entry(inode, st);
}

Status FsCore::Unlink(fuse_ino_t parent_ino, const char* name) {
  Inode& parent = inodes_.Get(parent_ino);
  std::string path = ChildPath(parent, name);
  std::optional<RelSegment> rel = ParseRelationPath(path);
  std::shared_lock snapshot(snapshot_lock_, std::defer_lock);
  std::unique_lock ns(ns_mu_, std::defer_lock);
  if (rel) {
    snapshot.lock();
    ns.lock();
  }
  if (::unlinkat(parent.fd.get(), name, 0) != 0) return ErrnoStatus("remove", path, errno);
  if (rel) relations_.Unlinked(*rel);
  return Status::Ok();
}

Status FsCore::RemoveDir(fuse_ino_t parent_ino, const char* name) {
  Inode& parent = inodes_.Get(parent_ino);
  if (::unlinkat(parent.fd.get(), name, AT_REMOVEDIR) != 0) return ErrnoStatus("remove directory", ChildPath(parent, name), errno);
  return Status::Ok();
}

Status FsCore::RefuseRelationRename(Inode& parent, const char* name, const std::string& from, Inode& new_parent,
                                    const char* new_name, const std::string& to, unsigned flags) {
  if (ParseRelationPath(from) || ParseRelationPath(to)) return ErrnoStatus("rename", from, EXDEV);
  if (!InRelationArea(from) && !InRelationArea(to)) return Status::Ok();
  bool moves_directory = IsDirectoryEntry(parent, name) ||
                         ((flags & RENAME_EXCHANGE) != 0 && IsDirectoryEntry(new_parent, new_name));
  if (moves_directory) return ErrnoStatus("rename", from, EXDEV);
  return Status::Ok();
}

void FsCore::RefreshControlFlag(Inode& dir, const char* name, const std::string& path) {
  struct stat st;
  if (::fstatat(dir.fd.get(), name, &st, AT_SYMLINK_NOFOLLOW) != 0) return;
  if (Inode* inode = inodes_.Find(st.st_dev, st.st_ino)) inode->is_control = path == kControlFilePath;
}

// PostgreSQL never renames relation files or the directories that hold them;
// refusing keeps relation names stable (RelationTable relies on it). Tools
// like mv then copy and unlink, which work.
Status FsCore::Rename(fuse_ino_t parent_ino, const char* name, fuse_ino_t new_parent_ino, const char* new_name,
                      unsigned flags) {
  Inode& parent = inodes_.Get(parent_ino);
  Inode& new_parent = inodes_.Get(new_parent_ino);
  std::string from = ChildPath(parent, name), to = ChildPath(new_parent, new_name);
  if ((flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE)) != 0) return ErrnoStatus("rename", from, EINVAL);
  ZENITH_RETURN_IF_ERROR(RefuseRelationRename(parent, name, from, new_parent, new_name, to, flags));
  if (::renameat2(parent.fd.get(), name, new_parent.fd.get(), new_name, flags) != 0) {
    return ErrnoStatus("rename", from, errno);
  }
  if (from == kControlFilePath || to == kControlFilePath) {
    RefreshControlFlag(new_parent, new_name, to);
    if (flags & RENAME_EXCHANGE) RefreshControlFlag(parent, name, from);
  }
  return Status::Ok();
}

// Creates with O_EXCL to know whether the file is new (a new relation file
// starts empty, with no remote blocks); without O_EXCL from the caller an
// existing file is opened instead, as open(2) would.
Result<fuse_entry_param> FsCore::CreateNamed(Inode& parent, const char* name, mode_t mode, int flags,
                                             fuse_file_info* fi, bool* truncate_existing) {
  std::string path = ChildPath(parent, name);
  int open_flags = (flags & ~(O_CREAT | O_EXCL | O_TRUNC | O_APPEND | O_NOFOLLOW | O_DIRECT)) | O_CLOEXEC;
  bool created = true;
  int fd = ::openat(parent.fd.get(), name, open_flags | O_CREAT | O_EXCL | O_NOFOLLOW, mode);
  if (fd < 0 && errno == EEXIST && (flags & O_EXCL) == 0) {
    created = false;
    fd = ::openat(parent.fd.get(), name, open_flags);
  }
  if (fd < 0) return ErrnoStatus("create", path, errno);
  UniqueFd file(fd);
  if (created && ::fchmod(fd, mode & 07777) != 0) return ErrnoStatus("change the mode of", path, errno);
  ZENITH_ASSIGN_OR_RETURN(fuse_entry_param entry, AcquireChild(parent, name, path, created));
  Inode& inode = inodes_.Get(entry.ino);
  fi->fh = files_.Adopt(std::make_unique<FileHandle>(FileHandle{std::move(file), &inode, inode.segment}));
  fi->keep_cache = 1;
  fi->noflush = 1;
  fi->direct_io = (flags & O_DIRECT) != 0;
  *truncate_existing = !created && (flags & O_TRUNC) != 0;
  return entry;
}

Result<fuse_entry_param> FsCore::CreateFile(fuse_ino_t parent_ino, const char* name, mode_t mode,
                                            fuse_file_info* fi) {
  Inode& parent = inodes_.Get(parent_ino);
  bool truncate_existing = false;
  Result<fuse_entry_param> entry = [&]() -> Result<fuse_entry_param> {
    std::shared_lock snapshot(snapshot_lock_, std::defer_lock);
    std::unique_lock ns(ns_mu_, std::defer_lock);
    if (ParseRelationPath(ChildPath(parent, name))) {
      snapshot.lock();
      ns.lock();
    }
    return CreateNamed(parent, name, mode, fi->flags, fi, &truncate_existing);
  }();
  if (!entry.ok() || !truncate_existing) return entry;
  // Only when another create raced ours; done outside the locks above.
  FileHandle& handle = FileOf(fi);
  Status s = Resize(*handle.inode, &handle, 0);
  if (s.ok()) return entry;
  inodes_.Forget(entry->ino, 1);
  Release(fi);
  return s;
}

Status FsCore::OpenDir(fuse_ino_t ino, fuse_file_info* fi) {
  Inode& inode = inodes_.Get(ino);
  int fd = ::openat(inode.fd.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("open directory", inode.path, errno);
  DIR* dir = ::fdopendir(fd);
  if (dir == nullptr) {
    int err = errno;
    ::close(fd);
    return ErrnoStatus("open directory", inode.path, err);
  }
  auto handle = std::make_unique<DirHandle>();
  handle->dir.reset(dir);
  fi->fh = dirs_.Adopt(std::move(handle));
  fi->keep_cache = 1;  // see kCacheTimeout in fs_core.cc
  fi->cache_readdir = 1;
  return Status::Ok();
}

// Fills `buf` with entries from the stream's position. An entry that does
// not fit is left for the next call (its lookup given back); an error after
// some entries were added ends the buffer early instead, so that the lookups
// already counted reach the kernel.
Status FsCore::AddDirEntries(fuse_req_t req, DirHandle& dir, Inode& inode, std::vector<char>* buf, bool plus) {
  size_t used = 0;
  for (;;) {
    errno = 0;
    struct dirent* d = ::readdir(dir.dir.get());
    if (d == nullptr) {
      if (errno != 0 && used == 0) return ErrnoStatus("read directory", inode.path, errno);
      break;
    }
    dir.offset = d->d_off;
    fuse_entry_param e{};
    e.attr.st_ino = d->d_ino;
    e.attr.st_mode = static_cast<mode_t>(d->d_type) << 12;
    bool looked_up = false;
    if (plus && !IsDotOrDotDot(d->d_name)) {
      Result<fuse_entry_param> found = Lookup(inodes_.IdOf(inode), d->d_name);
      if (!found.ok()) {
        if (found.status().code() == StatusCode::kNotFound) continue;  // removed since readdir saw it
        if (used == 0) return found.status();
        break;
      }
      e = *found;
      looked_up = true;
    }
    size_t room = buf->size() - used;
    size_t size = plus ? fuse_add_direntry_plus(req, buf->data() + used, room, d->d_name, &e, d->d_off)
                       : fuse_add_direntry(req, buf->data() + used, room, d->d_name, &e.attr, d->d_off);
    if (size > room) {
      if (looked_up) inodes_.Forget(e.ino, 1);
      break;
    }
    used += size;
  }
  buf->resize(used);
  return Status::Ok();
}

Result<std::vector<char>> FsCore::ReadDir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset,
                                          fuse_file_info* fi, bool plus) {
  Inode& inode = inodes_.Get(ino);
  DirHandle& dir = DirOf(fi);
  std::lock_guard lock(dir.mu);
  if (offset != dir.offset) {
    ::seekdir(dir.dir.get(), offset);
    dir.offset = offset;
  }
  std::vector<char> buf(size);
  ZENITH_RETURN_IF_ERROR(AddDirEntries(req, dir, inode, &buf, plus));
  return buf;
}

void FsCore::ReleaseDir(fuse_file_info* fi) { dirs_.Release(fi->fh); }

}  // namespace zenith::fs::internal
