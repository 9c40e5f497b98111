// RotatingLogSink: an spdlog sink that writes to a file descriptor already
// open on a log file (a daemon's stderr, redirected there by whoever
// started it) and keeps the file bounded: when it passes max_bytes it is
// renamed to <path>.1 (the older ones shifting to .2 ... .<max_files>, the
// oldest dropped), a new <path> is made, and it replaces the descriptor
// (dup2), so whatever else writes to that descriptor (a crash message)
// follows into the new file too.
//
// Thread-safety: spdlog's mutex sink: log from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <spdlog/sinks/base_sink.h>

#include "common/status.h"

namespace zenith {

struct RotatingLogOptions {
  uint64_t max_bytes = 10u << 20;  // a file is rotated once it passes this
  int max_files = 5;               // rotated files kept besides the current one
};

class RotatingLogSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  // A sink writing to those of `fds` open on `path` (same file; stderr
  // and stdout, say), each replaced at a rotation; NotFound when none is
  // (the caller then leaves its logging as it is). InvalidArgument for
  // max_bytes 0 or max_files < 1. The fds stay owned by the caller and must
  // stay open as long as the sink lives.
  static Result<std::shared_ptr<RotatingLogSink>> ForFds(std::string path, std::vector<int> fds,
                                                         RotatingLogOptions options);

  RotatingLogSink(std::string path, std::vector<int> fds, RotatingLogOptions options, uint64_t size)
      : path_(std::move(path)), fds_(std::move(fds)), options_(options), size_(size) {}  // use ForFds

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override;
  void flush_() override {}  // every line is written through at once

 private:
  void Rotate();

  const std::string path_;
  const std::vector<int> fds_;  // lines go to the first
  const RotatingLogOptions options_;
  uint64_t size_;  // guarded by the base sink's mutex
};

}  // namespace zenith
