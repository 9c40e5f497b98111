// Points in time as PostgreSQL stores them (TimestampTz: microseconds since
// 2000-01-01 00:00:00 UTC, e.g. a commit record's xact_time) and as users
// write them.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace zenith {

// "YYYY-MM-DD HH:MM:SS[.ffffff][Z|+HH|+HH:MM|+HHMM|-...]" (a 'T' may stand
// for the space; no zone means UTC), as `date -Iseconds` and PostgreSQL's
// timestamptz output write it. nullopt for anything else, including
// out-of-range fields (month 13, second 61, ...).
std::optional<int64_t> ParsePgTimestamp(std::string_view text);

// "2026-11-29 10:00:00.123456+00" (fraction only when non-zero), in UTC.
std::string FormatPgTimestamp(int64_t pg_usecs);

}  // namespace zenith
