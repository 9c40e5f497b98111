#include "fs/op_stats.h"

namespace zenith::fs {

namespace {

constexpr const char* kNames[] = {"lookup", "getattr", "setattr", "open", "read", "write",
                                  "create", "unlink", "readdir", "fsync", "other"};
static_assert(std::size(kNames) == static_cast<size_t>(FuseOp::kCount));

}  // namespace

std::string OpStats::Summary() const {
  std::string out;
  for (size_t i = 0; i < counters_.size(); ++i) {
    uint64_t n = counters_[i].count.load(std::memory_order_relaxed);
    if (n == 0) continue;
    uint64_t avg_us = counters_[i].nanos.load(std::memory_order_relaxed) / n / 1000;
    if (!out.empty()) out += ", ";
    out += std::string(kNames[i]) + " " + std::to_string(n) + " (avg " + std::to_string(avg_us) + " us)";
  }
  return out.empty() ? "none" : out;
}

}  // namespace zenith::fs
