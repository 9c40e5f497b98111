// FsCore's file data operations: open, read, write, truncate, allocate.
// Relation files go through RelationFile; other files pass through to the
// scratch, and writes to global/pg_control are reported to the daemon.
// See fs_core.h.
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>

#include "common/file_util.h"
#include "common/pg_abi.h"
#include "fs/fs_core.h"
#include "fs/relation_io.h"

namespace zenith::fs::internal {

Status FsCore::Open(fuse_ino_t ino, fuse_file_info* fi) {
  Inode& inode = inodes_.Get(ino);
  // O_APPEND is dropped because the kernel already turns an append into a
  // write at the end it knows, which is the scratch file's end.
  int flags = fi->flags & ~(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_APPEND | O_NOFOLLOW | O_DIRECT);
  ZENITH_ASSIGN_OR_RETURN(UniqueFd fd, Reopen(inode, flags));
  auto handle = std::make_unique<FileHandle>(FileHandle{std::move(fd), &inode, inode.segment});
  if (fi->flags & O_TRUNC) ZENITH_RETURN_IF_ERROR(Resize(inode, handle.get(), 0));
  fi->fh = files_.Adopt(std::move(handle));
  fi->keep_cache = 1;  // see kCacheTimeout in fs_core.cc
  fi->noflush = 1;     // flush has nothing to do: writes are never buffered here
  fi->direct_io = (fi->flags & O_DIRECT) != 0;
  return Status::Ok();
}

void FsCore::Release(fuse_file_info* fi) { files_.Release(fi->fh); }

Result<ReadData> FsCore::Read(size_t size, off_t offset, fuse_file_info* fi) {
  FileHandle& handle = FileOf(fi);
  ReadData out;
  if (handle.segment == nullptr) {
    out.fd = handle.fd.get();
    out.offset = offset;
    out.size = size;
    return out;
  }
  out.bytes = std::make_unique_for_overwrite<uint8_t[]>(size);  // a read fills what it returns
  RelationFile file(*handle.segment, handle.fd.get(), pages_, handle.inode->path);
  ZENITH_ASSIGN_OR_RETURN(out.size, file.Read(static_cast<uint64_t>(offset), std::span(out.bytes.get(), size)));
  return out;
}

Result<size_t> FsCore::Write(std::span<const uint8_t> data, off_t offset, fuse_file_info* fi) {
  FileHandle& handle = FileOf(fi);
  if (handle.segment != nullptr) {
    RelationFile file(*handle.segment, handle.fd.get(), pages_, handle.inode->path);
    ZENITH_RETURN_IF_ERROR(file.Write(static_cast<uint64_t>(offset), data));
  } else if (handle.inode->is_control) {
    ZENITH_RETURN_IF_ERROR(WriteControl(handle, data, offset));
  } else {
    ZENITH_RETURN_IF_ERROR(PwriteFull(handle.fd.get(), data, static_cast<uint64_t>(offset), handle.inode->path));
  }
  return data.size();
}

// The copy is taken under the file's lock, so it is the file as this write
// left it, and callbacks come in write order.
Status FsCore::WriteControl(FileHandle& handle, std::span<const uint8_t> data, off_t offset) {
  Inode& inode = *handle.inode;
  std::lock_guard lock(inode.control_mu);
  ZENITH_RETURN_IF_ERROR(PwriteFull(handle.fd.get(), data, static_cast<uint64_t>(offset), inode.path));
  if (!on_control_write_) return Status::Ok();
  const size_t size = kZenithPgAbi.control_file_size;
  std::string bytes;
  if (offset == 0 && data.size() >= size) {
    bytes.assign(reinterpret_cast<const char*>(data.data()), size);
  } else {
    Result<UniqueFd> fd = Reopen(inode, O_RDONLY);
    bytes.resize(size);
    Result<size_t> got = fd.ok() ? PreadFull(fd->get(), {reinterpret_cast<uint8_t*>(bytes.data()), size}, 0, inode.path)
                                 : Result<size_t>(fd.status());
    if (!got.ok()) {
      // The write itself succeeded; PostgreSQL must not see an error for it.
      spdlog::error("pg_control was written but could not be read back for the snapshot: {}", got.status().message());
      return Status::Ok();
    }
    bytes.resize(*got);
  }
  on_control_write_(std::move(bytes));
  return Status::Ok();
}

Status FsCore::Resize(Inode& inode, FileHandle* handle, uint64_t size) {
  UniqueFd reopened;
  int fd = handle ? handle->fd.get() : -1;
  if (fd < 0) {
    ZENITH_ASSIGN_OR_RETURN(reopened, Reopen(inode, O_WRONLY));
    fd = reopened.get();
  }
  if (inode.segment == nullptr) {
    if (::ftruncate(fd, static_cast<off_t>(size)) != 0) return ErrnoStatus("truncate", inode.path, errno);
    return Status::Ok();
  }
  std::shared_lock snapshot(snapshot_lock_);
  RelationFile file(*inode.segment, fd, pages_, inode.path);
  ZENITH_ASSIGN_OR_RETURN(bool shrank, file.Truncate(size));
  if (shrank) relations_.Truncated(*inode.segment, static_cast<uint32_t>(size / kZenithPgAbi.blcksz));
  return Status::Ok();
}

Status FsCore::Allocate(int mode, off_t offset, off_t length, fuse_file_info* fi) {
  FileHandle& handle = FileOf(fi);
  if (offset < 0 || length <= 0) return ErrnoStatus("allocate space in", handle.inode->path, EINVAL);
  if (handle.segment != nullptr) {
    RelationFile file(*handle.segment, handle.fd.get(), pages_, handle.inode->path);
    return file.Allocate(mode, static_cast<uint64_t>(offset), static_cast<uint64_t>(length));
  }
  if (::fallocate(handle.fd.get(), mode, offset, length) != 0) {
    return ErrnoStatus("allocate space in", handle.inode->path, errno);
  }
  return Status::Ok();
}

}  // namespace zenith::fs::internal
