#include "fs/relation_io.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/file_util.h"
#include "common/pg_abi.h"
#include "fs/mount_counters.h"

namespace zenith::fs {
namespace {

uint64_t BlockSize() { return kZenithPgAbi.blcksz; }

}  // namespace

uint64_t SegmentFileMaxBytes() { return uint64_t{BlocksPerSegment()} * BlockSize(); }

// md.c never writes a segment past RELSEG_SIZE blocks (it opens the next
// segment): anything beyond would map onto the next segment's blocks in a
// snapshot, and a write at a huge offset would grow the block sets to match.
Status RelationFile::CheckWithinSegment(std::string_view op, uint64_t offset, uint64_t length) const {
  const uint64_t max = SegmentFileMaxBytes();
  if (offset > max || length > max - offset) return ErrnoStatus(op, path_, EFBIG);
  return Status::Ok();
}

Result<uint64_t> RelationFile::FileSize() const {
  struct stat st;
  if (::fstat(fd_, &st) != 0) return ErrnoStatus("stat", path_, errno);
  return static_cast<uint64_t>(st.st_size);
}

Status RelationFile::Fetch(std::span<const uint32_t> blocks, std::span<uint8_t> out, std::span<const uint32_t> ahead) {
  if (pages_ == nullptr) return Internal("\"" + std::string(path_) + "\" has remote blocks but the mount has no page source");
  auto to_relation = [this](std::span<const uint32_t> in) {
    std::vector<uint32_t> rel(in.size());
    std::transform(in.begin(), in.end(), rel.begin(), [this](uint32_t b) { return seg_.RelationBlock(b); });
    return rel;
  };
  const std::vector<uint32_t> rel_blocks = to_relation(blocks);
  Status s = ahead.empty() ? pages_->GetPages(seg_.id().tag, rel_blocks, out)
                           : pages_->GetPagesAhead(seg_.id().tag, rel_blocks, out, to_relation(ahead));
  if (s.ok()) return s;
  // Logged once, where FUSE replies (fuse_bridge.cc).
  return IoError("could not read " + std::to_string(blocks.size()) + " page(s) of \"" + std::string(path_) +
                 "\" from block " + std::to_string(blocks.front()) + " from the page server: " + s.message());
}

Result<size_t> RelationFile::Read(uint64_t offset, std::span<uint8_t> out) {
  std::shared_lock lock(seg_.io_mutex());
  ZENITH_ASSIGN_OR_RETURN(uint64_t size, FileSize());
  if (offset >= size || out.empty()) return size_t{0};
  size_t n = static_cast<size_t>(std::min<uint64_t>(out.size(), size - offset));
  ZENITH_RETURN_IF_ERROR(ReadLocked(offset, out.first(n)));
  NoteUsed(offset, n);
  return n;
}

// Local runs come from the scratch file with pread, remote blocks from one
// GetPages call; a block-aligned request for remote blocks only (the common
// cold read) is fetched straight into `out`.
Status RelationFile::ReadLocked(uint64_t offset, std::span<uint8_t> out) {
  const uint64_t bs = BlockSize();
  const uint64_t end = offset + out.size();
  const uint64_t first = offset / bs, last = (end - 1) / bs;
  if (last > UINT32_MAX) return ErrnoStatus("read", path_, EFBIG);
  std::vector<uint32_t> remote = seg_.RemoteBlocks(static_cast<uint32_t>(first), static_cast<uint32_t>(last - first + 1));
  const bool aligned = offset % bs == 0 && end % bs == 0;
  const uint32_t count = static_cast<uint32_t>(last - first + 1);
  const Segment::BlockRange read_ahead = pages_ != nullptr && pages_->ReadsAhead()
                                             ? seg_.ReadAheadAfter(static_cast<uint32_t>(first), count)
                                             : Segment::BlockRange{};
  if (aligned && remote.size() == count) {
    const std::vector<uint32_t> ahead =
        read_ahead.count == 0 ? std::vector<uint32_t>{} : seg_.RemoteBlocks(read_ahead.first, read_ahead.count);
    return Fetch(remote, out, ahead);
  }

  // Clips block range [b0, b1) to the request and reads it from the scratch.
  auto read_local = [&](uint64_t b0, uint64_t b1) -> Status {
    uint64_t from = std::max(offset, b0 * bs), to = std::min(end, b1 * bs);
    if (from >= to) return Status::Ok();
    std::span<uint8_t> dst = out.subspan(from - offset, to - from);
    ZENITH_ASSIGN_OR_RETURN(size_t got, PreadFull(fd_, dst, from, path_));
    std::memset(dst.data() + got, 0, dst.size() - got);  // only if the file shrank under us
    return Status::Ok();
  };
  ThisMount().PagesFromScratch(count - remote.size());
  uint64_t run_start = first;
  for (uint32_t b : remote) {
    ZENITH_RETURN_IF_ERROR(read_local(run_start, b));
    run_start = uint64_t{b} + 1;
  }
  ZENITH_RETURN_IF_ERROR(read_local(run_start, last + 1));
  if (remote.empty()) return Status::Ok();

  std::vector<uint8_t> pages(remote.size() * bs);
  ZENITH_RETURN_IF_ERROR(Fetch(remote, pages));
  for (size_t i = 0; i < remote.size(); ++i) {
    uint64_t from = std::max(offset, remote[i] * bs), to = std::min(end, (remote[i] + 1) * bs);
    std::memcpy(out.data() + (from - offset), pages.data() + i * bs + (from - remote[i] * bs), to - from);
  }
  return Status::Ok();
}

void RelationFile::NoteUsed(uint64_t offset, uint64_t length) {
  if (length == 0) return;
  const uint64_t bs = BlockSize();
  const uint64_t first = offset / bs, last = (offset + length - 1) / bs;
  if (last <= UINT32_MAX) seg_.NoteUsed(static_cast<uint32_t>(first), static_cast<uint32_t>(last - first + 1));
}

std::vector<uint32_t> RelationFile::PartialRemoteBlocks(uint64_t offset, uint64_t length) const {
  const uint64_t bs = BlockSize();
  const uint64_t end = offset + length;
  std::vector<uint32_t> out;
  uint64_t first = offset / bs, last = (end - 1) / bs;
  if (offset % bs != 0 || (first == last && end % bs != 0)) {
    if (seg_.IsRemote(static_cast<uint32_t>(first))) out.push_back(static_cast<uint32_t>(first));
  }
  if (last != first && end % bs != 0 && seg_.IsRemote(static_cast<uint32_t>(last))) {
    out.push_back(static_cast<uint32_t>(last));
  }
  return out;
}

Status RelationFile::Write(uint64_t offset, std::span<const uint8_t> data) {
  if (data.empty()) return Status::Ok();
  ZENITH_RETURN_IF_ERROR(CheckWithinSegment("write", offset, data.size()));
  // A block that needs no read-modify-write now never will (segment.h), so
  // the answer taken without the lock stays true under the shared lock.
  const std::vector<uint32_t> partial = PartialRemoteBlocks(offset, data.size());
  if (partial.empty()) {
    std::shared_lock lock(seg_.io_mutex());
    return WriteLocked(offset, data, {}, {}, {});
  }
  // Fetched before the lock; under it, a block may have become local (a
  // concurrent write), never remote again: what is still remote is a subset.
  std::vector<uint8_t> pages(partial.size() * BlockSize());
  ZENITH_RETURN_IF_ERROR(Fetch(partial, pages));
  std::unique_lock lock(seg_.io_mutex());
  return WriteLocked(offset, data, PartialRemoteBlocks(offset, data.size()), partial, pages);
}

// The data goes to the scratch first, then each read-modify-write block is
// rewritten whole (its page fetched, patched with the data). Readers wait on
// the exclusive lock, so nobody sees the block half done.
Status RelationFile::WriteLocked(uint64_t offset, std::span<const uint8_t> data, const std::vector<uint32_t>& rmw,
                                 const std::vector<uint32_t>& fetched_blocks, std::span<uint8_t> fetched) {
  const uint64_t bs = BlockSize();
  const uint64_t end = offset + data.size();
  ZENITH_RETURN_IF_ERROR(PwriteFull(fd_, data, offset, path_));
  for (uint32_t block : rmw) {
    auto at = std::find(fetched_blocks.begin(), fetched_blocks.end(), block);
    if (at == fetched_blocks.end()) return Internal("block " + std::to_string(block) + " became remote again");
    uint64_t start = block * bs;
    uint64_t from = std::max(offset, start), to = std::min(end, start + bs);
    std::span<uint8_t> page = fetched.subspan(static_cast<size_t>(at - fetched_blocks.begin()) * bs, bs);
    std::memcpy(page.data() + (from - start), data.data() + (from - offset), to - from);
    ZENITH_RETURN_IF_ERROR(PwriteFull(fd_, page, start, path_));
  }
  uint64_t first = offset / bs, last = (end - 1) / bs;
  seg_.MarkWritten(static_cast<uint32_t>(first), static_cast<uint32_t>(last - first + 1));
  return Status::Ok();
}

Result<bool> RelationFile::Truncate(uint64_t new_size) {
  ZENITH_RETURN_IF_ERROR(CheckWithinSegment("truncate", new_size, 0));
  const uint64_t bs = BlockSize();
  const auto cut = static_cast<uint32_t>(new_size / bs);
  std::vector<uint8_t> page;
  if (new_size % bs != 0 && seg_.IsRemote(cut)) {  // fetched before the lock (see the header)
    page.resize(bs);
    ZENITH_RETURN_IF_ERROR(Fetch(std::span<const uint32_t>(&cut, 1), page));
  }
  std::unique_lock lock(seg_.io_mutex());
  ZENITH_ASSIGN_OR_RETURN(uint64_t old_size, FileSize());
  if (new_size < old_size && new_size % bs != 0) {
    // The block cut in the middle keeps its head: make it local, whole, so
    // that it stays right even if the ftruncate below fails.
    if (seg_.IsRemote(cut)) {
      if (page.empty()) return Internal("block " + std::to_string(cut) + " became remote again");
      ZENITH_RETURN_IF_ERROR(PwriteFull(fd_, page, cut * bs, path_));
    }
    seg_.MarkWritten(cut, 1);
  }
  if (::ftruncate(fd_, static_cast<off_t>(new_size)) != 0) return ErrnoStatus("truncate", path_, errno);
  seg_.Truncate(new_size);
  return new_size < old_size;
}

Status RelationFile::Allocate(int mode, uint64_t offset, uint64_t length) {
  if (mode == FALLOC_FL_KEEP_SIZE) return Status::Ok();
  if (mode != 0) return ErrnoStatus("allocate space in", path_, EOPNOTSUPP);
  ZENITH_RETURN_IF_ERROR(CheckWithinSegment("allocate space in", offset, length));
  std::unique_lock lock(seg_.io_mutex());
  ZENITH_ASSIGN_OR_RETURN(uint64_t size, FileSize());
  if (offset + length <= size) return Status::Ok();
  if (::ftruncate(fd_, static_cast<off_t>(offset + length)) != 0) return ErrnoStatus("extend", path_, errno);
  return Status::Ok();
}

}  // namespace zenith::fs
