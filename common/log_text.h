// LogText: a string a client sent (a user name, a database name, an
// application_name, a command's text), made safe to put in one log line:
// control characters, backslashes and DEL escaped as \n, \t, \\, \xNN, so a
// client cannot forge a second line, and cut to a bounded length.
//
// Thread-safety: reentrant.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace zenith {

inline constexpr size_t kMaxLogTextBytes = 512;

// At most `max_bytes` of `text` (counted before escaping), escaped; a cut
// text ends with "...(N bytes)".
std::string LogText(std::string_view text, size_t max_bytes = kMaxLogTextBytes);

}  // namespace zenith
