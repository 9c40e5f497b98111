#include "fs/fs_core.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>

#include "common/pg_abi.h"
#include "fs/relation_io.h"

namespace zenith::fs::internal {
namespace {

// Entry and attribute timeouts, and keep_cache on open: the kernel may trust
// what it has cached for a day. That is safe because every change to the
// files of a mount goes through this mount (nothing else touches a scratch
// while it is mounted), so the kernel sees each one and updates or drops its
// cache, and the remote data at the mount's fixed LSN never changes.
constexpr double kCacheTimeout = 86400.0;

Result<std::map<RelSegment, uint32_t>> RemoteLimits(const std::map<std::string, uint64_t>& remote_files) {
  std::map<RelSegment, uint32_t> limits;
  const uint64_t bs = kZenithPgAbi.blcksz;
  for (const auto& [path, size] : remote_files) {
    std::optional<RelSegment> seg = ParseRelationPath(path);
    if (!seg) return InvalidArgument("remote file \"" + path + "\" is not a relation segment path (like base/5/16384.1)");
    if (size % bs != 0) spdlog::warn("remote file \"{}\" has {} bytes, not whole pages; the tail reads as zeros", path, size);
    if (size / bs > BlocksPerSegment()) return InvalidArgument("remote file \"" + path + "\" is larger than a segment");
    limits[*seg] = static_cast<uint32_t>(size / bs);
  }
  return limits;
}

std::string ProcPath(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

}  // namespace

std::string ChildPath(const Inode& parent, std::string_view name) {
  if (parent.path.empty()) return std::string(name);
  return parent.path + "/" + std::string(name);
}

bool InRelationArea(std::string_view path) {
  std::string_view top = path.substr(0, path.find('/'));
  return top == "base" || top == "global" || top == "pg_tblspc";
}

Result<std::unique_ptr<FsCore>> FsCore::Create(DatadirFsOptions options) {
  if (options.scratch_dir.empty()) return InvalidArgument("the scratch directory of a mount must be given");
  ZENITH_ASSIGN_OR_RETURN(auto limits, RemoteLimits(options.remote_files));
  if (!limits.empty() && options.pages == nullptr) return InvalidArgument("remote relation files need a page source");
  const std::string& dir = options.scratch_dir;
  int fd = ::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("open scratch directory", dir, errno);
  UniqueFd root(fd);
  // PostgreSQL refuses a data directory that others can read.
  if (::chmod(dir.c_str(), 0700) != 0) return ErrnoStatus("change the mode of scratch directory", dir, errno);
  struct stat st;
  if (::fstat(root.get(), &st) != 0) return ErrnoStatus("stat scratch directory", dir, errno);
  return std::unique_ptr<FsCore>(new FsCore(std::move(root), st, std::move(options), limits));
}

FsCore::FsCore(UniqueFd root_fd, const struct stat& root_st, DatadirFsOptions options,
               const std::map<RelSegment, uint32_t>& remote_limits)
    : inodes_(std::move(root_fd), root_st),
      relations_(remote_limits),
      pages_(options.pages),
      on_control_write_(std::move(options.on_control_write)) {}

void FsCore::Init(fuse_conn_info* conn) {
  // O_TRUNC then arrives as a setattr, where relation truncation is handled.
  conn->want &= ~FUSE_CAP_ATOMIC_O_TRUNC;
  // No writeback cache: every write reaches the filesystem when it is made,
  // so a write's error is the writer's and sync_file_range has nothing to do.
  // With it, pgbench TPC-B ran about 20% faster (no write round trips on
  // the backends' path, no GETATTR after each write), but it is not safe
  // here:
  //  - a snapshot is taken when pg_control is written and holds the blocks
  //    written so far. With a writeback cache the kernel writes pages back
  //    when it likes, so the dirty sets are complete at a checkpoint only if
  //    PostgreSQL fsyncs every file it wrote before pg_control. It does with
  //    fsync=on, not with fsync=off, which a user may set (on the command
  //    line, over postgresql.auto.conf): snapshots would then silently miss
  //    blocks, or hold half of one. Nor does the daemon have a safe way to
  //    force the writeback itself (syncfs needs an fd on the mount, which
  //    makes a concurrent unmount fail with EBUSY).
  //  - the kernel writes back 4 KB pages, not 8 KB blocks; a block whose
  //    halves go back apart needs a read-modify-write of the remote page,
  //    so a page server outage would turn into EIO at fsync, which
  //    PostgreSQL answers with a PANIC. Without the cache, PostgreSQL's
  //    whole-block writes never need the page server.
  //  - non-relation files (read from the scratch by the uploader) would be
  //    current only as far as the kernel had written them back.
  conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
  // No automatic invalidation: with it the kernel, after every write, asks
  // for the file's attributes again on the next read and, since the mtime
  // it set itself differs from the scratch file's, drops the whole file's
  // page cache. Every change to a mount's files goes through the mount, so
  // the kernel's cache is never stale (see kCacheTimeout).
  conn->want &= ~FUSE_CAP_AUTO_INVAL_DATA;
  if (conn->capable & FUSE_CAP_READDIRPLUS) conn->want |= FUSE_CAP_READDIRPLUS;
}

void FsCore::AdjustAttr(const Inode& inode, struct stat* st) {
  if (inode.segment != nullptr && S_ISREG(st->st_mode)) st->st_blocks = (st->st_size + 511) / 512;
}

fuse_entry_param FsCore::Entry(const Inode& inode, struct stat st) const {
  fuse_entry_param e{};
  AdjustAttr(inode, &st);
  e.ino = inodes_.IdOf(inode);
  e.attr = st;
  e.attr_timeout = kCacheTimeout;
  e.entry_timeout = kCacheTimeout;
  return e;
}

Result<fuse_entry_param> FsCore::AcquireChild(Inode& parent, const char* name, const std::string& path, bool created) {
  int fd = ::openat(parent.fd.get(), name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("look up", path, errno);
  UniqueFd file(fd);
  struct stat st;
  if (::fstatat(fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) return ErrnoStatus("stat", path, errno);
  std::shared_ptr<Segment> segment;
  if (std::optional<RelSegment> rel = ParseRelationPath(path); rel && S_ISREG(st.st_mode)) {
    segment = created ? relations_.Created(*rel) : relations_.Attach(*rel);
  }
  Inode& inode = inodes_.Acquire(std::move(file), st, path, std::move(segment), path == kControlFilePath);
  return Entry(inode, st);
}

Result<fuse_entry_param> FsCore::Lookup(fuse_ino_t parent_ino, const char* name) {
  Inode& parent = inodes_.Get(parent_ino);
  std::string path = ChildPath(parent, name);
  // The kernel never asks for these; ".." of the root would leave the scratch.
  if (std::strcmp(name, ".") == 0 || std::strcmp(name, "..") == 0) return ErrnoStatus("look up", path, EINVAL);
  std::unique_lock ns(ns_mu_, std::defer_lock);
  if (ParseRelationPath(path)) ns.lock();
  return AcquireChild(parent, name, path, /*created=*/false);
}

void FsCore::Forget(fuse_ino_t ino, uint64_t nlookup) { inodes_.Forget(ino, nlookup); }

Result<struct stat> FsCore::GetAttr(fuse_ino_t ino) {
  Inode& inode = inodes_.Get(ino);
  struct stat st;
  if (::fstatat(inode.fd.get(), "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) {
    return ErrnoStatus("stat", inode.path, errno);
  }
  AdjustAttr(inode, &st);
  return st;
}

Result<UniqueFd> FsCore::Reopen(const Inode& inode, int flags) const {
  int fd = ::open(ProcPath(inode.fd.get()).c_str(), flags | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("open", inode.path, errno);
  return UniqueFd(fd);
}

Status FsCore::ChangeMode(const Inode& inode, FileHandle* handle, mode_t mode) {
  int rc = handle ? ::fchmod(handle->fd.get(), mode) : ::chmod(ProcPath(inode.fd.get()).c_str(), mode);
  if (rc != 0) return ErrnoStatus("change the mode of", inode.path, errno);
  return Status::Ok();
}

Status FsCore::ChangeTimes(const Inode& inode, FileHandle* handle, const struct stat& attr, int to_set) {
  struct timespec times[2] = {{0, UTIME_OMIT}, {0, UTIME_OMIT}};
  if (to_set & FUSE_SET_ATTR_ATIME_NOW) times[0].tv_nsec = UTIME_NOW;
  else if (to_set & FUSE_SET_ATTR_ATIME) times[0] = attr.st_atim;
  if (to_set & FUSE_SET_ATTR_MTIME_NOW) times[1].tv_nsec = UTIME_NOW;
  else if (to_set & FUSE_SET_ATTR_MTIME) times[1] = attr.st_mtim;
  int rc = handle ? ::futimens(handle->fd.get(), times)
                  : ::utimensat(AT_FDCWD, ProcPath(inode.fd.get()).c_str(), times, 0);
  if (rc != 0) return ErrnoStatus("set the times of", inode.path, errno);
  return Status::Ok();
}

Result<struct stat> FsCore::SetAttr(fuse_ino_t ino, const struct stat& attr, int to_set, fuse_file_info* fi) {
  Inode& inode = inodes_.Get(ino);
  FileHandle* handle = fi ? &FileOf(fi) : nullptr;
  if (to_set & FUSE_SET_ATTR_MODE) ZENITH_RETURN_IF_ERROR(ChangeMode(inode, handle, attr.st_mode));
  if (to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
    uid_t uid = (to_set & FUSE_SET_ATTR_UID) ? attr.st_uid : static_cast<uid_t>(-1);
    gid_t gid = (to_set & FUSE_SET_ATTR_GID) ? attr.st_gid : static_cast<gid_t>(-1);
    if (::fchownat(inode.fd.get(), "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) {
      return ErrnoStatus("change the owner of", inode.path, errno);
    }
  }
  if (to_set & FUSE_SET_ATTR_SIZE) {
    if (attr.st_size < 0) return ErrnoStatus("truncate", inode.path, EINVAL);
    ZENITH_RETURN_IF_ERROR(Resize(inode, handle, static_cast<uint64_t>(attr.st_size)));
  }
  if (to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_ATIME_NOW | FUSE_SET_ATTR_MTIME_NOW)) {
    ZENITH_RETURN_IF_ERROR(ChangeTimes(inode, handle, attr, to_set));
  }
  return GetAttr(ino);
}

Result<std::string> FsCore::ReadLink(fuse_ino_t ino) {
  Inode& inode = inodes_.Get(ino);
  char buf[PATH_MAX + 1];
  ssize_t n = ::readlinkat(inode.fd.get(), "", buf, sizeof buf);
  if (n < 0) return ErrnoStatus("read symbolic link", inode.path, errno);
  if (static_cast<size_t>(n) == sizeof buf) return ErrnoStatus("read symbolic link", inode.path, ENAMETOOLONG);
  return std::string(buf, static_cast<size_t>(n));
}

Result<struct statvfs> FsCore::StatFs() {
  struct statvfs st;
  if (::fstatvfs(inodes_.root().fd.get(), &st) != 0) return ErrnoStatus("statfs", "the scratch directory", errno);
  return st;
}

SnapshotDelta FsCore::BeginSnapshot() {
  snapshot_lock_.lock();
  return relations_.TakeDelta();
}

void FsCore::EndSnapshot() { snapshot_lock_.unlock(); }

Status FsCore::ReadBlocks(const RelSegment& seg, std::span<const uint32_t> blocks, std::span<uint8_t> out) {
  const uint64_t bs = kZenithPgAbi.blcksz;
  if (out.size() != blocks.size() * bs) return InvalidArgument("ReadBlocks needs a buffer of one page per block");
  std::string path = RelationSegmentPath(seg.tag, seg.segno);
  std::shared_ptr<Segment> state = relations_.Find(seg);
  if (state == nullptr) return NotFound("relation file \"" + path + "\" does not exist in the mount");
  int fd = ::openat(inodes_.root().fd.get(), path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) return NotFound("relation file \"" + path + "\" was removed");
  if (fd < 0) return ErrnoStatus("open", path, errno);
  UniqueFd file(fd);
  RelationFile relation(*state, fd, pages_, path);
  // One read per run of consecutive blocks.
  for (size_t i = 0, run = 1; i < blocks.size(); i += run) {
    for (run = 1; i + run < blocks.size() && blocks[i + run] == blocks[i] + run; ++run) {
    }
    std::span<uint8_t> dst = out.subspan(i * bs, run * bs);
    ZENITH_ASSIGN_OR_RETURN(size_t n, relation.Read(blocks[i] * bs, dst));
    std::memset(dst.data() + n, 0, dst.size() - n);
  }
  return Status::Ok();
}

}  // namespace zenith::fs::internal
