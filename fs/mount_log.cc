#include "fs/mount_log.h"

#include <unistd.h>

#include <spdlog/spdlog.h>

#include "common/log_level.h"
#include "common/rotating_log.h"

namespace zenith::fs {

namespace {

std::string EscapePattern(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '%') out += '%';
    out += c;
  }
  return out;
}

}  // namespace

std::string MountLogPattern(const std::string& branch, const std::string& mountpoint) {
  return "%Y-%m-%d %H:%M:%S.%e [%P] %l: [" + EscapePattern(branch) + " " + EscapePattern(mountpoint) + "] %v";
}

Status ConfigureMountLog(const MountLogOptions& options, const std::string& branch, const std::string& mountpoint) {
  ZENITH_ASSIGN_OR_RETURN(spdlog::level::level_enum level, ParseLogLevel(options.level));
  const std::string pattern = MountLogPattern(branch, mountpoint);
  if (!options.file.empty()) {
    auto sink = RotatingLogSink::ForFds(options.file, {STDERR_FILENO, STDOUT_FILENO},
                                        {options.max_bytes, options.max_files});
    if (sink.ok()) {
      spdlog::set_default_logger(std::make_shared<spdlog::logger>("zenith-fs", *sink));
    } else if (sink.status().code() != StatusCode::kNotFound) {
      return sink.status();
    }
  }
  spdlog::set_pattern(pattern);
  spdlog::set_level(level);
  return Status::Ok();
}

}  // namespace zenith::fs
