// What makes a mount read-only (`zenith mount --read-only BRANCH@POINT`):
// PostgreSQL on it is a hot standby recovered exactly to the point, and
// nothing it does reaches the repository.
//
// The point is exact because the mount's pg_wal is its own directory
// holding the timeline's WAL from the snapshot's redo up to the point and
// nothing after (zeros): recovery replays every record before the point and
// none after it, then, in standby mode (standby.signal), waits for WAL that
// never comes while serving read-only queries. No snapshot is uploaded (its
// checkpoints are the standby's restartpoints, kept in the scratch) and no
// WAL is written to the timeline; its lease-free registration with the page
// server (attach_readonly) keeps the branch from being deleted under it,
// pins the snapshot and shows the mount in `zenith status`.
//
// Thread-safety: the functions are reentrant; ReadOnlyRegistration below
// says its own.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "common/lsn.h"
#include "common/periodic_thread.h"
#include "common/status.h"
#include "pageserver/api/repo_layout.h"
#include "pageserver/client/repo_client.h"

namespace zenith::fs {

// standby.signal, and hot_standby on in postgresql.auto.conf.
Status WriteStandbySettings(const std::string& scratch_dir);

// Removes the read-only scratch directories of `timeline` whose zenith-fs
// is gone (killed before it could clean up).
void RemoveStaleReadOnlyDirs(const pageserver::RepoLayout& layout, const pageserver::TimelineId& timeline);

// The registration of a read-only mount, held by one page server
// connection: it lives in the page server's memory and ends with the
// connection. A keepalive thread checks the connection every second and,
// when it broke (the page server restarted, or died and the connector
// starts one), registers the mount again, as MountLease does for a
// read-write one.
//
// Thread-safety: Attach and client() on the owner's thread before
// StartKeepAlive; after it, the connection is the keepalive thread's.
class ReadOnlyRegistration {
 public:
  using Connector = std::function<Result<pageserver::RepoClient>()>;

  ReadOnlyRegistration(Connector connect, std::string target, Lsn lsn, std::string mountpoint)
      : connect_(std::move(connect)), target_(std::move(target)), lsn_(lsn), mountpoint_(std::move(mountpoint)) {}
  ~ReadOnlyRegistration() { Stop(); }
  ReadOnlyRegistration(const ReadOnlyRegistration&) = delete;
  ReadOnlyRegistration& operator=(const ReadOnlyRegistration&) = delete;

  // Connects and registers; the timeline that holds the point.
  Result<pageserver::TimelineId> Attach();
  // The registration's connection, for the mount's setup. REQUIRES: Attach
  // succeeded, StartKeepAlive not called.
  pageserver::RepoClient& client() { return *conn_; }
  void StartKeepAlive();
  void Stop() { keepalive_.Stop(); }

 private:
  void Tick();

  const Connector connect_;
  const std::string target_;
  const Lsn lsn_;
  const std::string mountpoint_;
  std::optional<pageserver::RepoClient> conn_;  // see the class comment
  PeriodicThread keepalive_;                    // last: stopped first
};

}  // namespace zenith::fs
