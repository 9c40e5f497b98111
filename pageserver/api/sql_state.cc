#include "pageserver/api/sql_state.h"

#include <array>
#include <utility>

namespace zenith::pageserver {

namespace {

struct Mapping {
  StatusCode code;
  std::string_view sqlstate;
};

// First match wins in each direction: the server sends the first SQLSTATE
// of a code; a client maps every SQLSTATE listed.
constexpr std::array kMappings{
    Mapping{StatusCode::kOk, "00000"},
    Mapping{StatusCode::kInvalidArgument, "22023"},
    Mapping{StatusCode::kSyntax, "42601"},
    Mapping{StatusCode::kNotFound, "42704"},
    Mapping{StatusCode::kAlreadyExists, "42710"},
    Mapping{StatusCode::kCorruption, "XX001"},
    Mapping{StatusCode::kIoError, "58030"},
    Mapping{StatusCode::kTimeout, "57014"},
    Mapping{StatusCode::kBusy, "55006"},
    Mapping{StatusCode::kProtocol, "08P01"},
    Mapping{StatusCode::kUnavailable, "08006"},
    Mapping{StatusCode::kUnavailable, "53300"},
    Mapping{StatusCode::kPermissionDenied, "42501"},  // insufficient_privilege: a command the role may not run
    Mapping{StatusCode::kPermissionDenied, "28P01"},
    Mapping{StatusCode::kPermissionDenied, "28000"},
    Mapping{StatusCode::kInternal, "XX000"},
};

}  // namespace

std::string_view SqlStateForCode(StatusCode code) {
  for (const Mapping& m : kMappings) {
    if (m.code == code) return m.sqlstate;
  }
  return "XX000";
}

StatusCode CodeForSqlState(const char* sqlstate) {
  const std::string_view s = sqlstate ? sqlstate : "";
  for (const Mapping& m : kMappings) {
    if (m.sqlstate == s) return m.code;
  }
  return StatusCode::kInternal;
}

}  // namespace zenith::pageserver
