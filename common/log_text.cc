#include "common/log_text.h"

namespace zenith {

std::string LogText(std::string_view text, size_t max_bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  const std::string_view kept = text.substr(0, max_bytes);
  out.reserve(kept.size());
  for (char ch : kept) {
    auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '\n': out += "\\n"; continue;
      case '\r': out += "\\r"; continue;
      case '\t': out += "\\t"; continue;
      case '\\': out += "\\\\"; continue;
      default: break;
    }
    if (c < 0x20 || c == 0x7f) {
      out += {'\\', 'x', digits[c >> 4], digits[c & 15]};
    } else {
      out += ch;
    }
  }
  if (kept.size() < text.size()) out += "...(" + std::to_string(text.size()) + " bytes)";
  return out;
}

}  // namespace zenith
