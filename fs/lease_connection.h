// LeaseConnection: the commands a MountLease (fs/mount_lease.h) sends on its
// one page server connection, narrowed to what the lease needs so that
// unit tests give it a page server of their own. RepoLeaseConnector makes
// the real ones, each a RepoClient.
//
// Thread-safety: a connection is used by one thread at a time (the lease's
// owner before the keepalive starts, then the keepalive thread).
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>

#include "common/lsn.h"
#include "common/status.h"
#include "pageserver/client/repo_client.h"

namespace zenith::fs {

class LeaseConnection {
 public:
  virtual ~LeaseConnection() = default;
  // Takes the read-write lease of `timeline` for `mountpoint` and process
  // `pid`; its token. kBusy when another mount holds it.
  virtual Result<std::string> Attach(const std::string& timeline, const std::string& mountpoint, pid_t pid) = 0;
  // The basebackup of the newest snapshot, pinned on this connection.
  virtual Result<std::string> PinnedBasebackup(const std::string& timeline) = 0;
  virtual Status Pin(const std::string& timeline, Lsn lsn, bool with_wal) = 0;
  virtual Status Unpin(const std::string& timeline, Lsn lsn) = 0;
  // A remote mount's WAL token (pageserver/api/wal_stream_protocol.h).
  virtual Result<std::string> WalToken(const std::string& timeline) = 0;
  // The keepalive: tells the page server the mount's figures (its metrics
  // show them); OK while the connection (and so the lease) lives.
  virtual Status KeepAlive(const pageserver::MountStats& stats) = 0;
};

// Connects to the page server (starting one if nobody answers).
using RepoConnector = std::function<Result<pageserver::RepoClient>()>;
using LeaseConnector = std::function<Result<std::unique_ptr<LeaseConnection>>()>;

// Lease connections over the RepoClients `connect` makes.
LeaseConnector RepoLeaseConnector(RepoConnector connect);

}  // namespace zenith::fs
