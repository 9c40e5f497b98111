// Data I/O on a relation segment file of a mount: reads that merge local
// blocks (the scratch file) with remote ones (the PageSource), writes that
// read-modify-write a partially written remote block, and truncation.
//
// The hot path is Read: the kernel's readahead asks for up to 128 KB at a
// time, and every remote block of one request is fetched with one GetPages
// call. While reads of a segment are sequential, that call also names the
// remote blocks after them (Segment::ReadAheadAfter), which the PageSource
// may fetch in the same round trip (fs/prefetching_page_source.h). Fetched
// pages are returned, never stored: the scratch grows only with writes.
//
// Thread-safety: a RelationFile is a short-lived view made per request; its
// methods take the segment's io_mutex() themselves (see segment.h) and may
// run concurrently with each other on the same segment. No page server
// round trip happens under io_mutex() held exclusively: pages a partial
// write or a truncation needs are fetched first (a remote block's page is
// fixed, so a copy fetched before the lock is still right under it).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "fs/page_source.h"
#include "fs/segment.h"

namespace zenith::fs {

// The largest a relation segment file may be: RELSEG_SIZE blocks (1 GB).
uint64_t SegmentFileMaxBytes();

class RelationFile {
 public:
  // `fd`: an fd of the segment's scratch file, readable for Read, writable
  // for Write/Truncate/Allocate. `pages` may be null when the segment has no
  // remote blocks. Nothing is owned; all must outlive the view. `path` (the
  // datadir-relative name) is for error messages.
  RelationFile(Segment& segment, int fd, PageSource* pages, std::string_view path)
      : seg_(segment), fd_(fd), pages_(pages), path_(path) {}

  // Reads up to out.size() bytes at `offset`; returns the bytes read (short
  // only at the end of the file). A PageSource failure is kIoError.
  Result<size_t> Read(uint64_t offset, std::span<uint8_t> out);

  // Writes `data` at `offset` (any offset and length within the segment:
  // EFBIG for a byte past SegmentFileMaxBytes()). A block partially
  // written that is remote is first fetched from the PageSource. Every block
  // touched becomes local (and dirty while linked).
  Status Write(uint64_t offset, std::span<const uint8_t> data);

  // Sets the file's size (EFBIG past SegmentFileMaxBytes()). Returns true
  // when it shrank: the caller then
  // records the relation's floor (RelationTable::Truncated) with
  // new_size / BLCKSZ. A remote block cut in the middle is fetched and its
  // head written locally, so that after re-extension its tail reads zeros.
  // REQUIRES: the SnapshotLock held shared by the caller.
  Result<bool> Truncate(uint64_t new_size);

  // fallocate(2) on the segment. Mode 0 extends the file (sparse: the
  // scratch is disposable, so there is no space to reserve), KEEP_SIZE is a
  // no-op; other modes would change data and are not supported (EOPNOTSUPP).
  // EFBIG when mode 0 would extend the file past SegmentFileMaxBytes().
  Status Allocate(int mode, uint64_t offset, uint64_t length);

 private:
  Result<uint64_t> FileSize() const;
  // EFBIG unless [offset, offset + length) ends within the segment.
  Status CheckWithinSegment(std::string_view op, uint64_t offset, uint64_t length) const;
  // Records the blocks of [offset, offset + length) as used (Segment::NoteUsed).
  void NoteUsed(uint64_t offset, uint64_t length);
  // Fetches `blocks` (within the segment) into `out` with one GetPages
  // call, naming `ahead` (remote blocks after them) as likely next.
  Status Fetch(std::span<const uint32_t> blocks, std::span<uint8_t> out, std::span<const uint32_t> ahead = {});
  Status ReadLocked(uint64_t offset, std::span<uint8_t> out);
  // The blocks partially covered by [offset, offset+length) that are remote.
  std::vector<uint32_t> PartialRemoteBlocks(uint64_t offset, uint64_t length) const;
  // Writes `data`, then each block of `rmw` whole: `fetched` holds the
  // pages of `fetched_blocks` (a superset of `rmw`), patched with the data.
  // REQUIRES: io_mutex() held, exclusively when `rmw` is not empty.
  Status WriteLocked(uint64_t offset, std::span<const uint8_t> data, const std::vector<uint32_t>& rmw,
                     const std::vector<uint32_t>& fetched_blocks, std::span<uint8_t> fetched);

  Segment& seg_;
  const int fd_;
  PageSource* const pages_;
  const std::string_view path_;
};

}  // namespace zenith::fs
