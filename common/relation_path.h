// Relation files: how PostgreSQL 15 names the files of a relation fork
// inside a data directory, and which block lives where.
//
// A relation fork (tablespace, database, relfilenode, fork) is stored as
// segment files of RELSEG_SIZE blocks of BLCKSZ bytes each (1 GB by default):
//   base/<db>/<rel>[_fsm|_vm|_init][.<segno>]          default tablespace
//   global/<rel>[...]                                   shared catalogs (db 0)
//   pg_tblspc/<spc>/PG_15_<catversion>/<db>/<rel>[...]  other tablespaces
// Segment 0 has no suffix; PostgreSQL never writes ".0" (md.c). Numbers are
// printed with %u: decimal, no leading zeros, never 0 for a valid oid.
// Everything else in those directories (temp relations t<backend>_<rel>,
// pg_filenode.map, pg_internal.init, PG_VERSION, ...) is not a relation file.
//
// Thread-safety: pure functions and value types.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

#include "common/byte_io.h"

namespace zenith {

using Oid = uint32_t;
using BlockNumber = uint32_t;  // PostgreSQL's BlockNumber
inline constexpr BlockNumber kInvalidBlockNumber = 0xFFFFFFFF;
inline constexpr BlockNumber kMaxBlockNumber = 0xFFFFFFFE;

enum class ForkNumber : uint8_t { kMain = 0, kFsm = 1, kVisibilityMap = 2, kInit = 3 };

// PostgreSQL's fork names: "main", "fsm", "vm", "init".
std::string_view ForkName(ForkNumber fork);

// One relation fork, addressed like PostgreSQL's RelFileNode + fork number.
struct RelTag {
  Oid spc = 0;  // tablespace oid
  Oid db = 0;   // database oid; 0 for the global tablespace
  Oid rel = 0;  // relfilenode
  ForkNumber fork = ForkNumber::kMain;

  auto operator<=>(const RelTag&) const = default;
  // "1663/5/16384" for the main fork, "1663/5/16384 fork fsm" for others:
  // the way pg_waldump prints a block reference.
  std::string ToString() const;
};
std::ostream& operator<<(std::ostream& os, const RelTag& tag);

// zenith's own encoding of a RelTag, in layers and page requests: spc, db
// and rel as u32, then the fork as u8 (13 bytes, little-endian).
inline constexpr size_t kRelTagSize = 13;
void AppendRelTag(ByteWriter& w, const RelTag& tag);
// nullopt when fewer bytes remain or the fork is not one PostgreSQL has.
std::optional<RelTag> ReadRelTag(ByteReader& r);

// One segment file of a relation fork.
struct RelSegment {
  RelTag tag;
  uint32_t segno = 0;
  auto operator<=>(const RelSegment&) const = default;
};

// The relation segment that `path_in_datadir` names ("base/5/16384_fsm.2"),
// or nullopt when it is not a relation file of this PostgreSQL version (see
// the file comment). The path is relative to the data directory, '/'-
// separated, without "./" or trailing '/'. Segments whose first block would
// be past kMaxBlockNumber are not relation files either.
std::optional<RelSegment> ParseRelationPath(std::string_view path_in_datadir);

// The inverse: "base/5/16384_fsm.2". REQUIRES: tag.db == 0 when tag.spc is
// the global tablespace, tag.db != 0 otherwise.
std::string RelationSegmentPath(const RelTag& tag, uint32_t segno);

// Blocks per segment file (RELSEG_SIZE) and bytes per segment file.
uint32_t BlocksPerSegment();
uint64_t SegmentBytes();

// Where block `block` of a fork is stored: its segment and the byte offset
// in that segment file.
struct BlockLocation {
  uint32_t segno;
  uint64_t offset;
  auto operator<=>(const BlockLocation&) const = default;
};
BlockLocation LocateBlock(BlockNumber block);

// The block that starts at or contains byte `offset` of segment `segno`;
// nullopt when offset is beyond the segment or the block beyond
// kMaxBlockNumber.
std::optional<BlockNumber> BlockAt(uint32_t segno, uint64_t offset);

}  // namespace zenith

template <>
struct std::hash<zenith::RelTag> {
  size_t operator()(const zenith::RelTag& t) const noexcept {
    uint64_t a = (uint64_t{t.spc} << 32) | t.db;
    uint64_t b = (uint64_t{t.rel} << 8) | static_cast<uint8_t>(t.fork);
    return std::hash<uint64_t>{}(a * 0x9E3779B97F4A7C15ull ^ b);
  }
};
