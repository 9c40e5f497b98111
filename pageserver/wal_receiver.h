// The WAL receiver (docs/design.md §8, remote mounts): the page server end
// of a compute on another machine. A remote mount's PostgreSQL writes its
// WAL to a pg_wal of its own; once it is up, its mount says `callmemaybe
// <timeline> <url>` on the connection holding the timeline's lease, and a
// WalReceiver connects to that PostgreSQL as a physical streaming replica
// (IDENTIFY_SYSTEM, START_REPLICATION PHYSICAL at the timeline's end of
// WAL), writes what it receives into the timeline's wal/ (WalSegmentWriter)
// and reports write and flush positions once the bytes are synced. The
// mount makes the page server a synchronous standby there, so a COMMIT
// returns only once its record is durable here.
//
// It starts where the timeline's WAL ends: the end of the last complete
// record (Timeline::EndOfWal), whatever partial record a dead compute left
// after it is zeroed first. It reconnects after any disconnect (the
// compute restarted, the network broke) until it is stopped; a page server
// restart loses it, and the mount's next callmemaybe starts it again.
//
// Thread-safety: WalReceivers is thread-safe; each receiver runs on a
// thread of its own.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/lsn.h"
#include "common/status.h"
#include "pageserver/timeline.h"

namespace zenith::pageserver {

// What a receiver is doing, for `callmemaybe`'s answer and the log.
struct WalReceiverState {
  std::string phase;    // "connecting", "streaming" or "waiting to reconnect"
  Lsn flushed;          // the end of what is durable in wal/ (as reported)
  std::string error;    // why the last connection ended ("" if none did)
};

class WalReceiver {
 public:
  struct Options {
    std::shared_ptr<Timeline> timeline;
    std::string compute_url;  // postgresql://HOST:PORT of the compute
    std::string user;         // the role to replicate as
    uint64_t system_id = 0;   // the compute must be this database system
  };
  explicit WalReceiver(Options options);
  ~WalReceiver();  // Stop()
  WalReceiver(const WalReceiver&) = delete;
  WalReceiver& operator=(const WalReceiver&) = delete;

  // Ends the connection and returns once the thread has exited: nothing
  // is written to wal/ after it returns. Within about a second.
  void Stop();
  WalReceiverState state() const;
  const std::string& compute_url() const { return options_.compute_url; }

 private:
  class Connection;
  void Run();
  Status StreamOnce();  // one connection, until it ends or Stop
  void SetPhase(const std::string& phase);

  const Options options_;
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  std::condition_variable wake_;
  WalReceiverState state_;  // guarded by mu_
  std::thread thread_;
};

// The receivers of a page server: at most one per timeline, owned by the
// session holding its lease.
class WalReceivers {
 public:
  explicit WalReceivers(uint64_t system_id) : system_id_(system_id) {}
  ~WalReceivers();  // stops them all

  // Starts a receiver of `timeline` from `compute_url` for `session`, or
  // keeps the one running if it is the same; one for another URL or
  // session is stopped first. Its state.
  WalReceiverState Ensure(const std::shared_ptr<Timeline>& timeline, uint64_t session, const std::string& compute_url);
  // Stops the receiver `session` started for `timeline`, if any (the
  // lease ended); returns once it wrote its last byte.
  void StopFor(const TimelineId& timeline, uint64_t session);
  // Whether a receiver writes `timeline`'s WAL.
  bool Receiving(const TimelineId& timeline);

 private:
  struct Entry {
    uint64_t session = 0;
    std::unique_ptr<WalReceiver> receiver;
  };
  const uint64_t system_id_;
  std::mutex mu_;  // held while a receiver stops: Ensure and StopFor are rare
  std::map<TimelineId, Entry> receivers_;  // guarded by mu_
};

// The role the page server replicates as: its own user name (the one
// `zenith init` ran initdb as, whose role is the cluster's superuser).
std::string ReplicationUser();

}  // namespace zenith::pageserver
