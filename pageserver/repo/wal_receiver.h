// The page server end of a remote compute's WAL (docs/design.md §8, remote
// mounts). The mount daemon on the compute's machine is its PostgreSQL's
// synchronous standby: it receives the WAL over the Unix socket and sends
// it here with `put_wal` (pageserver/api/wal_stream_protocol.h), on a
// connection of its own that proves it holds the timeline's read-write
// lease with the lease's token (`wal_token`). Each chunk is written into
// the timeline's wal/ (WalSegmentWriter), synced, and only then answered
// with the new flushed end, which the mount reports to PostgreSQL: a
// COMMIT returns once its record is durable here. The page server makes no
// connection of its own.
//
// A stream starts where the timeline's WAL ends: the end of the last
// complete record (Timeline::EndOfWal); whatever partial record a dead
// compute left after it is zeroed first. One stream writes a timeline at a
// time: a new one (the mount reconnected) revokes the one before it, and
// when the lease ends its stream is revoked before the lease is released,
// so the next mount never finds a stream still writing wal/. Revoking waits
// at most for a disk write in progress, never for the network: no lock is
// held while a stream reads its socket.
//
// Thread-safety: WalReceivers and WalStreamWriter are thread-safe.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>

#include "common/lsn.h"
#include "common/status.h"
#include "common/wal_segment_writer.h"
#include "pageserver/repo/timeline.h"

namespace zenith::pageserver {

// The writer of one put_wal stream.
class WalStreamWriter {
 public:
  WalStreamWriter(std::shared_ptr<Timeline> timeline, Lsn start);
  // Where the stream starts: the end of WAL when it was opened.
  Lsn start() const { return start_; }
  // Writes `bytes` at `at`, which must be where the stream's WAL ends now,
  // and makes them durable; the new end. kBusy once revoked (nothing is
  // written then), kInvalidArgument for a gap or an overlap.
  Result<Lsn> WriteDurably(Lsn at, std::span<const uint8_t> bytes);
  // Nothing is written after this returns.
  void Revoke();

 private:
  const std::shared_ptr<Timeline> timeline_;
  const Lsn start_;
  std::mutex mu_;  // guards the fields below; held across a disk write and sync, never network I/O
  WalSegmentWriter writer_;
  Lsn end_;
  bool revoked_ = false;
};

// The tokens of remote leases and the streams writing with them.
class WalReceivers {
 public:
  // A new secret for the lease `lease_session` holds on `timeline`; the
  // previous one of the timeline is void, its stream revoked.
  std::string IssueToken(const TimelineId& timeline, uint64_t lease_session);
  // The lease ended: its token is void and its stream revoked.
  void EndLease(const TimelineId& timeline, uint64_t lease_session);
  // A writer for the holder of `token`, starting at the timeline's end of
  // WAL (a partial record after it zeroed). kPermissionDenied unless the
  // token is the timeline's current one; a stream already writing it is
  // revoked first.
  Result<std::shared_ptr<WalStreamWriter>> Open(const std::shared_ptr<Timeline>& timeline, const std::string& token);
  // Whether a remote lease holds `timeline` (its WAL may arrive after its
  // snapshots do).
  bool Receiving(const TimelineId& timeline);

 private:
  struct Lease {
    uint64_t session = 0;
    std::string token;
    std::shared_ptr<WalStreamWriter> stream;
  };
  // Revokes and forgets the stream of `lease`, outside mu_.
  void RevokeStream(std::shared_ptr<WalStreamWriter> stream);

  std::mutex mu_;  // guards leases_; held across disk I/O only (opening a stream), never network I/O
  std::map<TimelineId, Lease> leases_;
};

}  // namespace zenith::pageserver
