// What `zenith gc` prints for each timeline: the page server's gc report
// (RepoClient::CollectGarbage) in a sentence.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>

#include "pageserver/client/repo_client.h"

namespace zenith::cli {

// Bytes the collection gave back on this timeline.
uint64_t FreedBytes(const pageserver::TimelineGc& gc);

// "main: history from 0/16B3A28; merged 12 layers into 2; removed 3 layers
// (1.5 MB) and 2 WAL segments (32 MB); keeps 4 layers (20 MB) and 3 WAL
// segments (48 MB)", or "... (deleted): removed its layers and WAL, 80 MB".
std::string DescribeGc(const pageserver::TimelineGc& gc);

}  // namespace zenith::cli
