// What zenith's own clients require of a connection to a page server over
// TCP (docs/design.md §2): TLS with a verified certificate and SCRAM with
// channel binding, so pages, WAL and the password never cross the network in
// clear, and no password goes out in clear or as MD5. A Unix-socket
// connection string is left as it is.
//
// Thread-safety: reentrant; AllowPlainTcpForBenchmarks before any thread
// connects.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace zenith::pageserver {

// `conninfo` (key=value or a postgresql:// URI) as a key=value string that
// libpq connects with safely over TCP:
//   sslmode          verify-full, or verify-ca when the host is an IP
//                    address; a user's verify-ca or verify-full is kept
//   channel_binding  require
//   sslrootcert      `ca_file` when given and the string names none (else
//                    libpq's PGSSLROOTCERT or ~/.postgresql/root.crt)
// Both are written out, so PGSSLMODE and PGCHANNELBINDING cannot weaken
// them. InvalidArgument for a string libpq cannot parse, or one that asks for
// less: sslmode disable, allow, prefer or require, channel_binding disable or
// prefer. A connection string for a Unix socket comes back unchanged.
Result<std::string> SecurePageServerConnInfo(std::string_view conninfo, const std::string& ca_file = "");

// For the TLS benchmark alone (tests/programs/plain_tcp_*.cc, run by
// tests/bench/remote_bench.cc): from this call on, this process's
// SecurePageServerConnInfo passes a string with sslmode=disable through
// unchanged, so the benchmark can measure what TLS costs against a page
// server with "allow_plain_tcp". No zenith program calls it.
void AllowPlainTcpForBenchmarks();

}  // namespace zenith::pageserver
