// MountStats: what a mount tells the page server about itself with every
// keepalive (`mount_stats key=value ...`, once a second), so that the page
// server's metrics endpoint shows each mount's own figures beside its own
// (README, "Metrics"): pages read by where they came from, snapshot uploads
// and their time. Every value is a counter since the mount started.
//
// The wire form is one "key=decimal" argument per field. A decoder ignores
// keys it does not know (a newer mount may report more) and refuses a
// malformed argument, a repeated key, or more arguments than kMaxArgs.
//
// Thread-safety: plain value type; the functions are pure.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"

namespace zenith::pageserver {

struct MountStats {
  uint64_t pages_scratch = 0;  // relation pages read from the mount's scratch (written there)
  uint64_t pages_layers = 0;   // read from the snapshot's layer files on the page server's machine
  uint64_t pages_fetched = 0;  // fetched from the page server (GetPage@LSN)
  uint64_t snapshot_uploads = 0;          // snapshots stored (put_snapshot) after checkpoints
  uint64_t snapshot_upload_failures = 0;  // attempts that failed
  uint64_t snapshot_upload_micros = 0;    // time spent in every attempt, in microseconds

  bool operator==(const MountStats&) const = default;
};

inline constexpr size_t kMaxMountStatsArgs = 64;

std::vector<std::string> EncodeMountStats(const MountStats& stats);
Result<MountStats> DecodeMountStats(std::span<const std::string> args);

}  // namespace zenith::pageserver
