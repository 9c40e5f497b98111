#include "fs/fuse_bridge.h"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <string>

#include "common/catch_all.h"
#include "fs/fs_core.h"

namespace zenith::fs::internal {
namespace {

FsCore& Core(fuse_req_t req) { return *static_cast<FsCore*>(fuse_req_userdata(req)); }

// Counts the request and its time until the handler returns (after replying).
OpStats::Timer Time(fuse_req_t req, FuseOp op) { return OpStats::Timer(Core(req).stats(), op); }

// Replies with the error of `status`. Failures PostgreSQL expects in normal
// operation (a missing file, a full directory) are not worth a log line; an
// I/O error is, here and only here: the layers below return it, with what
// failed in its message, and do not log it on the way up.
void ReplyError(fuse_req_t req, const Status& status) {
  int err = ToErrno(status);
  if (err == EIO) spdlog::error("replying EIO: {}", status.message());
  else spdlog::debug("replying errno {}: {}", err, status.message());
  fuse_reply_err(req, err);
}

void ReplyStatus(fuse_req_t req, const Status& status) {
  if (status.ok()) fuse_reply_err(req, 0);
  else ReplyError(req, status);
}

void ReplyEntry(fuse_req_t req, const Result<fuse_entry_param>& entry) {
  if (entry.ok()) fuse_reply_entry(req, &*entry);
  else ReplyError(req, entry.status());
}

// A missing name is an entry with inode 0: the kernel caches the negative
// answer (safe for the same reason as the positive ones, see fs_core.cc).
void ReplyLookup(fuse_req_t req, const Result<fuse_entry_param>& entry) {
  if (entry.ok() || ToErrno(entry.status()) != ENOENT) return ReplyEntry(req, entry);
  fuse_entry_param negative{};
  negative.entry_timeout = 86400.0;
  fuse_reply_entry(req, &negative);
}

void ReplyAttr(fuse_req_t req, const Result<struct stat>& attr) {
  if (attr.ok()) fuse_reply_attr(req, &*attr, 86400.0);
  else ReplyError(req, attr.status());
}

void ReplyOpen(fuse_req_t req, const Status& status, fuse_file_info* fi) {
  if (status.ok()) fuse_reply_open(req, fi);
  else ReplyError(req, status);
}

void ReplyCreate(fuse_req_t req, const Result<fuse_entry_param>& entry, fuse_file_info* fi) {
  if (entry.ok()) fuse_reply_create(req, &*entry, fi);
  else ReplyError(req, entry.status());
}

void ReplyRead(fuse_req_t req, const Result<ReadData>& data) {
  if (!data.ok()) return ReplyError(req, data.status());
  if (data->fd < 0) {
    fuse_reply_buf(req, reinterpret_cast<const char*>(data->bytes.get()), data->size);
    return;
  }
  fuse_bufvec buf = FUSE_BUFVEC_INIT(data->size);
  buf.buf[0].flags = static_cast<fuse_buf_flags>(FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK);
  buf.buf[0].fd = data->fd;
  buf.buf[0].pos = data->offset;
  fuse_reply_data(req, &buf, static_cast<fuse_buf_copy_flags>(0));
}

void ReplyWrite(fuse_req_t req, const Result<size_t>& written) {
  if (written.ok()) fuse_reply_write(req, *written);
  else ReplyError(req, written.status());
}

void ReplyReadlink(fuse_req_t req, const Result<std::string>& target) {
  if (target.ok()) fuse_reply_readlink(req, target->c_str());
  else ReplyError(req, target.status());
}

void ReplyStatfs(fuse_req_t req, const Result<struct statvfs>& st) {
  if (st.ok()) fuse_reply_statfs(req, &*st);
  else ReplyError(req, st.status());
}

void ReplyBuffer(fuse_req_t req, const Result<std::vector<char>>& buf) {
  if (buf.ok()) fuse_reply_buf(req, buf->data(), buf->size());
  else ReplyError(req, buf.status());
}

// Runs one handler. An exception that escapes it is logged and answered with
// EIO (forget wants no answer), instead of unwinding into libfuse: handlers
// reply as their last step, so no reply was sent yet.
template <typename Fn>
void Guard(fuse_req_t req, const char* op, Fn&& fn, bool replies_none = false) noexcept {
  Status s = CatchAll(op, std::forward<Fn>(fn));
  if (s.ok()) return;
  if (replies_none) fuse_reply_none(req);
  else fuse_reply_err(req, EIO);
}

// The table: one entry per operation, each replying exactly once.
fuse_lowlevel_ops MakeOperations() {
  fuse_lowlevel_ops ops{};
  ops.init = [](void* core, fuse_conn_info* conn) { static_cast<FsCore*>(core)->Init(conn); };
  ops.lookup = [](fuse_req_t req, fuse_ino_t parent, const char* name) {
    Guard(req, "lookup", [&] {
      auto timer = Time(req, FuseOp::kLookup);
      ReplyLookup(req, Core(req).Lookup(parent, name));
    });
  };
  ops.forget = [](fuse_req_t req, fuse_ino_t ino, uint64_t n) {
    Guard(req, "forget", [&] {
      Core(req).Forget(ino, n);
      fuse_reply_none(req);
    }, /*replies_none=*/true);
  };
  ops.forget_multi = [](fuse_req_t req, size_t count, fuse_forget_data* forgets) {
    Guard(req, "forget_multi", [&] {
      for (size_t i = 0; i < count; ++i) Core(req).Forget(forgets[i].ino, forgets[i].nlookup);
      fuse_reply_none(req);
    }, /*replies_none=*/true);
  };
  ops.getattr = [](fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
    Guard(req, "getattr", [&] {
      auto timer = Time(req, FuseOp::kGetAttr);
      ReplyAttr(req, Core(req).GetAttr(ino));
    });
  };
  ops.setattr = [](fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set, fuse_file_info* fi) {
    Guard(req, "setattr", [&] {
      auto timer = Time(req, FuseOp::kSetAttr);
      ReplyAttr(req, Core(req).SetAttr(ino, *attr, to_set, fi));
    });
  };
  ops.readlink = [](fuse_req_t req, fuse_ino_t ino) {
    Guard(req, "readlink", [&] {
      auto timer = Time(req, FuseOp::kOther);
      ReplyReadlink(req, Core(req).ReadLink(ino));
    });
  };
  ops.mknod = [](fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, dev_t rdev) {
    Guard(req, "mknod", [&] {
      auto timer = Time(req, FuseOp::kCreate);
      ReplyEntry(req, Core(req).MakeNode(parent, name, mode, rdev));
    });
  };
  ops.mkdir = [](fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode) {
    Guard(req, "mkdir", [&] {
      auto timer = Time(req, FuseOp::kCreate);
      ReplyEntry(req, Core(req).MakeDir(parent, name, mode));
    });
  };
  ops.symlink = [](fuse_req_t req, const char* target, fuse_ino_t parent, const char* name) {
    Guard(req, "symlink", [&] {
      auto timer = Time(req, FuseOp::kCreate);
      ReplyEntry(req, Core(req).MakeSymlink(target, parent, name));
    });
  };
  ops.link = [](fuse_req_t req, fuse_ino_t ino, fuse_ino_t parent, const char* name) {
    Guard(req, "link", [&] {
      auto timer = Time(req, FuseOp::kCreate);
      ReplyEntry(req, Core(req).Link(ino, parent, name));
    });
  };
  ops.unlink = [](fuse_req_t req, fuse_ino_t parent, const char* name) {
    Guard(req, "unlink", [&] {
      auto timer = Time(req, FuseOp::kUnlink);
      ReplyStatus(req, Core(req).Unlink(parent, name));
    });
  };
  ops.rmdir = [](fuse_req_t req, fuse_ino_t parent, const char* name) {
    Guard(req, "rmdir", [&] {
      auto timer = Time(req, FuseOp::kUnlink);
      ReplyStatus(req, Core(req).RemoveDir(parent, name));
    });
  };
  ops.rename = [](fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t new_parent, const char* new_name,
                  unsigned int flags) {
    Guard(req, "rename", [&] {
      auto timer = Time(req, FuseOp::kOther);
      ReplyStatus(req, Core(req).Rename(parent, name, new_parent, new_name, flags));
    });
  };
  ops.create = [](fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, fuse_file_info* fi) {
    Guard(req, "create", [&] {
      auto timer = Time(req, FuseOp::kCreate);
      ReplyCreate(req, Core(req).CreateFile(parent, name, mode, fi), fi);
    });
  };
  ops.open = [](fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    Guard(req, "open", [&] {
      auto timer = Time(req, FuseOp::kOpen);
      ReplyOpen(req, Core(req).Open(ino, fi), fi);
    });
  };
  ops.read = [](fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info* fi) {
    Guard(req, "read", [&] {
      auto timer = Time(req, FuseOp::kRead);
      ReplyRead(req, Core(req).Read(size, off, fi));
    });
  };
  ops.write = [](fuse_req_t req, fuse_ino_t, const char* buf, size_t size, off_t off, fuse_file_info* fi) {
    Guard(req, "write", [&] {
      auto timer = Time(req, FuseOp::kWrite);
      ReplyWrite(req, Core(req).Write({reinterpret_cast<const uint8_t*>(buf), size}, off, fi));
    });
  };
  // Writes are never buffered here, so there is nothing to flush.
  ops.flush = [](fuse_req_t req, fuse_ino_t, fuse_file_info*) {
    Guard(req, "flush", [&] {
      auto timer = Time(req, FuseOp::kOther);
      fuse_reply_err(req, 0);
    });
  };
  ops.release = [](fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
    Guard(req, "release", [&] {
      auto timer = Time(req, FuseOp::kOther);
      Core(req).Release(fi);
      fuse_reply_err(req, 0);
    });
  };
  // fsync and fsyncdir succeed without reaching the disk: the scratch is
  // disposable. After any crash the datadir is rebuilt from the repository;
  // durability comes from the WAL (not on this filesystem) and the uploaded
  // snapshots. PostgreSQL's sync_file_range (pg_flush_data) has no FUSE
  // operation: with no writeback cache there are no dirty pages, so the
  // kernel answers 0, never an error that could PANIC a checkpoint.
  ops.fsync = [](fuse_req_t req, fuse_ino_t, int, fuse_file_info*) {
    Guard(req, "fsync", [&] {
      auto timer = Time(req, FuseOp::kFsync);
      fuse_reply_err(req, 0);
    });
  };
  ops.fsyncdir = [](fuse_req_t req, fuse_ino_t, int, fuse_file_info*) {
    Guard(req, "fsyncdir", [&] {
      auto timer = Time(req, FuseOp::kFsync);
      fuse_reply_err(req, 0);
    });
  };
  ops.opendir = [](fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    Guard(req, "opendir", [&] {
      auto timer = Time(req, FuseOp::kOpen);
      ReplyOpen(req, Core(req).OpenDir(ino, fi), fi);
    });
  };
  ops.readdir = [](fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
    Guard(req, "readdir", [&] {
      auto timer = Time(req, FuseOp::kReadDir);
      ReplyBuffer(req, Core(req).ReadDir(req, ino, size, off, fi, /*plus=*/false));
    });
  };
  ops.readdirplus = [](fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
    Guard(req, "readdirplus", [&] {
      auto timer = Time(req, FuseOp::kReadDir);
      ReplyBuffer(req, Core(req).ReadDir(req, ino, size, off, fi, /*plus=*/true));
    });
  };
  ops.releasedir = [](fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
    Guard(req, "releasedir", [&] {
      auto timer = Time(req, FuseOp::kOther);
      Core(req).ReleaseDir(fi);
      fuse_reply_err(req, 0);
    });
  };
  ops.statfs = [](fuse_req_t req, fuse_ino_t) {
    Guard(req, "statfs", [&] {
      auto timer = Time(req, FuseOp::kOther);
      ReplyStatfs(req, Core(req).StatFs());
    });
  };
  ops.fallocate = [](fuse_req_t req, fuse_ino_t, int mode, off_t off, off_t len, fuse_file_info* fi) {
    Guard(req, "fallocate", [&] {
      auto timer = Time(req, FuseOp::kOther);
      ReplyStatus(req, Core(req).Allocate(mode, off, len, fi));
    });
  };
  // Deliberately absent: lseek (without it the kernel treats a whole file as
  // data for SEEK_DATA/SEEK_HOLE, which is right for relation files, whose
  // scratch holes stand for remote pages), copy_file_range (the kernel falls
  // back to reads and writes), xattrs and locks (the kernel answers
  // EOPNOTSUPP and keeps locks local).
  return ops;
}

void LogFromFuse(enum fuse_log_level level, const char* fmt, va_list ap) {
  char buf[1024];
  vsnprintf(buf, sizeof buf, fmt, ap);
  std::string msg(buf);
  while (!msg.empty() && msg.back() == '\n') msg.pop_back();
  if (level <= FUSE_LOG_ERR) spdlog::error("libfuse: {}", msg);
  else if (level <= FUSE_LOG_WARNING) spdlog::warn("libfuse: {}", msg);
  else if (level <= FUSE_LOG_INFO) spdlog::info("libfuse: {}", msg);
  else spdlog::debug("libfuse: {}", msg);
}

}  // namespace

const fuse_lowlevel_ops& FuseOperations() {
  static const fuse_lowlevel_ops ops = MakeOperations();
  return ops;
}

int ToErrno(const Status& status) {
  if (status.ok()) return 0;
  if (status.sys_errno() != 0) return status.sys_errno();
  switch (status.code()) {
    case StatusCode::kNotFound: return ENOENT;
    case StatusCode::kAlreadyExists: return EEXIST;
    case StatusCode::kInvalidArgument:
    case StatusCode::kSyntax: return EINVAL;
    case StatusCode::kBusy: return EBUSY;
    default: return EIO;  // I/O, page server, corruption, timeouts, bugs
  }
}

void RouteFuseLogsToSpdlog() { fuse_set_log_func(LogFromFuse); }

}  // namespace zenith::fs::internal
