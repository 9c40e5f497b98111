#include "common/relation_path.h"

#include <array>
#include <vector>

#include "common/pg_abi.h"

namespace zenith {
namespace {

constexpr std::array<std::string_view, 4> kForkNames = {"main", "fsm", "vm", "init"};  // common/relpath.c

// A number as PostgreSQL prints it with %u: digits only, no leading zero,
// not zero, within 32 bits.
std::optional<uint32_t> ParseOid(std::string_view s) {
  if (s.empty() || s.size() > 10 || s[0] == '0') return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v > UINT32_MAX) return std::nullopt;
  return static_cast<uint32_t>(v);
}

std::vector<std::string_view> SplitPath(std::string_view path) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    size_t end = path.find('/', start);
    parts.push_back(path.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) return parts;
    start = end + 1;
  }
}

// "<rel>[_<fork>][.<segno>]", the last component of a relation file's path.
std::optional<RelSegment> ParseFileName(std::string_view name) {
  size_t rel_end = name.find_first_of("_.");
  std::optional<Oid> rel = ParseOid(name.substr(0, rel_end));
  if (!rel) return std::nullopt;
  RelSegment seg;
  seg.tag.rel = *rel;
  std::string_view rest = rel_end == std::string_view::npos ? std::string_view{} : name.substr(rel_end);
  if (!rest.empty() && rest[0] == '_') {
    size_t fork_end = rest.find('.');
    std::string_view fork = rest.substr(1, fork_end == std::string_view::npos ? fork_end : fork_end - 1);
    size_t i = 1;  // the main fork has no suffix
    while (i < kForkNames.size() && kForkNames[i] != fork) ++i;
    if (i == kForkNames.size()) return std::nullopt;
    seg.tag.fork = static_cast<ForkNumber>(i);
    rest = fork_end == std::string_view::npos ? std::string_view{} : rest.substr(fork_end);
  }
  if (!rest.empty()) {
    std::optional<uint32_t> segno = ParseOid(rest.substr(1));  // also rejects ".0" and ".007"
    if (!segno || uint64_t{*segno} * BlocksPerSegment() > kMaxBlockNumber) return std::nullopt;
    seg.segno = *segno;
  }
  return seg;
}

}  // namespace

std::string_view ForkName(ForkNumber fork) { return kForkNames[static_cast<size_t>(fork) & 3]; }

std::string RelTag::ToString() const {
  std::string s = std::to_string(spc) + "/" + std::to_string(db) + "/" + std::to_string(rel);
  if (fork != ForkNumber::kMain) s += " fork " + std::string(ForkName(fork));
  return s;
}

void AppendRelTag(ByteWriter& w, const RelTag& tag) {
  w.U32(tag.spc);
  w.U32(tag.db);
  w.U32(tag.rel);
  w.U8(static_cast<uint8_t>(tag.fork));
}

std::optional<RelTag> ReadRelTag(ByteReader& r) {
  RelTag tag;
  tag.spc = r.U32();
  tag.db = r.U32();
  tag.rel = r.U32();
  const uint8_t fork = r.U8();
  if (!r.ok() || fork > static_cast<uint8_t>(ForkNumber::kInit)) return std::nullopt;
  tag.fork = static_cast<ForkNumber>(fork);
  return tag;
}

std::ostream& operator<<(std::ostream& os, const RelTag& tag) { return os << tag.ToString(); }

std::optional<RelSegment> ParseRelationPath(std::string_view path) {
  std::vector<std::string_view> parts = SplitPath(path);
  std::optional<Oid> spc, db;
  if (parts.size() == 2 && parts[0] == "global") {
    spc = kZenithPgAbi.global_tablespace_oid;
    db = 0;
  } else if (parts.size() == 3 && parts[0] == "base") {
    spc = kZenithPgAbi.default_tablespace_oid;
    db = ParseOid(parts[1]);
  } else if (parts.size() == 5 && parts[0] == "pg_tblspc" && parts[2] == kZenithPgAbi.tablespace_version_directory) {
    spc = ParseOid(parts[1]);
    db = ParseOid(parts[3]);
    // The built-in tablespaces never live under pg_tblspc.
    if (spc == kZenithPgAbi.default_tablespace_oid || spc == kZenithPgAbi.global_tablespace_oid) return std::nullopt;
  } else {
    return std::nullopt;
  }
  if (!spc || !db) return std::nullopt;
  std::optional<RelSegment> seg = ParseFileName(parts.back());
  if (!seg) return std::nullopt;
  seg->tag.spc = *spc;
  seg->tag.db = *db;
  return seg;
}

std::string RelationSegmentPath(const RelTag& tag, uint32_t segno) {
  std::string file = std::to_string(tag.rel);
  if (tag.fork != ForkNumber::kMain) file += "_" + std::string(ForkName(tag.fork));
  if (segno != 0) file += "." + std::to_string(segno);
  if (tag.spc == kZenithPgAbi.global_tablespace_oid) return "global/" + file;
  if (tag.spc == kZenithPgAbi.default_tablespace_oid) return "base/" + std::to_string(tag.db) + "/" + file;
  return "pg_tblspc/" + std::to_string(tag.spc) + "/" + kZenithPgAbi.tablespace_version_directory + "/" +
         std::to_string(tag.db) + "/" + file;
}

uint32_t BlocksPerSegment() { return kZenithPgAbi.relseg_size; }

uint64_t SegmentBytes() { return uint64_t{kZenithPgAbi.relseg_size} * kZenithPgAbi.blcksz; }

BlockLocation LocateBlock(BlockNumber block) {
  return {block / BlocksPerSegment(), uint64_t{block % BlocksPerSegment()} * kZenithPgAbi.blcksz};
}

std::optional<BlockNumber> BlockAt(uint32_t segno, uint64_t offset) {
  if (offset >= SegmentBytes()) return std::nullopt;
  uint64_t block = uint64_t{segno} * BlocksPerSegment() + offset / kZenithPgAbi.blcksz;
  if (block > kMaxBlockNumber) return std::nullopt;
  return static_cast<BlockNumber>(block);
}

}  // namespace zenith
