#include "common/progress.h"

#include <unistd.h>

#include <algorithm>

#include "common/str_format.h"

namespace zenith {

ProgressLine::ProgressLine(std::string verb, uint64_t total, std::FILE* stream)
    : verb_(std::move(verb)), total_(total), stream_(stream), shown_(isatty(fileno(stream)) == 1) {}

void ProgressLine::Add(uint64_t bytes) {
  std::lock_guard lock(mu_);
  done_ += bytes;
  const auto now = Clock::now();
  if (!shown_ || now - last_ < std::chrono::milliseconds(250)) return;
  last_ = now;
  const double secs = std::chrono::duration<double>(now - start_).count();
  const double rate = secs > 0 ? static_cast<double>(done_) / secs : 0;
  const double left = rate > 0 ? static_cast<double>(total_ - std::min(done_, total_)) / rate : 0;
  std::fprintf(stream_, "\r%s %s of %s, %s/s, about %.0f s left   ", verb_.c_str(), FormatBytes(done_).c_str(),
               FormatBytes(total_).c_str(), FormatBytes(static_cast<uint64_t>(rate)).c_str(), left);
  std::fflush(stream_);
}

void ProgressLine::End() {
  if (!shown_) return;
  std::fprintf(stream_, "\r%70s\r", "");
  std::fflush(stream_);
}

std::string FormatBytes(uint64_t bytes) {
  static const char* kUnits[] = {"B", "kB", "MB", "GB", "TB"};
  double v = static_cast<double>(bytes);
  int unit = 0;
  while (v >= 1024 && unit < 4) {
    v /= 1024;
    ++unit;
  }
  return unit == 0 ? std::to_string(bytes) + " B" : StringPrintf(v < 10 ? "%.1f %s" : "%.0f %s", v, kUnits[unit]);
}

}  // namespace zenith
