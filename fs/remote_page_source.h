// RemotePageSource: the PageSource of a real mount, reading pages from the
// page server's GetPage@LSN at the mount's snapshot (the one it started
// from, later the newest it uploaded: see mount_lease.h).
//
// It keeps a pool of pagestream connections: a FUSE worker takes one, sends
// all the blocks of its read pipelined, and gives it back. When a
// connection breaks, the page server restarted or died, so every idle
// connection is dropped with it and the call is retried on a fresh one; if
// nobody answers, `start_server` brings a page server back (one thread at a
// time) before the retry. A page server killed under a running mount costs
// the reads in flight a restart's delay, not an error.
//
// Thread-safety: GetPages is called concurrently; mu_ guards idle_;
// start_mu_ serialises start_server; the counters are atomics.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/lsn.h"
#include "fs/page_source.h"
#include "pageserver/client/page_client.h"

namespace zenith::fs {

class RemotePageSource : public PageSource {
 public:
  // Makes sure a page server answers (starting one if needed).
  using ServerStarter = std::function<Status()>;

  RemotePageSource(std::string conninfo, std::string timeline, Lsn lsn, ServerStarter start_server = {})
      : conninfo_(std::move(conninfo)), timeline_(std::move(timeline)), lsn_(lsn.value), start_server_(std::move(start_server)) {}

  Status GetPages(const RelTag& rel, std::span<const uint32_t> blocks, std::span<uint8_t> out) override;
  // Reads go to a newer snapshot of the mount's own timeline from now on
  // (see mount_lease.h for why its pages are the same). Any thread.
  void MoveTo(Lsn lsn) { lsn_ = lsn.value; }

  // "N calls, M pages, avg T us per call, C connections", for logs.
  std::string Summary() const;

 private:
  Result<std::unique_ptr<pageserver::PageStream>> Take();
  void Give(std::unique_ptr<pageserver::PageStream> stream);
  void DropIdle();
  Status StartServer();

  const std::string conninfo_, timeline_;
  std::atomic<uint64_t> lsn_;
  const ServerStarter start_server_;
  std::mutex start_mu_;
  std::mutex mu_;
  std::vector<std::unique_ptr<pageserver::PageStream>> idle_;  // guarded by mu_
  std::atomic<uint64_t> calls_{0}, pages_{0}, nanos_{0}, connections_{0};
};

}  // namespace zenith::fs
