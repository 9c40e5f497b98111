// WalSegmentWriter: writes WAL bytes at their LSNs into the 16 MB segment
// files of a directory (a pg_wal, or a timeline's wal/), as PostgreSQL lays
// them out: a segment file is created at its full size, so bytes not
// written yet read as zeros, which is where a WAL reader sees the WAL end
// (kReplace: sparse, for a disposable pg_wal; kKeep: zero-filled and
// durable before it gets its name, as PostgreSQL makes them).
//
// Used to fill a mount's own pg_wal from the page server, and by the page
// server's WAL receiver (pageserver/repo/wal_receiver.h), which needs what it
// wrote durable before it reports it (Sync).
//
// Thread-safety: one thread at a time.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "common/lsn.h"
#include "common/status.h"
#include "common/unique_fd.h"

namespace zenith {

class WalSegmentWriter {
 public:
  enum class Existing {
    kReplace,  // a segment file present is emptied when first opened
    kKeep,     // written over in place (a reader may hold it open)
  };
  WalSegmentWriter(std::string dir, Existing existing) : dir_(std::move(dir)), existing_(existing) {}

  // Writes `bytes` at `at`, continuing into the next segments as needed.
  Status Write(Lsn at, std::span<const uint8_t> bytes);

  // Makes everything written so far durable: the data of the segment
  // files written since the last Sync, and the directory when a file was
  // created in it.
  Status Sync();

  // Zeros the WAL from `at` to the end of its segment and every later
  // segment file present (kept in place, never unlinked: a reader may hold
  // them open), durably. For WAL past the end of the last complete record,
  // which must not be mistaken for records once new WAL is written there.
  Status DiscardFrom(Lsn at);

 private:
  Status Open(uint64_t segno);
  Status SyncOpen();

  const std::string dir_;
  const Existing existing_;
  std::string path_;
  uint64_t segno_ = 0;
  UniqueFd fd_;
  bool fd_dirty_ = false;       // fd_ has data not synced
  bool created_file_ = false;   // a file was created since the last Sync
};

}  // namespace zenith
