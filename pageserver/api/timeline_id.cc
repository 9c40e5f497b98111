#include "pageserver/api/timeline_id.h"

#include <sys/random.h>

#include <cerrno>

namespace zenith::pageserver {

Result<TimelineId> TimelineId::Generate() {
  TimelineId id;
  size_t got = 0;
  while (got < id.bytes.size()) {
    ssize_t n = getrandom(id.bytes.data() + got, id.bytes.size() - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("get random bytes for a timeline id", errno);
    }
    got += static_cast<size_t>(n);
  }
  return id;
}

std::optional<TimelineId> TimelineId::Parse(std::string_view hex) {
  if (hex.size() != 32) return std::nullopt;
  TimelineId id;
  for (size_t i = 0; i < 32; ++i) {
    char c = hex[i];
    int v;
    if (c >= '0' && c <= '9') v = c - '0';
    else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
    else return std::nullopt;
    id.bytes[i / 2] = static_cast<uint8_t>(i % 2 == 0 ? v << 4 : id.bytes[i / 2] | v);
  }
  return id;
}

std::string TimelineId::ToString() const {
  static const char* kDigits = "0123456789abcdef";
  std::string s;
  s.reserve(32);
  for (uint8_t b : bytes) {
    s.push_back(kDigits[b >> 4]);
    s.push_back(kDigits[b & 15]);
  }
  return s;
}

}  // namespace zenith::pageserver
