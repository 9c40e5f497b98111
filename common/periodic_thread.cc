#include "common/periodic_thread.h"

#include "common/catch_all.h"

namespace zenith {

void PeriodicThread::Start(std::chrono::milliseconds period, std::string what, std::function<void()> fn) {
  thread_ = std::thread([this, period, what = std::move(what), fn = std::move(fn)] { Loop(period, what, fn); });
}

void PeriodicThread::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void PeriodicThread::Loop(std::chrono::milliseconds period, const std::string& what, const std::function<void()>& fn) {
  for (;;) {
    {
      std::unique_lock lock(mu_);
      if (wake_.wait_for(lock, period, [this] { return stop_; })) return;
    }
    IgnoreError(CatchAll(what.c_str(), [&] { fn(); }));
  }
}

}  // namespace zenith
