// zenith-fs-plain-tcp: zenith-fs that lets a page server connection string
// ask for sslmode=disable (pageserver/client/tls_conninfo.h), for
// tests/bench/remote_bench.cc alone (see plain_tcp_zenith.cc).
#include "fs/mount_run.h"
#include "pageserver/client/tls_conninfo.h"

int main(int argc, char** argv) {
  zenith::pageserver::AllowPlainTcpForBenchmarks();
  return zenith::fs::ZenithFsMain(argc, argv);
}
