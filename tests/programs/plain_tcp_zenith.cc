// zenith-plain-tcp: `zenith` that lets a page server connection string ask
// for sslmode=disable (pageserver/client/tls_conninfo.h), for
// tests/bench/remote_bench.cc alone: it measures remote TPC-B over TLS
// against the same over plain TCP. Installed as `zenith` beside
// zenith-fs-plain-tcp (as `zenith-fs`) in a directory of its own.
#include "cli/command_line.h"
#include "pageserver/client/tls_conninfo.h"

int main(int argc, char** argv) {
  zenith::pageserver::AllowPlainTcpForBenchmarks();
  return zenith::cli::Main(argc, argv);
}
