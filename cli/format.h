// How `zenith` shows numbers and tables to the user.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace zenith::cli {

// "0 B", "812 kB", "1.5 MB", "23 GB": as du -h says it, in 1024s; one
// decimal below 10.
std::string FormatBytes(uint64_t bytes);

// "1 layer", "3 layers".
std::string Plural(uint64_t n, const char* one, const char* many);

// Rows as left-aligned columns two spaces apart, one line each ("\n"
// terminated); the last column is not padded.
std::string RenderTable(const std::vector<std::vector<std::string>>& rows);

}  // namespace zenith::cli
