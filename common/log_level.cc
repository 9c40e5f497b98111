#include "common/log_level.h"

#include <string>

namespace zenith {

Result<spdlog::level::level_enum> ParseLogLevel(std::string_view name) {
  using spdlog::level::level_enum;
  if (name == "trace") return level_enum::trace;
  if (name == "debug") return level_enum::debug;
  if (name == "info") return level_enum::info;
  if (name == "warning" || name == "warn") return level_enum::warn;
  if (name == "error") return level_enum::err;
  if (name == "off") return level_enum::off;
  return InvalidArgument("'" + std::string(name) + "' is not a log level; use trace, debug, info, warning, error or off");
}

}  // namespace zenith
