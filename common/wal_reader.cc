#include "common/wal_reader.h"

#include <algorithm>

#include "common/byte_io.h"
#include "common/crc32c.h"
#include "common/pg_abi.h"
#include "common/str_format.h"

namespace zenith {

namespace {

// PostgreSQL 15 sizes its record buffer as the length rounded up past a page
// boundary (allocate_recordbuf) and gives up beyond MaxAllocSize.
bool RecordTooLong(uint32_t total_len) {
  const uint64_t size = uint64_t{total_len} + (kWalPageSize - total_len % kWalPageSize);
  return size > kZenithPgAbi.max_alloc_size;
}

}  // namespace

WalReader::WalReader(WalReadFn read, uint64_t system_id, Lsn start, TimeLineId tli)
    : pages_(std::move(read), system_id, tli), next_(start) {}

Result<std::optional<WalRecord>> WalReader::Next() {
  ZENITH_ASSIGN_OR_RETURN(const WalRecord* record, ReadRecord());
  if (record == nullptr) return std::optional<WalRecord>();
  return std::optional<WalRecord>(*record);
}

Result<const WalRecord*> WalReader::ReadRecord() {
  end_reason_.clear();
  Lsn rec = next_;
  while (true) {
    Result<Step> step = ReadAt(&rec);
    if (!step.ok()) {
      pages_.Reset();
      return step.status();
    }
    switch (*step) {
      case Step::kRecord:
        return static_cast<const WalRecord*>(&record_);
      case Step::kEnd:
        pages_.Reset();  // a retry reads afresh: more WAL may have arrived
        return static_cast<const WalRecord*>(nullptr);
      case Step::kRestart:
      case Step::kContinue:
        break;  // `rec` moved forward to an overwriting page: read there
    }
  }
}

WalReader::Step WalReader::End(std::string reason) {
  end_reason_ = std::move(reason);
  return Step::kEnd;
}

// XLogDecodeNextRecord: the record at *rec (or, at a page start, after the
// page header). Sets *rec to where the record really starts.
Result<WalReader::Step> WalReader::ReadAt(Lsn* rec) {
  const auto& a = kZenithPgAbi;
  const Lsn page_ptr = rec->page_start();
  uint32_t offset = rec->page_offset();
  if (offset % a.max_align != 0) return End("invalid record offset at " + rec->ToString());
  ZENITH_ASSIGN_OR_RETURN(bool ok, pages_.Load(page_ptr, std::min(offset + a.record.size, kWalPageSize), &end_reason_));
  if (!ok) return Step::kEnd;
  const uint32_t header = pages_.header_size();
  if (offset == 0) {
    *rec = *rec + header;
    offset = header;
    ZENITH_ASSIGN_OR_RETURN(ok, pages_.Load(page_ptr, std::min(offset + a.record.size, kWalPageSize), &end_reason_));
    if (!ok) return Step::kEnd;
  } else if (offset < header) {
    return End("invalid record offset at " + rec->ToString());
  }
  if ((pages_.info() & a.xlp_first_is_contrecord) && offset == header) {
    return End("contrecord is requested by " + rec->ToString());
  }
  // xl_tot_len is on this page (records are MAXALIGNed); the rest of the
  // header may not be, and is then validated once reassembled.
  const std::span<const uint8_t> page = pages_.page();
  const uint32_t total_len = LoadU32(page, offset + a.record.tot_len);
  const bool have_header = offset <= kWalPageSize - a.record.size;
  if (have_header) {
    if (!ValidHeader(page.subspan(offset, a.record.size), *rec)) return Step::kEnd;
  } else if (total_len < a.record.size) {
    return End(StringPrintf("invalid record length at %s: wanted %u, got %u", rec->ToString().c_str(), a.record.size,
                      total_len));
  }
  if (total_len <= kWalPageSize - offset) return ReadOnePage(*rec, offset, total_len);
  return ReadAcrossPages(rec, offset, total_len, have_header);
}

Result<WalReader::Step> WalReader::ReadOnePage(Lsn rec, uint32_t offset, uint32_t total_len) {
  ZENITH_ASSIGN_OR_RETURN(bool ok, pages_.Load(rec.page_start(), offset + total_len, &end_reason_));
  if (!ok) return Step::kEnd;
  const auto bytes = pages_.page().subspan(offset, total_len);
  record_.bytes.assign(bytes.begin(), bytes.end());
  return Finish(rec, rec + WalMaxAlign(total_len));
}

// Reassembles a record that continues on the following pages. The buffer
// grows only with bytes actually read, each page's xlp_rem_len having been
// cross-checked against the header's length: a corrupt length cannot make
// us allocate what is not there.
Result<WalReader::Step> WalReader::ReadAcrossPages(Lsn* rec, uint32_t offset, uint32_t total_len, bool have_header) {
  Lsn page_ptr = rec->page_start();
  ZENITH_ASSIGN_OR_RETURN(bool ok, pages_.Load(page_ptr, kWalPageSize, &end_reason_));
  if (!ok) return Step::kEnd;
  const auto first = pages_.page().subspan(offset);
  record_.bytes.assign(first.begin(), first.end());
  if (have_header && !CheckLength(*rec, total_len)) return Step::kEnd;
  while (record_.bytes.size() < total_len) {
    page_ptr = page_ptr + kWalPageSize;
    ZENITH_ASSIGN_OR_RETURN(Step step, AppendContinuation(*rec, page_ptr, total_len, &have_header));
    if (step == Step::kRestart) *rec = page_ptr;
    if (step != Step::kContinue) return step;
  }
  const Lsn end = page_ptr + pages_.header_size() + WalMaxAlign(pages_.rem_len());
  return Finish(*rec, end);
}

// Appends the part of the record on the continuation page at `page_ptr`.
// kContinue when appended; kRestart when the page says a recovered compute
// overwrote the rest of this record (read again from that page).
Result<WalReader::Step> WalReader::AppendContinuation(Lsn rec, Lsn page_ptr, uint32_t total_len, bool* have_header) {
  const auto& a = kZenithPgAbi;
  const uint64_t got = record_.bytes.size();
  ZENITH_ASSIGN_OR_RETURN(bool ok, pages_.Load(page_ptr, a.page_header.short_size, &end_reason_));
  if (!ok) return Step::kEnd;
  if (pages_.info() & a.xlp_first_is_overwrite_contrecord) return Step::kRestart;
  if (!(pages_.info() & a.xlp_first_is_contrecord)) return End("there is no contrecord flag at " + rec.ToString());
  const uint32_t rem = pages_.rem_len();
  if (rem == 0 || total_len != got + rem) {
    return End(StringPrintf("invalid contrecord length %u (expected %lld) at %s", rem,
                      static_cast<long long>(total_len) - static_cast<long long>(got), rec.ToString().c_str()));
  }
  const uint32_t header = pages_.header_size();
  const uint32_t len = std::min<uint32_t>(rem, kWalPageSize - header);
  ZENITH_ASSIGN_OR_RETURN(ok, pages_.Load(page_ptr, header + len, &end_reason_));
  if (!ok) return Step::kEnd;
  const auto fragment = pages_.page().subspan(header, len);
  record_.bytes.insert(record_.bytes.end(), fragment.begin(), fragment.end());
  if (!*have_header) {
    // The header was split across the page boundary: validate it now.
    if (!ValidHeader(std::span<const uint8_t>(record_.bytes).first(a.record.size), rec)) return Step::kEnd;
    if (!CheckLength(rec, total_len)) return Step::kEnd;
    *have_header = true;
  }
  return Step::kContinue;
}

// ValidXLogRecordHeader. REQUIRES: hdr holds SizeOfXLogRecord bytes.
bool WalReader::ValidHeader(std::span<const uint8_t> hdr, Lsn rec) {
  const auto& h = kZenithPgAbi.record;
  const uint32_t total_len = LoadU32(hdr, h.tot_len);
  const uint8_t rmid = LoadU8(hdr, h.rmid);
  const Lsn prev(LoadU64(hdr, h.prev));
  if (total_len < h.size) {
    End(StringPrintf("invalid record length at %s: wanted %u, got %u", rec.ToString().c_str(), h.size, total_len));
    return false;
  }
  if (!WalRmgrIdIsValid(rmid)) {
    End(StringPrintf("invalid resource manager ID %u at %s", rmid, rec.ToString().c_str()));
    return false;
  }
  // Reading sequentially the prev-link must match exactly (it guards against
  // a stale but valid-looking record on a torn page); at a random start we
  // only know it must point backwards.
  const bool prev_ok = last_start_.valid() ? prev == last_start_ : prev < rec;
  if (!prev_ok) {
    End("record with incorrect prev-link " + prev.ToString() + " at " + rec.ToString());
    return false;
  }
  return true;
}

bool WalReader::CheckLength(Lsn rec, uint32_t total_len) {
  if (!RecordTooLong(total_len)) return true;
  End(StringPrintf("record length %u at %s too long", total_len, rec.ToString().c_str()));
  return false;
}

// ValidXLogRecord (the CRC), then DecodeXLogRecord; on success the record
// becomes the reader's and `end` its position.
WalReader::Step WalReader::Finish(Lsn rec, Lsn end) {
  const auto& h = kZenithPgAbi.record;
  const std::span<const uint8_t> bytes(record_.bytes);
  Crc32c crc;
  crc.Update(bytes.subspan(h.size));
  crc.Update(bytes.first(h.crc));
  if (crc.Finish() != LoadU32(bytes, h.crc)) {
    return End("incorrect resource manager data checksum in record at " + rec.ToString());
  }
  record_.start_lsn = rec;
  Status decoded = DecodeWalRecord(&record_);
  if (!decoded.ok()) return End(decoded.message());
  if (record_.is_xlog_switch()) {
    // Like xlogreader: the switch record extends to the end of its segment.
    end = Lsn((end.value + kWalSegmentSize - 1) / kWalSegmentSize * kWalSegmentSize);
  }
  record_.end_lsn = end;
  last_start_ = rec;
  next_ = end;
  return Step::kRecord;
}

Result<Lsn> FindEndOfWal(const WalReadFn& read, Lsn start, uint64_t system_id) {
  WalReader reader(read, system_id, start);
  while (true) {
    ZENITH_ASSIGN_OR_RETURN(const WalRecord* record, reader.ReadRecord());
    if (record == nullptr) return reader.position();
  }
}

Result<Lsn> CheckpointRecordEnd(const WalReadFn& read, uint64_t system_id, Lsn checkpoint) {
  WalReader reader(read, system_id, checkpoint);
  ZENITH_ASSIGN_OR_RETURN(const WalRecord* record, reader.ReadRecord());
  if (record == nullptr) {
    return NotFound("the checkpoint record at " + checkpoint.ToString() + " is not in the WAL: " + reader.end_reason());
  }
  if (!record->is_checkpoint()) return InvalidArgument("the record at " + checkpoint.ToString() + " is not a checkpoint");
  return record->end_lsn;
}

Result<bool> CheckpointRecordBetween(const WalReadFn& read, uint64_t system_id, Lsn from, Lsn to) {
  WalReader reader(read, system_id, from);
  for (;;) {
    ZENITH_ASSIGN_OR_RETURN(const WalRecord* record, reader.ReadRecord());
    if (record == nullptr || record->end_lsn > to) return false;
    if (record->is_checkpoint()) return true;
  }
}

Result<std::optional<Lsn>> FindFirstRecordInSegment(const WalReadFn& read, uint64_t segno, uint64_t system_id,
                                                    std::string* why) {
  const auto& ph = kZenithPgAbi.page_header;
  WalPageReader pages(read, system_id, 1);
  std::string reason;
  Lsn page_ptr(segno * kWalSegmentSize);
  size_t need = ph.long_size;
  while (true) {
    ZENITH_ASSIGN_OR_RETURN(bool ok, pages.Load(page_ptr, need, &reason));
    if (!ok) {
      if (why != nullptr) *why = reason;
      return std::optional<Lsn>();
    }
    const uint32_t header = pages.header_size();
    if (!(pages.info() & kZenithPgAbi.xlp_first_is_contrecord)) return std::optional<Lsn>(page_ptr + header);
    // Skip the rest of a record begun in an earlier page (XLogFindNextRecord).
    const uint64_t rest = WalMaxAlign(pages.rem_len());
    const uint32_t room = kWalPageSize - header;
    if (rest < room) return std::optional<Lsn>(page_ptr + header + rest);
    page_ptr = page_ptr + kWalPageSize;
    if (rest == room) return std::optional<Lsn>(page_ptr);  // it fills this page exactly
    need = ph.short_size;
  }
}

}  // namespace zenith
