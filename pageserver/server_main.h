// The zenith-pageserver program as a function: pageserver/main.cc runs it
// as shipped, and a test program (tests/programs/) with seams of its own.
//
// Thread-safety: call once per process, from main().
#pragma once

#include <chrono>

namespace zenith::pageserver {

// What a test program may change in the page server; the shipped program
// uses the defaults.
struct ServerSeams {
  // Sleep this long at each step of compaction and GC, so that a test can
  // kill the page server in the middle of one (HistoryOptions::test_pause).
  std::chrono::milliseconds history_pause{0};
};

// Parses the command line (see server_main.cc) and serves, creates or
// attaches a repository; the process's exit code.
int RunPageServer(int argc, char** argv, const ServerSeams& seams = {});

}  // namespace zenith::pageserver
