// The log levels an operator may set (`"log_level"` in .zenith/config,
// zenith-fs --log-level): trace, debug, info (the default), warning (or
// warn), error, off.
//
// Thread-safety: stateless.
#pragma once

#include <spdlog/common.h>

#include <string_view>

#include "common/status.h"

namespace zenith {

// InvalidArgument naming the levels for anything else.
Result<spdlog::level::level_enum> ParseLogLevel(std::string_view name);

}  // namespace zenith
