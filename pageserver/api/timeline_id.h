// TimelineId: 16 random bytes naming a timeline, printed as 32 hex chars
// (the directory name under .zenith/timelines/).
//
// Thread-safety: plain value type.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace zenith::pageserver {

struct TimelineId {
  std::array<uint8_t, 16> bytes{};

  // A fresh random id (getrandom).
  static Result<TimelineId> Generate();
  // Exactly 32 lower- or upper-case hex digits; nullopt otherwise.
  static std::optional<TimelineId> Parse(std::string_view hex);
  std::string ToString() const;  // 32 lower-case hex digits

  auto operator<=>(const TimelineId&) const = default;
};

}  // namespace zenith::pageserver
