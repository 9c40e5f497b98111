// page_header: the header of a PostgreSQL 15 data page (PageHeaderData),
// and the sanity checks PostgreSQL makes before it lets a page it read from
// disk into its buffer pool.
//
// Every relation file is a sequence of BLCKSZ pages. A page is either all
// zeros (allocated, never initialised: a crash can leave these after a
// relation was extended) or starts with this header. pd_lower..pd_upper is
// the free space between the line pointers and the tuples, pd_special the
// start of the access method's trailer. PostgreSQL refuses (ERRORs on) a
// page whose header is not sane, so the page server must never serve one.
//
// Fields are read at the offsets PostgreSQL's own headers give (pg_abi.h),
// in host byte order. No data-checksum algorithm: pd_checksum is decoded,
// not verified.
//
// Thread-safety: pure functions over caller-owned bytes.
#pragma once

#include <cstdint>
#include <span>

#include "common/lsn.h"
#include "common/status.h"

namespace zenith {

struct PageHeader {
  Lsn lsn;                   // pd_lsn: end of the last WAL record that changed the page
  uint16_t checksum = 0;     // pd_checksum; meaningful only with data checksums on
  uint16_t flags = 0;        // pd_flags (PD_HAS_FREE_LINES, PD_PAGE_FULL, PD_ALL_VISIBLE)
  uint16_t lower = 0;        // pd_lower: offset of the start of free space
  uint16_t upper = 0;        // pd_upper: offset of the end of free space; 0 on a new page
  uint16_t special = 0;      // pd_special: offset of the special space
  uint16_t page_size = 0;    // bytes: pd_pagesize_version & 0xFF00 (BLCKSZ)
  uint8_t layout_version = 0;  // pd_pagesize_version & 0x00FF (4 in PostgreSQL 15)
  uint32_t prune_xid = 0;    // pd_prune_xid: oldest prunable xid, or 0

  bool operator==(const PageHeader&) const = default;
};

// Decodes the header of `page`, which must be exactly BLCKSZ bytes
// (kInvalidArgument otherwise). Does not judge the values: see
// CheckPageHeader. An all-zero page decodes to all-zero fields.
Result<PageHeader> DecodePageHeader(std::span<const uint8_t> page);

// True when every byte of `page` is zero (also for an empty span).
bool IsAllZeroPage(std::span<const uint8_t> page);

// The header checks PostgreSQL's PageIsVerifiedExtended() makes on a page
// that is not all zeros: pd_upper is not 0 (0 marks a new page, which must
// be all zeros), pd_flags has only valid bits, pd_lower <= pd_upper <=
// pd_special <= BLCKSZ, and pd_special is MAXALIGNed. Returns kCorruption
// naming the first check that failed and the values involved. Exactly as
// lenient as PostgreSQL: the page size and layout version are not checked.
// REQUIRES: the header comes from a page that is not all zeros.
Status CheckPageHeader(const PageHeader& header);

// Whether PostgreSQL would accept `page` (BLCKSZ bytes) into its buffer
// pool, checksum aside: OK for an all-zero page or a page whose header
// passes CheckPageHeader; kInvalidArgument for a wrong size; kCorruption
// otherwise.
Status VerifyPage(std::span<const uint8_t> page);

}  // namespace zenith
