// MountLease: the read-write lease of a mounted timeline, and the pin of the
// snapshot the mount reads at, both held by one page server connection
// (they live in the page server's memory and end with the connection).
//
// The pin follows the mount's own snapshots. A block the mount reads from
// the page server is one it never wrote (written blocks are local), and a
// snapshot this mount uploaded holds only blocks it wrote: so every such
// block reads the same at the newest of them as at the snapshot the mount
// started from. Once the page server has stored one, the lease pins it, the
// mount reads at it, and the older pin goes a tick later (reads in flight
// at the old LSN have finished by then). History then need not keep the
// starting snapshot, nor the WAL from its redo, for the mount's whole life.
//
// The lease has a token, a secret the page server gives with it: the
// mount's snapshot uploads, on a connection of their own, present it
// (put_snapshot is refused to anyone else). A lease taken again has a new one.
//
// A keepalive thread checks the connection every second; when it broke (the
// page server restarted, or died and the connector starts one), it takes
// the lease and the pin again.
//
// A remote mount forwards its PostgreSQL's WAL to the page server on a
// connection of its own (fs/wal_forwarder.h), which proves it holds the
// lease with the lease's WAL token: taken again with the lease after a
// page server restart (pageserver/api/wal_stream_protocol.h).
//
// Its connection is a LeaseConnection (fs/lease_connection.h): unit tests
// give it a page server of their own.
//
// Thread-safety: Acquire, PinnedBasebackup and SetPinned before
// StartKeepAlive, on the owner's thread; MoveTo from any thread; the rest
// runs on the keepalive thread.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "common/lsn.h"
#include "common/periodic_thread.h"
#include "common/status.h"
#include "fs/lease_connection.h"

namespace zenith::fs {

class MountLease {
 public:
  // Connects to the page server, starting one if nobody answers.
  using Connector = RepoConnector;
  // The mount reads at this snapshot from now on.
  using OnMoved = std::function<void(Lsn)>;

  MountLease(LeaseConnector connect, std::string timeline, std::string mountpoint)
      : connect_(std::move(connect)), timeline_(std::move(timeline)), mountpoint_(std::move(mountpoint)) {}
  MountLease(Connector connect, std::string timeline, std::string mountpoint)
      : MountLease(RepoLeaseConnector(std::move(connect)), std::move(timeline), std::move(mountpoint)) {}
  ~MountLease() { Stop(); }
  MountLease(const MountLease&) = delete;
  MountLease& operator=(const MountLease&) = delete;

  // Takes the lease (and the pin, once there is one). Busy when another
  // mount holds the timeline.
  Status Acquire();
  // The basebackup of the newest snapshot, pinned (with the WAL from its
  // redo, which the mount's recovery replays).
  Result<std::string> PinnedBasebackup();
  void SetPinned(Lsn lsn) { pinned_ = lsn; }

  void StartKeepAlive(OnMoved on_moved);
  void Stop();
  // The page server stored a newer snapshot of this mount: pin it next.
  void MoveTo(Lsn valid) { wanted_ = valid.value; }
  // The token of the lease held now; "" while it is not. Any thread.
  std::string token() const;
  // A remote mount: asks for the lease's WAL token now and after every
  // renewal. Before StartKeepAlive.
  Status EnableWalToken();
  // The current WAL token ("" until there is one); any thread.
  std::string WalToken();

 private:
  void Tick();  // one keepalive round: check, move the pin, or take all again
  void MovePin();
  Status FetchWalToken();
  Status Pin(Lsn lsn, bool with_wal);

  const LeaseConnector connect_;
  const std::string timeline_, mountpoint_;
  OnMoved on_moved_;
  std::atomic<uint64_t> wanted_{0};
  // Keepalive thread only, once it runs:
  std::unique_ptr<LeaseConnection> conn_;
  Lsn pinned_;
  bool pinned_with_wal_ = true;
  Lsn releasing_;  // the previous pin, released at the next tick
  bool wal_token_enabled_ = false;
  mutable std::mutex mu_;
  std::string token_;      // guarded by mu_
  std::string wal_token_;  // guarded by mu_
  PeriodicThread keepalive_;    // last: stopped first
};

}  // namespace zenith::fs
