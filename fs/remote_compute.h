// What makes a mount remote (`zenith mount BRANCH DIR --pageserver URL`,
// docs/design.md §8): its PostgreSQL runs on a machine that cannot see the
// repository, so everything goes over the page server's TCP connection.
// The mount's pg_wal is a directory of its own in the scratch, filled with
// the WAL recovery needs (pageserver::FetchWalSegments in
// pageserver/client/repo_client.h); PostgreSQL writes new WAL there, and
// the page server's WAL receiver
// (pageserver/wal_receiver.h) streams it into the timeline as a synchronous
// standby: a COMMIT returns once the page server holds it durably.
//
// Thread-safety: reentrant; ComputeWatcher runs a thread of its own.
#pragma once

#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <thread>

#include "common/status.h"

namespace zenith::fs {

// Where the page server and the compute reach each other: the two ends of
// the mount's TCP connection to the page server.
struct ComputeEndpoints {
  std::string pageserver_ip;  // the replication connection comes from here
  std::string compute_ip;     // and goes to PostgreSQL listening here
};

// Adds to the scratch's postgresql.auto.conf: synchronous_standby_names
// naming the page server's receiver, synchronous_commit = on,
// listen_addresses with compute_ip, and a bounded wal_keep_size with
// recycling (the page server's slot keeps what it has not received); and,
// first in pg_hba.conf, a line
// letting the page server's address open a replication connection. Each
// line ends with kRemoteComputeMarker (fs/scratch_setup.h).
Status ApplyRemoteComputeSettings(const std::string& scratch_dir, const ComputeEndpoints& ends);

// postgresql://HOST:PORT of the PostgreSQL whose postmaster.pid is
// `postmaster_pid` (its text), once it says it is ready; nullopt before.
std::optional<std::string> ReadyComputeUrl(const std::string& postmaster_pid, const std::string& compute_ip);

// Whether that PostgreSQL listens on any TCP address (its first listen
// address is not empty): without one the page server cannot connect.
bool ListensOnTcp(const std::string& postmaster_pid);

// Watches the scratch's postmaster.pid and reports the compute's URL each
// time a PostgreSQL becomes ready on the mount (logging an error when it
// listens on no TCP address).
class ComputeWatcher {
 public:
  using OnReady = std::function<void(const std::string& url)>;
  ComputeWatcher(std::string scratch_dir, std::string compute_ip, OnReady on_ready);
  ~ComputeWatcher();
  ComputeWatcher(const ComputeWatcher&) = delete;
  ComputeWatcher& operator=(const ComputeWatcher&) = delete;

 private:
  void Run();
  const std::string scratch_dir_, compute_ip_;
  const OnReady on_ready_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace zenith::fs
