// A progress line for long copies (import, export): "exported 1.2 GB of
// 3.4 GB, 120 MB/s, about 18 s left", rewritten in place on a terminal at
// most four times a second, and nothing at all when the stream is not a
// terminal (logs and pipes get no carriage returns).
//
// Thread-safety: Add() and End() may be called from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string>

namespace zenith {

class ProgressLine {
 public:
  // `verb` begins the line ("exported", "imported"); `total` is the bytes
  // expected. Shown on `stream` if it is a terminal.
  ProgressLine(std::string verb, uint64_t total, std::FILE* stream);
  void Add(uint64_t bytes);
  // Clears the line (call once, at the end).
  void End();

 private:
  using Clock = std::chrono::steady_clock;
  const std::string verb_;
  const uint64_t total_;
  std::FILE* const stream_;
  const bool shown_;
  const Clock::time_point start_ = Clock::now();
  std::mutex mu_;
  uint64_t done_ = 0;         // guarded by mu_
  Clock::time_point last_{};  // guarded by mu_
};

// "0 B", "812 kB", "1.5 MB", "23 GB": as du -h says it, in 1024s; one
// decimal below 10.
std::string FormatBytes(uint64_t bytes);

}  // namespace zenith
