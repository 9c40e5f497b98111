// How `zenith` shows numbers and tables to the user.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/progress.h"

namespace zenith::cli {

using zenith::FormatBytes;  // common/progress.h

// "1 layer", "3 layers".
std::string Plural(uint64_t n, const char* one, const char* many);

// Rows as left-aligned columns two spaces apart, one line each ("\n"
// terminated); the last column is not padded.
std::string RenderTable(const std::vector<std::vector<std::string>>& rows);

}  // namespace zenith::cli
