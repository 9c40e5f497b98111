// Receiving a snapshot layer from a mount (the put_snapshot stream of
// client/page_protocol.h) and committing it to a timeline.
//
// Bad input loses nothing: the stream is validated before the layer is
// made visible (record order and counts, every tar name, the pg_control it
// carries: same system, redo equal to the snapshot's, and the checkpoint
// record really in this timeline's WAL ending at the snapshot's checkpoint
// LSN), and a stream that breaks off leaves only a temp file, removed.
//
// Thread-safety: reentrant; commits to one timeline are serialised by it.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/status.h"
#include <chrono>

#include "pageserver/layers/layer_file.h"
#include "pageserver/repo/timeline.h"

namespace zenith::pageserver {

// The non-relation files of one snapshot (pg_xact, pg_multixact, configs:
// a tar) are held in memory until the upload is checked; a stream with more
// is refused (InvalidArgument), so one connection cannot take the server's
// memory. Relation pages go straight to the layer file.
inline constexpr size_t kMaxSnapshotFilesBytes = size_t{256} << 20;

// `next` returns the next CopyData message; nullopt at CopyDone.
using CopyReader = std::function<Result<std::optional<std::string>>()>;

// `wal_wait`: how long to wait for the timeline's WAL to reach the
// snapshot's valid (a remote compute's WAL arrives through the WAL receiver,
// possibly after its snapshot); Timeout then. Zero for a timeline whose WAL
// is written in place (a local mount): no waiting.
Result<std::shared_ptr<const LayerFile>> ReceiveSnapshot(Timeline& timeline, uint64_t system_id, const CopyReader& next,
                                                         std::chrono::milliseconds wal_wait = {});

}  // namespace zenith::pageserver
