// common/periodic_thread.h: the function is called every period on its own
// thread, not before the first period; a call that throws is logged and the
// calls go on; Stop waits for the call in progress and no call comes after.
#include "common/periodic_thread.h"

#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>

namespace zenith {
namespace {

using std::chrono::milliseconds;

TEST(PeriodicThread, CallsEveryPeriodUntilStoppedAndNoneAfter) {
  std::atomic<int> calls{0};
  PeriodicThread t;
  t.Start(milliseconds(10), "test", [&] { ++calls; });
  std::this_thread::sleep_for(milliseconds(300));
  t.Stop();
  const int at_stop = calls.load();
  EXPECT_GE(at_stop, 5);
  EXPECT_LE(at_stop, 31);
  std::this_thread::sleep_for(milliseconds(50));
  EXPECT_EQ(calls.load(), at_stop) << "a call came after Stop";
  t.Stop();  // idempotent
}

TEST(PeriodicThread, TheFirstCallComesAfterOnePeriodAndStopEndsTheWait) {
  std::atomic<int> calls{0};
  PeriodicThread t;
  const auto started = std::chrono::steady_clock::now();
  t.Start(milliseconds(60000), "test", [&] { ++calls; });
  std::this_thread::sleep_for(milliseconds(50));
  t.Stop();
  EXPECT_EQ(calls.load(), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - started, milliseconds(5000)) << "Stop waited out the period";
}

TEST(PeriodicThread, ACallThatThrowsDoesNotEndTheCalls) {
  std::atomic<int> calls{0};
  {
    PeriodicThread t;  // the destructor stops it
    t.Start(milliseconds(5), "test", [&] {
      if (++calls == 1) throw std::runtime_error("first call fails");
    });
    std::this_thread::sleep_for(milliseconds(200));
  }
  EXPECT_GE(calls.load(), 3);
}

TEST(PeriodicThread, StopWaitsForTheCallInProgress) {
  std::atomic<bool> in_call{false}, finished{false};
  PeriodicThread t;
  t.Start(milliseconds(1), "test", [&] {
    if (finished) return;
    in_call = true;
    std::this_thread::sleep_for(milliseconds(100));
    finished = true;
  });
  while (!in_call) std::this_thread::sleep_for(milliseconds(1));
  t.Stop();
  EXPECT_TRUE(finished.load());
}

}  // namespace
}  // namespace zenith
