// Lsn: a position in the write-ahead log, printed "X/Y" like PostgreSQL.
//
// Throughout zenith a WAL record's LSN is its *end* (PostgreSQL's EndRecPtr,
// MAXALIGNed), and the end of WAL is the end of the last complete record.
// WAL is cut into 16 MB segments named by timeline and segment number.
//
// Thread-safety: plain value type.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace zenith {

using TimeLineId = uint32_t;  // PostgreSQL's TimeLineID (always 1 in zenith)
// PostgreSQL's timeline id inside the WAL: zenith never switches timelines
// in PostgreSQL (branches are zenith timelines, each with its own wal/).
inline constexpr TimeLineId kPgTimeLineId = 1;

inline constexpr uint32_t kWalSegmentSize = 16 * 1024 * 1024;
inline constexpr uint32_t kWalPageSize = 8192;  // XLOG_BLCKSZ

struct Lsn {
  uint64_t value = 0;

  constexpr Lsn() = default;
  constexpr explicit Lsn(uint64_t v) : value(v) {}

  static constexpr Lsn Invalid() { return Lsn(0); }
  constexpr bool valid() const { return value != 0; }

  // Parses "X/Y" (hex halves, as PostgreSQL prints them). nullopt on anything
  // else, including empty halves, non-hex digits and halves over 32 bits.
  static std::optional<Lsn> Parse(std::string_view text);
  std::string ToString() const;

  uint64_t segment_number() const { return value / kWalSegmentSize; }
  uint32_t segment_offset() const { return static_cast<uint32_t>(value % kWalSegmentSize); }
  uint32_t page_offset() const { return static_cast<uint32_t>(value % kWalPageSize); }
  Lsn segment_start() const { return Lsn(value - segment_offset()); }
  Lsn page_start() const { return Lsn(value - page_offset()); }

  constexpr Lsn operator+(uint64_t bytes) const { return Lsn(value + bytes); }
  constexpr Lsn operator-(uint64_t bytes) const { return Lsn(value - bytes); }
  constexpr uint64_t operator-(Lsn other) const { return value - other.value; }
  constexpr auto operator<=>(const Lsn&) const = default;
};

// "000000010000000000000001": the file name of segment `segno` on `tli`.
std::string WalSegmentFileName(TimeLineId tli, uint64_t segno);

// Inverse of WalSegmentFileName; nullopt for names that are not segments
// (".partial", "archive_status", temp files...).
struct WalSegmentName {
  TimeLineId tli;
  uint64_t segno;
};
std::optional<WalSegmentName> ParseWalSegmentFileName(std::string_view name);

}  // namespace zenith
