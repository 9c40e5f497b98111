#include "common/wal_page.h"

#include <cinttypes>

#include "common/byte_io.h"
#include "common/pg_abi.h"
#include "common/str_format.h"

namespace zenith {

namespace {

uint32_t HeaderSizeFor(uint16_t info) {
  const auto& a = kZenithPgAbi;
  return (info & a.xlp_long_header) ? a.page_header.long_size : a.page_header.short_size;
}

}  // namespace

uint64_t WalMaxAlign(uint64_t n) {
  const uint64_t align = kZenithPgAbi.max_align;
  return (n + align - 1) & ~(align - 1);
}

WalPageReader::WalPageReader(WalReadFn read, uint64_t system_id, TimeLineId tli)
    : read_(std::move(read)), system_id_(system_id), tli_(tli) {}

uint16_t WalPageReader::info() const { return LoadU16(buf_, kZenithPgAbi.page_header.info); }
uint32_t WalPageReader::rem_len() const { return LoadU32(buf_, kZenithPgAbi.page_header.rem_len); }
uint32_t WalPageReader::header_size() const { return HeaderSizeFor(info()); }

void WalPageReader::Reset() {
  page_ptr_ = Lsn::Invalid();
  valid_ = 0;
  checked_segment_ = UINT64_MAX;
}

std::string WalPageReader::SegmentFile(Lsn page_ptr) const {
  return WalSegmentFileName(tli_, page_ptr.segment_number());
}

Result<bool> WalPageReader::Load(Lsn page_ptr, size_t need, std::string* end_reason) {
  if (valid_ > 0 && page_ptr_ == page_ptr && valid_ >= need) return true;
  const uint64_t segno = page_ptr.segment_number();
  if (segno != checked_segment_ && page_ptr.segment_offset() != 0) {
    ZENITH_ASSIGN_OR_RETURN(bool ok, CheckSegmentStart(segno, end_reason));
    if (!ok) return false;
  }
  ZENITH_ASSIGN_OR_RETURN(bool ok, ReadPage(page_ptr, end_reason));
  if (!ok) return false;
  if (page_ptr.segment_offset() == 0) checked_segment_ = segno;
  if (valid_ < need) {
    *end_reason = StringPrintf("could not read WAL at %s: read %zu of %zu bytes of page %s in log segment %s",
                         (page_ptr + valid_).ToString().c_str(), valid_, need, page_ptr.ToString().c_str(),
                         SegmentFile(page_ptr).c_str());
    return false;
  }
  return true;
}

// Reads the whole page (as much of it as exists) and validates its header.
Result<bool> WalPageReader::ReadPage(Lsn page_ptr, std::string* end_reason) {
  page_ptr_ = page_ptr;
  valid_ = 0;
  ZENITH_ASSIGN_OR_RETURN(size_t n, read_(page_ptr, std::span<uint8_t>(buf_)));
  if (n > buf_.size()) return Internal("WAL read function returned more bytes than asked for");
  valid_ = n;
  const auto& ph = kZenithPgAbi.page_header;
  const size_t header = n >= ph.short_size ? HeaderSizeFor(info()) : ph.short_size;
  if (n < header) {
    *end_reason = StringPrintf("could not read WAL page header at %s in log segment %s, offset %u: read %zu of %zu",
                         page_ptr.ToString().c_str(), SegmentFile(page_ptr).c_str(), page_ptr.segment_offset(), n,
                         header);
    valid_ = 0;
    return false;
  }
  if (!ValidateHeader(std::span<const uint8_t>(buf_).first(n), page_ptr, end_reason)) {
    valid_ = 0;
    return false;
  }
  return true;
}

// PostgreSQL validates a segment's first page (its long header: system id,
// segment size) whenever it starts reading the segment elsewhere.
Result<bool> WalPageReader::CheckSegmentStart(uint64_t segno, std::string* end_reason) {
  const Lsn start(segno * kWalSegmentSize);
  const uint32_t long_size = kZenithPgAbi.page_header.long_size;
  std::array<uint8_t, 64> hdr{};
  if (long_size > hdr.size()) return Internal("long WAL page header larger than expected");
  ZENITH_ASSIGN_OR_RETURN(size_t n, read_(start, std::span<uint8_t>(hdr).first(long_size)));
  if (n < long_size) {
    *end_reason = StringPrintf("could not read WAL page header at %s in log segment %s, offset 0: read %zu of %u",
                         start.ToString().c_str(), SegmentFile(start).c_str(), n, long_size);
    return false;
  }
  if (!ValidateHeader(std::span<const uint8_t>(hdr).first(n), start, end_reason)) return false;
  checked_segment_ = segno;
  return true;
}

// XLogReaderValidatePageHeader. REQUIRES: hdr holds the whole header.
bool WalPageReader::ValidateHeader(std::span<const uint8_t> hdr, Lsn page_ptr, std::string* end_reason) {
  const auto& a = kZenithPgAbi;
  const auto& ph = a.page_header;
  const uint32_t offset = page_ptr.segment_offset();
  auto seg = [&] { return SegmentFile(page_ptr); };  // only for messages: no string per good page
  const uint16_t magic = LoadU16(hdr, ph.magic);
  const uint16_t info = LoadU16(hdr, ph.info);
  if (magic != a.xlog_page_magic) {
    *end_reason = StringPrintf("invalid magic number %04X in log segment %s, offset %u", magic, seg().c_str(), offset);
    return false;
  }
  if ((info & ~a.xlp_all_flags) != 0) {
    *end_reason = StringPrintf("invalid info bits %04X in log segment %s, offset %u", info, seg().c_str(), offset);
    return false;
  }
  if (info & a.xlp_long_header) {
    if (!ValidateLongHeader(hdr, end_reason)) return false;
  } else if (offset == 0) {
    // The first page of a segment must have a long header.
    *end_reason = StringPrintf("invalid info bits %04X in log segment %s, offset %u", info, seg().c_str(), offset);
    return false;
  }
  const Lsn pageaddr(LoadU64(hdr, ph.pageaddr));
  if (pageaddr != page_ptr) {
    *end_reason = StringPrintf("unexpected pageaddr %s in log segment %s, offset %u", pageaddr.ToString().c_str(),
                         seg().c_str(), offset);
    return false;
  }
  const TimeLineId tli = LoadU32(hdr, ph.tli);
  if (page_ptr > latest_page_ptr_ && tli < latest_page_tli_) {
    *end_reason = StringPrintf("out-of-sequence timeline ID %u (after %u) in log segment %s, offset %u", tli,
                         latest_page_tli_, seg().c_str(), offset);
    return false;
  }
  latest_page_ptr_ = page_ptr;
  latest_page_tli_ = tli;
  return true;
}

bool WalPageReader::ValidateLongHeader(std::span<const uint8_t> hdr, std::string* end_reason) const {
  const auto& a = kZenithPgAbi;
  const auto& ph = a.page_header;
  const uint64_t sysid = LoadU64(hdr, ph.sysid);
  if (system_id_ != 0 && sysid != system_id_) {
    *end_reason = StringPrintf(
        "WAL file is from different database system: WAL file database system identifier is %" PRIu64
        ", pg_control database system identifier is %" PRIu64,
        sysid, system_id_);
    return false;
  }
  if (LoadU32(hdr, ph.seg_size) != kWalSegmentSize) {
    *end_reason = "WAL file is from different database system: incorrect segment size in page header";
    return false;
  }
  if (LoadU32(hdr, ph.xlog_blcksz) != a.xlog_blcksz) {
    *end_reason = "WAL file is from different database system: incorrect XLOG_BLCKSZ in page header";
    return false;
  }
  return true;
}

}  // namespace zenith
