#include "pageserver/api/mount_stats.h"

#include <charconv>
#include <set>
#include <string_view>

namespace zenith::pageserver {
namespace {

struct Field {
  const char* key;
  uint64_t MountStats::*value;
};

constexpr Field kFields[] = {
    {"pages_scratch", &MountStats::pages_scratch},
    {"pages_layers", &MountStats::pages_layers},
    {"pages_fetched", &MountStats::pages_fetched},
    {"snapshot_uploads", &MountStats::snapshot_uploads},
    {"snapshot_upload_failures", &MountStats::snapshot_upload_failures},
    {"snapshot_upload_micros", &MountStats::snapshot_upload_micros},
};

bool ValidKey(std::string_view key) {
  if (key.empty() || key.size() > 64) return false;
  for (char c : key) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

}  // namespace

std::vector<std::string> EncodeMountStats(const MountStats& stats) {
  std::vector<std::string> out;
  for (const Field& f : kFields) out.push_back(std::string(f.key) + "=" + std::to_string(stats.*f.value));
  return out;
}

Result<MountStats> DecodeMountStats(std::span<const std::string> args) {
  if (args.size() > kMaxMountStatsArgs) {
    return InvalidArgument("mount_stats: at most " + std::to_string(kMaxMountStatsArgs) + " figures");
  }
  MountStats stats;
  std::set<std::string_view> seen;
  for (const std::string& arg : args) {
    const size_t eq = arg.find('=');
    const std::string_view key = std::string_view(arg).substr(0, eq == std::string::npos ? arg.size() : eq);
    if (eq == std::string::npos || !ValidKey(key)) {
      return InvalidArgument("mount_stats: expected key=value with a lower-case key, not \"" + arg.substr(0, 80) + "\"");
    }
    const std::string_view text = std::string_view(arg).substr(eq + 1);
    uint64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
      return InvalidArgument("mount_stats: " + std::string(key) + " is not an unsigned decimal number");
    }
    if (!seen.insert(key).second) return InvalidArgument("mount_stats: " + std::string(key) + " given twice");
    for (const Field& f : kFields) {
      if (key == f.key) stats.*f.value = value;
    }
  }
  return stats;
}

}  // namespace zenith::pageserver
