// How a Status travels over the PostgreSQL protocol: the page server sends
// its code as a SQLSTATE in the ErrorResponse, the client maps it back. One
// table, here, serves both directions, so they cannot drift apart.
//
// Thread-safety: pure functions.
#pragma once

#include <string_view>

#include "common/status.h"

namespace zenith::pageserver {

// The SQLSTATE the server sends for `code`: kSyntax is 42601 (syntax_error),
// kInvalidArgument 22023 (invalid_parameter_value).
std::string_view SqlStateForCode(StatusCode code);

// The code a client gives an error with `sqlstate` (nullptr or unknown:
// kInternal). 53300 (too_many_connections) reads as kUnavailable.
StatusCode CodeForSqlState(const char* sqlstate);

}  // namespace zenith::pageserver
