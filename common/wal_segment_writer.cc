#include "common/wal_segment_writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "common/file_util.h"

namespace zenith {

Status WalSegmentWriter::Write(Lsn at, std::span<const uint8_t> bytes) {
  while (!bytes.empty()) {
    if (!fd_.valid() || at.segment_number() != segno_) ZENITH_RETURN_IF_ERROR(Open(at.segment_number()));
    const size_t n = std::min<size_t>(bytes.size(), kWalSegmentSize - at.segment_offset());
    ZENITH_RETURN_IF_ERROR(PwriteFull(fd_.get(), bytes.first(n), at.segment_offset(), path_));
    fd_dirty_ = true;
    bytes = bytes.subspan(n);
    at = at + n;
  }
  return Status::Ok();
}

Status WalSegmentWriter::SyncOpen() {
  if (!fd_dirty_) return Status::Ok();
  if (::fdatasync(fd_.get()) != 0) return ErrnoStatus("fdatasync", path_, errno);
  fd_dirty_ = false;
  return Status::Ok();
}

Status WalSegmentWriter::Sync() {
  if (fd_.valid()) ZENITH_RETURN_IF_ERROR(SyncOpen());
  if (created_file_) {
    ZENITH_RETURN_IF_ERROR(FsyncDirectory(dir_));
    created_file_ = false;
  }
  return Status::Ok();
}

// The previous segment's data is synced before it is closed: Sync covers
// only the open one.
Status WalSegmentWriter::Open(uint64_t segno) {
  if (fd_.valid()) ZENITH_RETURN_IF_ERROR(SyncOpen());
  fd_.reset();
  segno_ = segno;
  path_ = dir_ + "/" + WalSegmentFileName(kPgTimeLineId, segno);
  const bool existed = PathExists(path_);
  if (!existed && existing_ == Existing::kKeep) {
    // Zero-filled before it gets its name, as PostgreSQL makes segments: a
    // later fdatasync then only writes data, it allocates no blocks.
    Status made = CreateFileDurablyExclusive(path_, std::string(kWalSegmentSize, '\0'));
    if (!made.ok() && made.code() != StatusCode::kAlreadyExists) return made;
  }
  const int flags = O_WRONLY | O_CREAT | (existing_ == Existing::kReplace ? O_TRUNC : 0);
  ZENITH_ASSIGN_OR_RETURN(fd_, OpenFile(path_, flags, 0600));
  struct stat st;
  if (::fstat(fd_.get(), &st) != 0) return ErrnoStatus("stat", path_, errno);
  if (static_cast<uint64_t>(st.st_size) < kWalSegmentSize && ::ftruncate(fd_.get(), kWalSegmentSize) != 0) {
    return ErrnoStatus("extend", path_, errno);
  }
  if (!existed) created_file_ = true;
  return Status::Ok();
}

namespace {

// Zeros [offset, end of file) of one segment file in place, durably.
Status ZeroSegmentTail(const std::string& path, uint32_t offset) {
  ZENITH_ASSIGN_OR_RETURN(UniqueFd fd, OpenFile(path, O_WRONLY, 0600));
  if (::fallocate(fd.get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, kWalSegmentSize - offset) != 0) {
    return ErrnoStatus("zero the end of", path, errno);
  }
  return FsyncFd(fd.get(), path);
}

}  // namespace

Status WalSegmentWriter::DiscardFrom(Lsn at) {
  ZENITH_RETURN_IF_ERROR(Sync());
  fd_.reset();
  ZENITH_ASSIGN_OR_RETURN(auto names, ListDirectory(dir_));
  for (const auto& name : names) {
    auto seg = ParseWalSegmentFileName(name);
    if (!seg || seg->tli != kPgTimeLineId || seg->segno < at.segment_number()) continue;
    const uint32_t from = seg->segno == at.segment_number() ? at.segment_offset() : 0;
    ZENITH_RETURN_IF_ERROR(ZeroSegmentTail(dir_ + "/" + name, from));
  }
  return Status::Ok();
}

}  // namespace zenith
