// WaitUntil: how tests wait for something another thread or process does:
// they poll the observable state it changes (a file, a row, a counter, a
// pid), never sleep a fixed time and hope.
//
// Thread-safety: reentrant.
#pragma once

#include <algorithm>
#include <chrono>
#include <thread>

namespace zenith::testing {

// Polls `done` until it returns true or `timeout` passes; returns its last
// answer. Starts polling at once and backs off from 1 ms to 50 ms, so a
// quick event costs no latency and a slow one little CPU.
template <typename Predicate>
bool WaitUntil(Predicate done, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::chrono::milliseconds pause(1);
  for (;;) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return done();
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(50));
  }
}

}  // namespace zenith::testing
