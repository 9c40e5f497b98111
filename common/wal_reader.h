// WalReader: PostgreSQL 15's WAL, record by record, through a read callback
// (no I/O of its own, like PostgreSQL's xlogreader), and the end of WAL.
//
// What the reader checks, and why: a record is returned only if its header is
// sane (length, rmgr id, prev-link), every page it touches has a valid header
// (magic, flags, pageaddr, and on a segment's first page the system id,
// segment size and page size), its continuation pages say they continue it,
// its CRC matches and its fragments decode. The first check that fails is the
// end of WAL, exactly where PostgreSQL's reader stops: zeros after the last
// record, a recycled segment's stale pages, a torn or half-flushed record (a
// compute that crashed, or has not yet written the second half of a record
// that spans pages) all end the WAL cleanly *before* that record. That is the
// guard: nothing past the last complete, CRC-valid record is ever believed.
// A continuation page marked XLP_FIRST_IS_OVERWRITE_CONTRECORD (written by a
// compute that recovered from such a crash) abandons the broken record and
// resumes at that page, as PostgreSQL does.
//
// LSNs: a record's end_lsn is PostgreSQL's EndRecPtr (MAXALIGNed; for
// XLOG_SWITCH the start of the next segment); the end of WAL is the end_lsn of
// the last good record.
//
// Cost: one read of each WAL page (8 KB) and one CRC pass per record; the
// record buffer and block list are reused, so ReadRecord() and FindEndOfWal
// allocate nothing per record once warmed up.
//
// Thread-safety: a WalReader is used by one thread at a time. The free
// functions are reentrant if the read function is. (Their messages name
// segment files on timeline 1, zenith's only timeline.)
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/lsn.h"
#include "common/status.h"
#include "common/wal_page.h"  // WalReadFn
#include "common/wal_record.h"

namespace zenith {

class WalReader {
 public:
  // `read` supplies the WAL; the reader keeps a copy of it (whatever that
  // captures must outlive the reader). `system_id` is the expected system
  // identifier (0: don't check).
  // REQUIRES: `start` is a record boundary: the start of a record, or the
  // start of a page where one begins (its page header is then skipped), e.g.
  // the end_lsn of a record. `tli` names segment files in messages only.
  WalReader(WalReadFn read, uint64_t system_id, Lsn start, TimeLineId tli = 1);

  // The next complete, valid record (an owning copy); nullopt at the end of
  // WAL, with end_reason() saying why. An error only if the read function
  // failed. After nullopt or an error the reader stays where it was, so a
  // later call retries (and continues if more WAL has arrived).
  Result<std::optional<WalRecord>> Next();

  // Like Next() without the copy: the record lives in the reader and stays
  // valid until the next call to Next()/ReadRecord() or the reader's end.
  // nullptr at the end of WAL.
  Result<const WalRecord*> ReadRecord();

  // Where the next record will be read: `start` until a record is read, then
  // the end_lsn of the last record read. At the end of WAL, the end of WAL.
  Lsn position() const { return next_; }

  // Why the last Next()/ReadRecord() found the end of WAL, in PostgreSQL's
  // words where it has them ("invalid record length at 0/1A2B3C8: wanted
  // 24, got 0"); empty after a record.
  const std::string& end_reason() const { return end_reason_; }

 private:
  // kContinue: a continuation page was appended; kRestart: read again at
  // the page that overwrote the record.
  enum class Step { kRecord, kEnd, kRestart, kContinue };
  Result<Step> ReadAt(Lsn* rec);
  Result<Step> ReadOnePage(Lsn rec, uint32_t offset, uint32_t total_len);
  Result<Step> ReadAcrossPages(Lsn* rec, uint32_t offset, uint32_t total_len, bool have_header);
  Result<Step> AppendContinuation(Lsn rec, Lsn page_ptr, uint32_t total_len, bool* have_header);
  bool ValidHeader(std::span<const uint8_t> hdr, Lsn rec);
  bool CheckLength(Lsn rec, uint32_t total_len);
  Step Finish(Lsn rec, Lsn end);
  Step End(std::string reason);

  WalPageReader pages_;
  Lsn next_;           // NextRecPtr: where the next record is read
  Lsn last_start_;     // start of the last record read; Invalid before the first (random access)
  WalRecord record_;   // the last record; its buffers are reused
  std::string end_reason_;
};

// The end of the last complete valid record reading from `start` (REQUIRES:
// a record boundary, as for WalReader); `start` itself if there is none.
// Errors only from the read function.
Result<Lsn> FindEndOfWal(const WalReadFn& read, Lsn start, uint64_t system_id);

// The end of the checkpoint record that starts at `checkpoint` (pg_control's
// checkPoint). NotFound, with the reader's reason, when there is no valid
// record there; InvalidArgument when the record there is not a checkpoint.
Result<Lsn> CheckpointRecordEnd(const WalReadFn& read, uint64_t system_id, Lsn checkpoint);

// Whether a checkpoint record ends in (from, to], reading from `from` (a
// record boundary).
Result<bool> CheckpointRecordBetween(const WalReadFn& read, uint64_t system_id, Lsn from, Lsn to);

// The first record boundary in segment `segno`: past the continuation of a
// record from the previous segment (per xlp_rem_len, across as many pages as
// it covers, like XLogFindNextRecord). It need not hold a record yet (it may
// be the end of WAL). nullopt if the segment does not begin with a valid page
// (or the pages the continuation covers are not valid); then *why, if given,
// says what was wrong. Errors only from the read function.
Result<std::optional<Lsn>> FindFirstRecordInSegment(const WalReadFn& read, uint64_t segno, uint64_t system_id,
                                                    std::string* why = nullptr);

}  // namespace zenith
