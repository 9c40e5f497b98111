#include "common/pg_authid.h"

#include <cstring>

#include "common/byte_io.h"
#include "common/page_header.h"
#include "common/pg_abi.h"

namespace zenith {

namespace {

// xmin a precedes xmin b, modulo 2^32 as PostgreSQL compares normal xids.
bool XidPrecedes(uint32_t a, uint32_t b) { return static_cast<int32_t>(a - b) < 0; }

Result<AuthIdTuple> DecodeTuple(std::span<const uint8_t> tuple) {
  const ZenithPgAbi& abi = kZenithPgAbi;
  if (tuple.size() < abi.tuple_header_size) return Corruption("a pg_authid tuple is shorter than its header");
  const uint8_t hoff = LoadU8(tuple, abi.tuple_hoff);
  const size_t name_end = hoff + abi.authid_rolname_offset + abi.name_data_len;
  if (hoff < abi.tuple_header_size || name_end > tuple.size()) {
    return Corruption("a pg_authid tuple of " + std::to_string(tuple.size()) + " bytes has its data at " +
                      std::to_string(hoff));
  }
  const uint16_t infomask = LoadU16(tuple, abi.tuple_infomask);
  const uint32_t xmax = LoadU32(tuple, abi.tuple_xmax);
  const bool lock_only = (infomask & abi.heap_xmax_lock_only) != 0;
  AuthIdTuple t;
  t.oid = LoadU32(tuple, hoff + abi.authid_oid_offset);
  const char* name = reinterpret_cast<const char*>(tuple.data() + hoff + abi.authid_rolname_offset);
  t.name.assign(name, strnlen(name, abi.name_data_len));
  t.xmin = LoadU32(tuple, abi.tuple_xmin);
  t.live = (infomask & abi.heap_xmin_invalid) == 0 &&
           (xmax == 0 || (infomask & abi.heap_xmax_invalid) != 0 || lock_only);
  return t;
}

}  // namespace

Result<std::vector<AuthIdTuple>> DecodeAuthIdPage(std::span<const uint8_t> page) {
  const ZenithPgAbi& abi = kZenithPgAbi;
  std::vector<AuthIdTuple> out;
  if (page.size() == abi.blcksz && IsAllZeroPage(page)) return out;
  ZENITH_ASSIGN_OR_RETURN(PageHeader header, DecodePageHeader(page));
  ZENITH_RETURN_IF_ERROR(CheckPageHeader(header));
  if (header.lower < abi.page.size) return Corruption("a pg_authid page's pd_lower is inside its header");
  for (size_t at = abi.page.size; at + abi.item_id_size <= header.lower; at += abi.item_id_size) {
    uint32_t offset = 0, flags = 0, length = 0;
    ZenithDecodeItemId(page.data() + at, &offset, &flags, &length);
    if (flags != abi.lp_normal) continue;  // unused, dead, or a redirect to a later line pointer
    if (offset < header.upper || offset + length > header.special) {
      return Corruption("a pg_authid line pointer points at " + std::to_string(offset) + "+" + std::to_string(length) +
                        ", outside the page's tuples");
    }
    ZENITH_ASSIGN_OR_RETURN(AuthIdTuple t, DecodeTuple(page.subspan(offset, length)));
    out.push_back(std::move(t));
  }
  return out;
}

Result<std::string> BootstrapSuperuser(const std::vector<AuthIdTuple>& tuples) {
  const AuthIdTuple* best = nullptr;
  for (const AuthIdTuple& t : tuples) {
    if (t.oid != kZenithPgAbi.bootstrap_superuser_id || !t.live) continue;
    if (best == nullptr || XidPrecedes(best->xmin, t.xmin)) best = &t;
  }
  if (best == nullptr) return NotFound("pg_authid holds no live row for the bootstrap superuser (oid 10)");
  if (best->name.empty()) return Corruption("the bootstrap superuser's name in pg_authid is empty");
  return best->name;
}

Result<std::string> ReadBootstrapSuperuser(uint32_t blocks, const AuthIdBlockReader& read) {
  std::vector<AuthIdTuple> tuples;
  std::vector<uint8_t> page(kZenithPgAbi.blcksz);
  for (uint32_t block = 0; block < blocks; ++block) {
    ZENITH_RETURN_IF_ERROR(read(block, page));
    ZENITH_ASSIGN_OR_RETURN(auto found, DecodeAuthIdPage(page));
    tuples.insert(tuples.end(), found.begin(), found.end());
  }
  return BootstrapSuperuser(tuples);
}

}  // namespace zenith
