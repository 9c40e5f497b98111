#include "common/wal_record.h"

#include <cinttypes>
#include <cstring>

#include "common/byte_io.h"
#include "common/pg_abi.h"
#include "common/str_format.h"

namespace zenith {

namespace {

bool IsCompressed(uint8_t image_info) {
  const auto& a = kZenithPgAbi;
  return (image_info & (a.bkpimage_compress_pglz | a.bkpimage_compress_lz4 | a.bkpimage_compress_zstd)) != 0;
}


// Walks the fragment headers after the XLogRecord header, never past the
// record (DecodeXLogRecord's COPY_HEADER_FIELD).
class HeaderCursor {
 public:
  explicit HeaderCursor(std::span<const uint8_t> bytes, size_t start) : bytes_(bytes), pos_(start) {}
  size_t pos() const { return pos_; }
  size_t remaining() const { return bytes_.size() - pos_; }
  // Claims the next n bytes and returns their offset; false if fewer remain.
  bool Take(size_t n, size_t* at) {
    if (remaining() < n) return false;
    *at = pos_;
    pos_ += n;
    return true;
  }
  std::span<const uint8_t> bytes() const { return bytes_; }

 private:
  std::span<const uint8_t> bytes_;
  size_t pos_;
};

struct DecodeState {
  WalRecord* record;
  HeaderCursor cursor;
  uint64_t data_total = 0;  // payload bytes the headers announce (64-bit: no wraparound)
  int max_block_id = -1;
  bool have_rel = false;    // a previous block named a relation (for BKPBLOCK_SAME_REL)
  uint32_t rel[3] = {0, 0, 0};
  std::string error;        // set when a check fails

  std::string At() const { return record->start_lsn.ToString(); }
  bool Fail(std::string message) {
    error = std::move(message);
    return false;
  }
  // A header or the payload runs past the record's end.
  bool Short() { return Fail("record with invalid length at " + At()); }
};

// The XLogRecordBlockImageHeader (and compress header) of `blk`, with the
// cross-checks DecodeXLogRecord makes.
bool DecodeImageHeader(DecodeState& s, WalBlockRef& blk) {
  const auto& a = kZenithPgAbi;
  const auto& w = a.wal_block;
  auto b = s.cursor.bytes();
  size_t at;
  if (!s.cursor.Take(a.block_image_header_size, &at)) return s.Short();
  blk.image_length = LoadU16(b, at + w.image_length);
  blk.hole_offset = LoadU16(b, at + w.image_hole_offset);
  blk.image_info = LoadU8(b, at + w.image_info);
  blk.image_applies = (blk.image_info & a.bkpimage_apply) != 0;
  if (blk.image_compressed()) {
    if (blk.image_has_hole()) {
      if (!s.cursor.Take(a.block_compress_header_size, &at)) return s.Short();
      blk.hole_length = LoadU16(b, at + w.compress_hole_length);
    } else {
      blk.hole_length = 0;
    }
  } else {
    blk.hole_length = static_cast<uint16_t>(a.blcksz - blk.image_length);
  }
  s.data_total += blk.image_length;
  return true;
}

bool CheckImageHeader(DecodeState& s, const WalBlockRef& blk) {
  const uint32_t blcksz = kZenithPgAbi.blcksz;
  if (blk.image_has_hole() && (blk.hole_offset == 0 || blk.hole_length == 0 || blk.image_length == blcksz)) {
    return s.Fail(StringPrintf("BKPIMAGE_HAS_HOLE set, but hole offset %u length %u block image length %u at %s",
                         blk.hole_offset, blk.hole_length, blk.image_length, s.At().c_str()));
  }
  if (!blk.image_has_hole() && (blk.hole_offset != 0 || blk.hole_length != 0)) {
    return s.Fail(StringPrintf("BKPIMAGE_HAS_HOLE not set, but hole offset %u length %u at %s", blk.hole_offset,
                         blk.hole_length, s.At().c_str()));
  }
  if (blk.image_compressed() && blk.image_length == blcksz) {
    return s.Fail(StringPrintf("BKPIMAGE_COMPRESSED set, but block image length %u at %s", blk.image_length,
                         s.At().c_str()));
  }
  if (!blk.image_has_hole() && !blk.image_compressed() && blk.image_length != blcksz) {
    // PostgreSQL 15 prints data_len here; so do we, to keep its words.
    return s.Fail(StringPrintf("neither BKPIMAGE_HAS_HOLE nor BKPIMAGE_COMPRESSED set, but block image length is %u at %s",
                         blk.data_length, s.At().c_str()));
  }
  return true;
}

// The relation (or BKPBLOCK_SAME_REL) and block number of `blk`.
bool DecodeBlockTarget(DecodeState& s, WalBlockRef& blk) {
  const auto& a = kZenithPgAbi;
  const auto& w = a.wal_block;
  auto b = s.cursor.bytes();
  size_t at;
  if (!(blk.flags & a.bkpblock_same_rel)) {
    if (!s.cursor.Take(a.relfilenode_size, &at)) return s.Short();
    s.rel[0] = LoadU32(b, at + w.rel_spc);
    s.rel[1] = LoadU32(b, at + w.rel_db);
    s.rel[2] = LoadU32(b, at + w.rel_rel);
    s.have_rel = true;
  } else if (!s.have_rel) {
    return s.Fail("BKPBLOCK_SAME_REL set but no previous rel at " + s.At());
  }
  blk.tablespace = s.rel[0];
  blk.database = s.rel[1];
  blk.relfilenode = s.rel[2];
  if (!s.cursor.Take(w.block_number_size, &at)) return s.Short();
  blk.block = LoadU32(b, at);
  return true;
}

// One XLogRecordBlockHeader and what follows it.
// `header` is the offset of its id byte, already consumed.
bool DecodeBlockHeader(DecodeState& s, size_t header, uint8_t block_id) {
  const auto& a = kZenithPgAbi;
  if (static_cast<int>(block_id) <= s.max_block_id) {
    return s.Fail(StringPrintf("out-of-order block_id %u at %s", block_id, s.At().c_str()));
  }
  s.max_block_id = block_id;
  size_t unused;
  if (!s.cursor.Take(a.block_header_size - 1, &unused)) return s.Short();
  const size_t at = header;  // every fragment header begins with its id byte
  auto b = s.cursor.bytes();
  WalBlockRef blk;
  blk.block_id = block_id;
  blk.flags = LoadU8(b, at + a.wal_block.fork_flags);
  blk.fork = blk.flags & a.bkpblock_fork_mask;
  blk.has_image = (blk.flags & a.bkpblock_has_image) != 0;
  blk.has_data = (blk.flags & a.bkpblock_has_data) != 0;
  blk.will_init = (blk.flags & a.bkpblock_will_init) != 0;
  blk.data_length = LoadU16(b, at + a.wal_block.data_length);
  if (blk.has_data && blk.data_length == 0) {
    return s.Fail("BKPBLOCK_HAS_DATA set, but no data included at " + s.At());
  }
  if (!blk.has_data && blk.data_length != 0) {
    return s.Fail(StringPrintf("BKPBLOCK_HAS_DATA not set, but data length is %u at %s", blk.data_length, s.At().c_str()));
  }
  s.data_total += blk.data_length;
  if (blk.has_image && (!DecodeImageHeader(s, blk) || !CheckImageHeader(s, blk))) return false;
  if (!DecodeBlockTarget(s, blk)) return false;
  s.record->blocks.push_back(blk);
  return true;
}

// Reads a little fixed-size fragment (origin, toplevel xid, data length) of
// `size` bytes after the id byte.
bool TakeField(DecodeState& s, size_t size, uint64_t* value) {
  size_t at;
  if (!s.cursor.Take(size, &at)) return s.Short();
  auto b = s.cursor.bytes();
  switch (size) {
    case 1: *value = LoadU8(b, at); break;
    case 2: *value = LoadU16(b, at); break;
    case 4: *value = LoadU32(b, at); break;
    default: return s.Fail(StringPrintf("unsupported field size %zu", size));
  }
  return true;
}

// The fragment headers, up to and including the main data header.
// Returns false with s.error set.
bool DecodeFragmentHeaders(DecodeState& s) {
  const auto& a = kZenithPgAbi;
  const auto& w = a.wal_block;
  WalRecord& r = *s.record;
  while (s.cursor.remaining() > s.data_total) {
    size_t at;
    if (!s.cursor.Take(1, &at)) return s.Short();
    uint8_t id = LoadU8(s.cursor.bytes(), at);
    uint64_t v = 0;
    if (id == a.xlr_block_id_data_short || id == a.xlr_block_id_data_long) {
      size_t len_size = (id == a.xlr_block_id_data_short ? w.data_short_size : w.data_long_size) - 1;
      if (!TakeField(s, len_size, &v)) return false;
      r.main_data_length = static_cast<uint32_t>(v);
      s.data_total += v;
      break;  // by convention the main data header is last
    } else if (id == a.xlr_block_id_origin) {
      if (!TakeField(s, w.origin_size, &v)) return false;
      r.origin = static_cast<uint16_t>(v);
    } else if (id == a.xlr_block_id_toplevel_xid) {
      if (!TakeField(s, w.toplevel_xid_size, &v)) return false;
      r.toplevel_xid = static_cast<uint32_t>(v);
    } else if (id <= a.xlr_max_block_id) {
      if (!DecodeBlockHeader(s, at, id)) return false;
    } else {
      return s.Fail(StringPrintf("invalid block_id %u at %s", id, s.At().c_str()));
    }
  }
  return true;
}

// Block data follows all headers: per block its image, then its data; then
// the main data.
void AssignDataOffsets(WalRecord& r, size_t pos) {
  for (WalBlockRef& blk : r.blocks) {
    if (blk.has_image) {
      blk.image_offset = static_cast<uint32_t>(pos);
      pos += blk.image_length;
    }
    if (blk.has_data) {
      blk.data_offset = static_cast<uint32_t>(pos);
      pos += blk.data_length;
    }
  }
  r.main_data_offset = static_cast<uint32_t>(pos);
}

void DecodeFixedHeader(WalRecord& r) {
  const auto& h = kZenithPgAbi.record;
  std::span<const uint8_t> b(r.bytes);
  r.total_length = LoadU32(b, h.tot_len);
  r.xid = LoadU32(b, h.xid);
  r.prev = Lsn(LoadU64(b, h.prev));
  r.info = LoadU8(b, h.info);
  r.rmid = LoadU8(b, h.rmid);
  r.origin = 0;
  r.toplevel_xid = 0;
  r.main_data_offset = 0;
  r.main_data_length = 0;
  r.blocks.clear();
}

}  // namespace

bool WalBlockRef::image_has_hole() const { return (image_info & kZenithPgAbi.bkpimage_has_hole) != 0; }
bool WalBlockRef::image_compressed() const { return IsCompressed(image_info); }

uint8_t WalRecord::rmgr_info() const { return info & kZenithPgAbi.xlr_rmgr_info_mask; }

bool WalRecord::is_xlog_switch() const { return rmid == kZenithPgAbi.rm_xlog_id && rmgr_info() == kZenithPgAbi.xlog_switch; }

bool WalRecord::is_checkpoint() const {
  return rmid == kZenithPgAbi.rm_xlog_id &&
         (rmgr_info() == kZenithPgAbi.xlog_checkpoint_shutdown || rmgr_info() == kZenithPgAbi.xlog_checkpoint_online);
}

std::optional<Lsn> WalRecord::backup_end_of() const {
  if (rmid != kZenithPgAbi.rm_xlog_id || rmgr_info() != kZenithPgAbi.xlog_backup_end || main_data_length != sizeof(uint64_t)) {
    return std::nullopt;
  }
  uint64_t start = 0;
  std::memcpy(&start, bytes.data() + main_data_offset, sizeof start);
  return Lsn(start);
}

std::optional<int64_t> WalRecord::commit_time() const {
  if (rmid != kZenithPgAbi.rm_xact_id) return std::nullopt;
  const uint8_t op = rmgr_info() & kZenithPgAbi.xlog_xact_opmask;
  if (op != kZenithPgAbi.xlog_xact_commit && op != kZenithPgAbi.xlog_xact_commit_prepared) return std::nullopt;
  const auto data = main_data();
  if (data.size() < kZenithPgAbi.xact_commit_min_size) return std::nullopt;
  int64_t t = 0;
  std::memcpy(&t, data.data() + kZenithPgAbi.xact_commit_time, sizeof t);
  return t;
}

uint32_t WalRecord::image_bytes() const {
  uint32_t n = 0;
  for (const auto& blk : blocks) {
    if (blk.has_image) n += blk.image_length;
  }
  return n;
}

bool WalRmgrIdIsValid(uint8_t rmid) {
  const auto& a = kZenithPgAbi;
  return rmid < a.rmgr_count || (rmid >= a.rm_min_custom_id && rmid <= a.rm_max_custom_id);
}

std::string WalRmgrName(uint8_t rmid) {
  const auto& a = kZenithPgAbi;
  if (rmid < a.rmgr_count) return a.rmgr_names[rmid];
  // pg_waldump names custom rmgrs it does not know "custom%03d".
  if (WalRmgrIdIsValid(rmid)) return StringPrintf("custom%03u", rmid);
  return StringPrintf("invalid rmgr %u", rmid);
}

Status DecodeWalRecord(WalRecord* record) {
  const auto& a = kZenithPgAbi;
  if (record->bytes.size() < a.record.size) {
    return Internal("DecodeWalRecord: " + std::to_string(record->bytes.size()) + " bytes is not a record");
  }
  DecodeFixedHeader(*record);
  DecodeState s{record, HeaderCursor(record->bytes, a.record.size)};
  if (!DecodeFragmentHeaders(s)) return Corruption(s.error);
  if (s.cursor.remaining() != s.data_total) {
    s.Short();
    return Corruption(s.error);
  }
  AssignDataOffsets(*record, s.cursor.pos());
  return Status::Ok();
}

}  // namespace zenith
