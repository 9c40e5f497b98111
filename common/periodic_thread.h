// PeriodicThread: calls a function every period on a thread of its own
// until stopped (or destroyed): the keepalive loops of mounts. Each call is
// guarded by CatchAll, so an exception is logged and the next call comes.
//
// Thread-safety: Start and Stop from the owner's thread; the function runs
// on the thread alone.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace zenith {

class PeriodicThread {
 public:
  PeriodicThread() = default;
  ~PeriodicThread() { Stop(); }
  PeriodicThread(const PeriodicThread&) = delete;
  PeriodicThread& operator=(const PeriodicThread&) = delete;

  // The first call comes one period after Start. `what` names it in logs.
  // REQUIRES: not started yet.
  void Start(std::chrono::milliseconds period, std::string what, std::function<void()> fn);
  // Waits for a call in progress to end; none comes after. Idempotent.
  void Stop();

 private:
  void Loop(std::chrono::milliseconds period, const std::string& what, const std::function<void()>& fn);

  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace zenith
