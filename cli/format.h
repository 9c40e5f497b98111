// How `zenith` shows numbers and tables to the user.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/progress.h"
#include "pageserver/client/repo_client.h"

namespace zenith::cli {

using zenith::FormatBytes;  // common/progress.h

// "1 layer", "3 layers".
std::string Plural(uint64_t n, const char* one, const char* many);

// "2026-11-30 06:40:12 UTC".
std::string FormatUnixTime(int64_t seconds);

// How background compaction or GC fares, for `zenith pageserver status`:
// "ok, last run ...", "not run yet", or "FAILING: N runs in a row since
// ...: <problem>".
std::string DescribeBackgroundRun(const pageserver::BackgroundRun& run);

// Rows as left-aligned columns two spaces apart, one line each ("\n"
// terminated); the last column is not padded.
std::string RenderTable(const std::vector<std::vector<std::string>>& rows);

}  // namespace zenith::cli
