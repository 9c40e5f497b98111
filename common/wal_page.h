// WAL pages: reading them through a caller's read function and validating
// their headers as PostgreSQL 15's XLogReaderValidatePageHeader does. The
// building block of WalReader and FindFirstRecordInSegment (wal_reader.h);
// most code wants those instead.
//
// On disk, WAL is cut into XLOG_BLCKSZ pages; each begins with a page header
// (a long one, naming the system and the segment size, on a segment's first
// page). A page whose header is wrong (zeros, a recycled segment's old
// contents, another system's WAL) is where the WAL ends.
//
// Thread-safety: WalPageReader is used by one thread at a time. WalReadFn
// implementations say for themselves.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <span>
#include <string>

#include "common/lsn.h"
#include "common/status.h"

namespace zenith {

// Reads up to buf.size() bytes of WAL at `pos` into buf and returns how many
// it read: fewer only where the WAL that exists ends (0 if nothing is there).
// An error Status only for a real I/O failure. Must not read past buf.
using WalReadFn = std::function<Result<size_t>(Lsn pos, std::span<uint8_t> buf)>;

class WalPageReader {
 public:
  // `system_id` 0 skips the system identifier check. `tli` only names segment
  // files in messages, as PostgreSQL's reader does.
  WalPageReader(WalReadFn read, uint64_t system_id, TimeLineId tli);

  // Makes page() the page at `page_ptr` (REQUIRES: page-aligned) with at
  // least `need` bytes present (at most a page) and a valid header. A page
  // already loaded with enough bytes is not read again; a short one is. As in
  // PostgreSQL, entering a segment at a page other than its first validates
  // the segment's first page (its long header) too.
  // Returns true when done; false at the end of WAL, with *end_reason set in
  // PostgreSQL's words where it has them; an error only if the read fails.
  Result<bool> Load(Lsn page_ptr, size_t need, std::string* end_reason);

  // The bytes of the loaded page that exist. REQUIRES: the last Load() was true.
  std::span<const uint8_t> page() const { return std::span<const uint8_t>(buf_).first(valid_); }
  uint16_t info() const;        // xlp_info
  uint32_t rem_len() const;     // xlp_rem_len
  uint32_t header_size() const; // XLogPageHeaderSize: short or long

  // Forgets the cached page and segment checks, so the next Load() reads
  // again (for a retry after the end of WAL, when more may have arrived).
  void Reset();

 private:
  Result<bool> ReadPage(Lsn page_ptr, std::string* end_reason);
  Result<bool> CheckSegmentStart(uint64_t segno, std::string* end_reason);
  bool ValidateHeader(std::span<const uint8_t> hdr, Lsn page_ptr, std::string* end_reason);
  bool ValidateLongHeader(std::span<const uint8_t> hdr, std::string* end_reason) const;
  std::string SegmentFile(Lsn page_ptr) const;

  WalReadFn read_;
  uint64_t system_id_;
  TimeLineId tli_;
  std::array<uint8_t, kWalPageSize> buf_{};
  Lsn page_ptr_;            // the page in buf_; Invalid when none
  size_t valid_ = 0;        // bytes of it that exist
  uint64_t checked_segment_ = UINT64_MAX;  // segment whose first page was validated
  Lsn latest_page_ptr_;     // for the timeline-sequence check
  TimeLineId latest_page_tli_ = 0;
};

// MAXALIGN, with the server's alignment.
uint64_t WalMaxAlign(uint64_t n);

}  // namespace zenith
