// Durations as users write them: "7d", "12h", "30m", "45s", "1h30m", "2w",
// or a bare number of seconds ("0", "3600"). Used for the history window and
// the periods in the repository config, and by `zenith gc --window`.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace zenith {

// Seconds; nullopt for anything else (empty, unknown unit, overflow, sign).
std::optional<int64_t> ParseDuration(std::string_view text);
// A form ParseDuration reads back, in days at most: "7d", "1h30m", "0s".
std::string FormatDuration(int64_t seconds);

}  // namespace zenith
