// The basebackup of a timeline at an LSN: the tar a mount builds its data
// directory from (docs/design.md §6, §8).
//
// Layout: the member "zenith.manifest" (BasebackupManifest as JSON), then
// the snapshot's non-relation files, then the end-of-archive marker.
//
// The basebackup is a starting point for PostgreSQL's own crash recovery to
// reach `lsn`. A snapshot taken at a clean shutdown has a pg_control that
// says "shut down", and PostgreSQL trusts that: it would skip recovery,
// ignore the WAL after the shutdown checkpoint and write over it. So when
// WAL follows the snapshot's checkpoint (lsn is past its end), the
// pg_control sent says the cluster was interrupted while in production, and
// PostgreSQL replays from the checkpoint's redo point as after a crash.
// When nothing follows, the clean shutdown stands and nothing is replayed.
//
// Thread-safety: reentrant; the layer is immutable.
#pragma once

#include <functional>
#include <span>

#include "common/lsn.h"
#include "common/status.h"
#include "pageserver/api/page_protocol.h"
#include "pageserver/layers/layer_file.h"

namespace zenith::pageserver {

// The manifest of a basebackup of `timeline` from `layer`.
BasebackupManifest MakeManifest(const TimelineId& timeline, const LayerFile& layer, uint64_t system_id);

// The pg_control a compute recovering from a snapshot whose checkpoint ends
// at `checkpoint_end` to `lsn` must start with (see the file comment).
// Corruption if `pg_control` does not decode.
Result<std::string> PgControlForRecovery(std::string_view pg_control, Lsn checkpoint_end, Lsn lsn);

// Writes the whole archive to `sink`.
Status WriteBasebackup(const BasebackupManifest& manifest, const LayerFile& layer, Lsn lsn,
                       const std::function<Status(std::span<const uint8_t>)>& sink);

}  // namespace zenith::pageserver
