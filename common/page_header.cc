#include "common/page_header.h"

#include <cstring>
#include <string>

#include "common/byte_io.h"
#include "common/pg_abi.h"

namespace zenith {

namespace {

// pd_pagesize_version packs the page size (a multiple of 256) and the
// layout version into one uint16 (PageGetPageSize, PageGetPageLayoutVersion).
constexpr uint16_t kPageSizeMask = 0xFF00;
constexpr uint16_t kLayoutVersionMask = 0x00FF;

// pd_lsn is two uint32 halves, high first in the struct, not a uint64.
Lsn LoadPageLsn(std::span<const uint8_t> page) {
  const ZenithPgAbi& abi = kZenithPgAbi;
  const uint64_t hi = LoadU32(page, abi.page.lsn + abi.page_lsn_xlogid);
  const uint64_t lo = LoadU32(page, abi.page.lsn + abi.page_lsn_xrecoff);
  return Lsn(hi << 32 | lo);
}

bool IsMaxAligned(uint32_t offset) { return offset % kZenithPgAbi.max_align == 0; }

std::string Str(uint32_t v) { return std::to_string(v); }

}  // namespace

Result<PageHeader> DecodePageHeader(std::span<const uint8_t> page) {
  if (page.size() != kZenithPgAbi.blcksz) {
    return InvalidArgument("a data page is " + Str(kZenithPgAbi.blcksz) + " bytes (BLCKSZ), got " +
                           std::to_string(page.size()));
  }
  const ZenithPageHeaderOffsets& o = kZenithPgAbi.page;
  PageHeader h;
  h.lsn = LoadPageLsn(page);
  h.checksum = LoadU16(page, o.checksum);
  h.flags = LoadU16(page, o.flags);
  h.lower = LoadU16(page, o.lower);
  h.upper = LoadU16(page, o.upper);
  h.special = LoadU16(page, o.special);
  const uint16_t size_version = LoadU16(page, o.pagesize_version);
  h.page_size = size_version & kPageSizeMask;
  h.layout_version = static_cast<uint8_t>(size_version & kLayoutVersionMask);
  h.prune_xid = LoadU32(page, o.prune_xid);
  return h;
}

bool IsAllZeroPage(std::span<const uint8_t> page) {
  // Byte 0 is zero and every byte equals its successor: all are zero.
  return page.empty() || (page[0] == 0 && std::memcmp(page.data(), page.data() + 1, page.size() - 1) == 0);
}

Status CheckPageHeader(const PageHeader& h) {
  const uint32_t blcksz = kZenithPgAbi.blcksz;
  const uint16_t valid_flags = kZenithPgAbi.pd_valid_flag_bits;
  if (h.upper == 0) {
    return Corruption("page header has pd_upper 0, which marks a new page, but the page is not all zeros");
  }
  if ((h.flags & ~valid_flags) != 0) {
    return Corruption("page header has invalid pd_flags " + Str(h.flags) + " (valid bits: " + Str(valid_flags) +
                      ")");
  }
  if (h.lower > h.upper) {
    return Corruption("page header has pd_lower " + Str(h.lower) + " past pd_upper " + Str(h.upper));
  }
  if (h.upper > h.special) {
    return Corruption("page header has pd_upper " + Str(h.upper) + " past pd_special " + Str(h.special));
  }
  if (h.special > blcksz) {
    return Corruption("page header has pd_special " + Str(h.special) + " past the page end " + Str(blcksz));
  }
  if (!IsMaxAligned(h.special)) {
    return Corruption("page header has pd_special " + Str(h.special) + ", not a multiple of " +
                      Str(kZenithPgAbi.max_align));
  }
  return Status::Ok();
}

Status VerifyPage(std::span<const uint8_t> page) {
  ZENITH_ASSIGN_OR_RETURN(PageHeader header, DecodePageHeader(page));
  if (IsAllZeroPage(page)) return Status::Ok();
  return CheckPageHeader(header);
}

}  // namespace zenith
