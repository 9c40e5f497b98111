// zenith-fs's log. Every line names the mount's branch and directory (an
// operator reading several mounts' logs, or one log collector, tells them
// apart); the level is an option; and when the daemon's stderr goes to a
// log file (`zenith mount` names it with --log-file), that file is rotated
// by size (common/rotating_log.h) so a long-lived mount never fills the disk.
//
// Thread-safety: ConfigureMountLog runs once, before the daemon's threads.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"

namespace zenith::fs {

struct MountLogOptions {
  std::string file;          // the file stderr was pointed at; "" = stderr as it is (no rotation)
  std::string level = "info";
  uint64_t max_bytes = 10u << 20;
  int max_files = 5;
};

// "%Y-... [%P] %l: [BRANCH DIR] %v", '%' in the names escaped.
std::string MountLogPattern(const std::string& branch, const std::string& mountpoint);

// Sets spdlog's default logger for this daemon; InvalidArgument for a bad
// level. A log file that is not stderr's leaves stderr unrotated.
Status ConfigureMountLog(const MountLogOptions& options, const std::string& branch, const std::string& mountpoint);

}  // namespace zenith::fs
