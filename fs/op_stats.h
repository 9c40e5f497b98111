// OpStats: how many requests of each kind a mount served and how long they
// took, summed. zenith-fs logs the summary when it unmounts; it is what a
// profile of the FUSE path starts from (which requests, how many per
// transaction, which are slow).
//
// Thread-safety: Record() is lock-free and called from every worker thread;
// Summary() may run concurrently (it then sees a count and a total that
// are each current but not necessarily of the same instant).
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

namespace zenith::fs {

enum class FuseOp {
  kLookup, kGetAttr, kSetAttr, kOpen, kRead, kWrite, kCreate, kUnlink, kReadDir, kFsync, kOther,
  kCount  // not an operation: the number of them
};

class OpStats {
 public:
  void Record(FuseOp op, std::chrono::steady_clock::duration took) {
    Counter& c = counters_[static_cast<size_t>(op)];
    c.count.fetch_add(1, std::memory_order_relaxed);
    c.nanos.fetch_add(static_cast<uint64_t>(std::chrono::nanoseconds(took).count()), std::memory_order_relaxed);
  }
  // "read 1200 (avg 85 us), write 300 (avg 20 us), ..." for kinds seen.
  std::string Summary() const;

  // Records the time from construction to destruction.
  class Timer {
   public:
    Timer(OpStats& stats, FuseOp op) : stats_(stats), op_(op), start_(std::chrono::steady_clock::now()) {}
    ~Timer() { stats_.Record(op_, std::chrono::steady_clock::now() - start_); }
    Timer(const Timer&) = delete;
    Timer& operator=(const Timer&) = delete;

   private:
    OpStats& stats_;
    const FuseOp op_;
    const std::chrono::steady_clock::time_point start_;
  };

 private:
  struct Counter {
    std::atomic<uint64_t> count{0};
    std::atomic<uint64_t> nanos{0};
  };
  std::array<Counter, static_cast<size_t>(FuseOp::kCount)> counters_;
};

}  // namespace zenith::fs
