#include "common/pg_time.h"

#include <cctype>
#include <charconv>
#include <ctime>

#include "common/pg_abi.h"
#include "common/str_format.h"

namespace zenith {

namespace {

constexpr int64_t kUsecsPerSecond = 1'000'000;

// Reads exactly `digits` decimal digits at `*pos`.
std::optional<int> Digits(std::string_view s, size_t* pos, size_t digits) {
  if (*pos + digits > s.size()) return std::nullopt;
  int v = 0;
  for (size_t i = 0; i < digits; ++i) {
    const char c = s[*pos + i];
    if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
    v = v * 10 + (c - '0');
  }
  *pos += digits;
  return v;
}

bool Expect(std::string_view s, size_t* pos, char c) {
  if (*pos >= s.size() || s[*pos] != c) return false;
  ++*pos;
  return true;
}

// The zone suffix: seconds east of UTC.
std::optional<int> ZoneOffset(std::string_view s, size_t* pos) {
  if (*pos == s.size()) return 0;
  if (s[*pos] == 'Z' && *pos + 1 == s.size()) return 0;
  if (s[*pos] != '+' && s[*pos] != '-') return std::nullopt;
  const int sign = s[(*pos)++] == '-' ? -1 : 1;
  auto hours = Digits(s, pos, 2);
  if (!hours || *hours > 15) return std::nullopt;
  int minutes = 0;
  if (*pos < s.size()) {
    Expect(s, pos, ':');
    auto m = Digits(s, pos, 2);
    if (!m || *m > 59) return std::nullopt;
    minutes = *m;
  }
  if (*pos != s.size()) return std::nullopt;
  return sign * (*hours * 3600 + minutes * 60);
}

}  // namespace

std::optional<int64_t> ParsePgTimestamp(std::string_view s) {
  size_t pos = 0;
  auto year = Digits(s, &pos, 4);
  if (!year || !Expect(s, &pos, '-')) return std::nullopt;
  auto month = Digits(s, &pos, 2);
  if (!month || !Expect(s, &pos, '-')) return std::nullopt;
  auto day = Digits(s, &pos, 2);
  if (!day || (!Expect(s, &pos, ' ') && !Expect(s, &pos, 'T'))) return std::nullopt;
  auto hour = Digits(s, &pos, 2);
  if (!hour || !Expect(s, &pos, ':')) return std::nullopt;
  auto minute = Digits(s, &pos, 2);
  if (!minute || !Expect(s, &pos, ':')) return std::nullopt;
  auto second = Digits(s, &pos, 2);
  if (!second) return std::nullopt;
  int64_t fraction = 0;
  if (Expect(s, &pos, '.')) {
    int64_t scale = 100'000;
    size_t start = pos;
    while (pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos]))) {
      if (pos - start < 6) fraction += (s[pos] - '0') * scale, scale /= 10;
      ++pos;
    }
    if (pos == start) return std::nullopt;
  }
  auto zone = ZoneOffset(s, &pos);
  if (!zone || *month < 1 || *month > 12 || *day < 1 || *day > 31 || *hour > 23 || *minute > 59 || *second > 59) {
    return std::nullopt;
  }
  std::tm tm{};
  tm.tm_year = *year - 1900;
  tm.tm_mon = *month - 1;
  tm.tm_mday = *day;
  tm.tm_hour = *hour;
  tm.tm_min = *minute;
  tm.tm_sec = *second;
  const time_t unix_seconds = timegm(&tm);
  if (tm.tm_mday != *day) return std::nullopt;  // timegm normalised February 30th into March
  const int64_t unix_usecs = (static_cast<int64_t>(unix_seconds) - *zone) * kUsecsPerSecond + fraction;
  return unix_usecs - kZenithPgAbi.unix_epoch_in_pg_usecs;
}

std::string FormatPgTimestamp(int64_t pg_usecs) {
  const int64_t unix_usecs = pg_usecs + kZenithPgAbi.unix_epoch_in_pg_usecs;
  int64_t seconds = unix_usecs / kUsecsPerSecond;
  int64_t fraction = unix_usecs % kUsecsPerSecond;
  if (fraction < 0) fraction += kUsecsPerSecond, --seconds;
  const time_t t = static_cast<time_t>(seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  std::string out = buf;
  if (fraction != 0) out += StringPrintf(".%06lld", static_cast<long long>(fraction));
  return out + "+00";
}

}  // namespace zenith
