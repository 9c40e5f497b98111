// zenith-pageserver-slow-history: zenith-pageserver whose compaction and GC
// sleep 20 ms at each step, so that a test can kill it in the middle of one
// (tests/integration/history_test.cc); installed as zenith-pageserver in a
// test's own bin directory (tests/harness/test_env.h, BinDirWith).
#include "pageserver/server_main.h"

int main(int argc, char** argv) {
  return zenith::pageserver::RunPageServer(argc, argv, {.history_pause = std::chrono::milliseconds(20)});
}
