#include "common/lsn.h"

#include <cinttypes>
#include <cstdio>

namespace zenith {

namespace {

std::optional<uint32_t> ParseHex32(std::string_view s) {
  if (s.empty() || s.size() > 8) return std::nullopt;
  uint32_t v = 0;
  for (char c : s) {
    uint32_t d;
    if (c >= '0' && c <= '9') d = static_cast<uint32_t>(c - '0');
    else if (c >= 'a' && c <= 'f') d = static_cast<uint32_t>(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F') d = static_cast<uint32_t>(c - 'A' + 10);
    else return std::nullopt;
    v = v * 16 + d;
  }
  return v;
}

constexpr uint64_t kSegmentsPerXLogId = 0x100000000ULL / kWalSegmentSize;

}  // namespace

std::optional<Lsn> Lsn::Parse(std::string_view text) {
  size_t slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto hi = ParseHex32(text.substr(0, slash));
  auto lo = ParseHex32(text.substr(slash + 1));
  if (!hi || !lo) return std::nullopt;
  return Lsn((static_cast<uint64_t>(*hi) << 32) | *lo);
}

std::string Lsn::ToString() const {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%" PRIX32 "/%" PRIX32, static_cast<uint32_t>(value >> 32),
                static_cast<uint32_t>(value));
  return buf;
}

std::string WalSegmentFileName(TimeLineId tli, uint64_t segno) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%08" PRIX32 "%08" PRIX32 "%08" PRIX32, tli,
                static_cast<uint32_t>(segno / kSegmentsPerXLogId), static_cast<uint32_t>(segno % kSegmentsPerXLogId));
  return buf;
}

std::optional<WalSegmentName> ParseWalSegmentFileName(std::string_view name) {
  if (name.size() != 24) return std::nullopt;
  for (char c : name) {
    if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'))) return std::nullopt;
  }
  auto tli = ParseHex32(name.substr(0, 8));
  auto log = ParseHex32(name.substr(8, 8));
  auto seg = ParseHex32(name.substr(16, 8));
  if (!tli || !log || !seg || *seg >= kSegmentsPerXLogId) return std::nullopt;
  return WalSegmentName{*tli, static_cast<uint64_t>(*log) * kSegmentsPerXLogId + *seg};
}

}  // namespace zenith
