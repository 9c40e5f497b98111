// WalForwarder: a remote mount's PostgreSQL streams its WAL to the page
// server through the mount daemon (docs/design.md §8, remote mounts).
//
// Once the scratch's postmaster.pid says ready, the forwarder connects to
// that PostgreSQL over its Unix socket in replication mode, as the
// cluster's bootstrap superuser, by peer authentication (the mount's OS
// user is mapped to that role: fs/remote_compute.h), with
// application_name zenith_pageserver, the synchronous standby the mount
// names. IDENTIFY_SYSTEM must name the repository's system; the physical
// slot zenith_pageserver (made on first use) keeps what the page server
// has not flushed. It opens `put_wal` on a connection of its own to the
// page server, proving with the lease's WAL token that this mount holds the
// timeline (pageserver/api/wal_stream_protocol.h); the page server
// answers where its WAL ends, and replication starts there. Every XLogData
// is forwarded; a flush position is reported to PostgreSQL only once the
// page server answered that it holds the WAL durably, so a COMMIT returns
// only then. After either side breaks or restarts, it starts again from
// what the page server flushed.
//
// Deadlines: connecting takes at most connect_timeout; the page server
// connection has TCP keepalives and tcp_user_timeout; WAL the page server
// does not confirm within kAckTimeout ends the stream. Nothing blocks on a
// peer for long without one; no lock is held across network I/O.
//
// Thread-safety: runs on a thread of its own; Stop from the owner.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "common/status.h"
#include "pageserver/client/repo_client.h"

namespace zenith::fs {

class WalForwarder {
 public:
  struct Options {
    std::string scratch_dir;  // where the compute's postmaster.pid appears
    std::string superuser;    // the role replication connects as
    uint64_t system_id = 0;   // the repository's
    std::string timeline;
    // A new connection to the page server (with network deadlines).
    std::function<Result<pageserver::RepoClient>()> connect;
    // The lease's current WAL token ("" while there is none).
    std::function<std::string()> token;
  };
  explicit WalForwarder(Options options);
  ~WalForwarder();  // Stop()
  WalForwarder(const WalForwarder&) = delete;
  WalForwarder& operator=(const WalForwarder&) = delete;

  // Ends the streams and joins the thread.
  void Stop();

 private:
  class Stream;
  void Run();
  Status ForwardOnce();  // one pair of connections, until one ends or Stop

  const Options options_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;  // for wake_ only
  std::condition_variable wake_;
  std::thread thread_;
};

// `url` (a postgresql:// URL or key=value conninfo) with TCP keepalives,
// tcp_user_timeout and connect_timeout added: for connections that must
// notice a silent peer.
std::string WithNetworkDeadlines(const std::string& conninfo);

}  // namespace zenith::fs
