// What makes a mount remote (`zenith mount BRANCH DIR --pageserver URL`,
// docs/design.md §8): its PostgreSQL runs on a machine that cannot see the
// repository, so everything goes over the page server's TCP connection.
// The mount's pg_wal is a directory of its own in the scratch, filled with
// the WAL recovery needs (pageserver::FetchWalSegments in
// pageserver/client/repo_client.h); PostgreSQL writes new WAL there, and
// the mount daemon itself is its synchronous standby (fs/wal_forwarder.h):
// it replicates over the Unix socket as the cluster's bootstrap superuser,
// authenticated by peer with a map from the mount's OS user, and forwards
// the WAL to the page server. A COMMIT returns once the page server holds
// it durably. Nothing is trusted by network address: no replication
// connection over TCP is allowed at all.
//
// Thread-safety: reentrant.
#pragma once

#include <optional>
#include <string>

#include "common/status.h"

namespace zenith::fs {

// Who may replicate: the OS user the mount (and its PostgreSQL) runs as,
// mapped to the cluster's bootstrap superuser (common/pg_authid.h).
struct RemoteComputeAuth {
  std::string mount_user;  // the OS user
  std::string superuser;   // the role
};

// The mount's OS user (its effective uid's name).
Result<std::string> MountOsUser();

// Adds to the scratch's postgresql.auto.conf: synchronous_standby_names
// naming the mount's forwarder, synchronous_commit = on, and a bounded
// wal_keep_size with recycling (the forwarder's slot keeps what the page
// server has not flushed); first in pg_hba.conf: replication only over the
// Unix socket, as the superuser, by peer through the map zenith_mount
// (the mount's OS user only), every other replication connection, local or
// TCP, rejected, and the superuser's ordinary logins over the socket by
// peer through zenith_login (the mount's OS user, or the OS user of the
// superuser's name); those maps in pg_ident.conf. Each line ends with
// kRemoteComputeMarker (fs/scratch_setup.h), which every mount removes
// first. InvalidArgument for a name pg_hba.conf cannot hold.
Status ApplyRemoteComputeSettings(const std::string& scratch_dir, const RemoteComputeAuth& auth);

// Where a ready PostgreSQL takes connections on its Unix socket.
struct ComputeSocket {
  std::string dir;  // the first of unix_socket_directories
  int port = 0;
  bool operator==(const ComputeSocket&) const = default;
};

// The socket of the PostgreSQL whose postmaster.pid is `postmaster_pid`
// (its text), once it says it is ready; nullopt before, or when it has no
// Unix socket.
std::optional<ComputeSocket> ReadyComputeSocket(const std::string& postmaster_pid);

}  // namespace zenith::fs
