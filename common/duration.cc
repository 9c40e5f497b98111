#include "common/duration.h"

#include <array>
#include <limits>

namespace zenith {

namespace {

struct Unit {
  char name;
  int64_t seconds;
};
constexpr std::array<Unit, 5> kUnits = {{{'w', 7 * 86400}, {'d', 86400}, {'h', 3600}, {'m', 60}, {'s', 1}}};

std::optional<int64_t> UnitSeconds(char c) {
  for (const Unit& u : kUnits) {
    if (u.name == c) return u.seconds;
  }
  return std::nullopt;
}

}  // namespace

std::optional<int64_t> ParseDuration(std::string_view text) {
  if (text.empty()) return std::nullopt;
  int64_t total = 0;
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] < '0' || text[i] > '9') return std::nullopt;
    int64_t n = 0;
    for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
      if (n > (std::numeric_limits<int64_t>::max() - 9) / 10) return std::nullopt;
      n = n * 10 + (text[i] - '0');
    }
    int64_t unit = 1;
    if (i < text.size()) {
      auto u = UnitSeconds(text[i++]);
      if (!u) return std::nullopt;
      unit = *u;
    } else if (total != 0) {
      return std::nullopt;  // "1h30" is ambiguous
    }
    if (n > (std::numeric_limits<int64_t>::max() - total) / unit) return std::nullopt;
    total += n * unit;
  }
  return total;
}

std::string FormatDuration(int64_t seconds) {
  if (seconds <= 0) return "0s";
  std::string out;
  for (const Unit& u : kUnits) {
    if (u.name == 'w') continue;  // "7d" and "14d" read better than weeks
    if (seconds >= u.seconds) {
      out += std::to_string(seconds / u.seconds) + u.name;
      seconds %= u.seconds;
    }
  }
  return out;
}

}  // namespace zenith
