// A connection string with its password taken out. Users hand zenith a
// libpq connection string ("host=db1 password=...") or URI
// ("postgresql://zenith:...@host:6400"); a password in it must reach no
// other process's arguments (anyone on the machine reads
// /proc/PID/cmdline) and no message or log line. Callers put the password
// in the child's environment (PGPASSWORD, which libpq reads) and pass on,
// and show, only the rest.
//
// Thread-safety: pure functions.
#pragma once

#include <string>

#include "common/status.h"

namespace zenith::pageserver {

struct ConnInfoParts {
  // The connection string as given when it names no password; otherwise
  // the same options, password left out, in libpq's keyword=value form.
  std::string without_password;
  std::string password;  // "" when none was given
  bool has_password = false;
};

// Parses `conninfo` with libpq's own parser (PQconninfoParse).
// kInvalidArgument when libpq cannot parse it; the message quotes nothing
// of the string, which may hold a password.
Result<ConnInfoParts> SplitPassword(const std::string& conninfo);

}  // namespace zenith::pageserver
