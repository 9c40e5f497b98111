// RemotePageSource: the PageSource of a real mount, reading pages from the
// page server's GetPage@LSN at the mount's fixed LSN.
//
// It keeps a pool of pagestream connections: a FUSE worker takes one, sends
// all the blocks of its read pipelined, and gives it back. A connection
// that breaks (the page server restarted, say) is dropped and the call is
// retried once on a fresh one, so a restarted page server costs one retry,
// not a failed read.
//
// Thread-safety: GetPages is called concurrently; mu_ guards idle_; the
// counters are atomics.
#pragma once

#include <atomic>
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
  RemotePageSource(std::string conninfo, std::string timeline, Lsn lsn)
      : conninfo_(std::move(conninfo)), timeline_(std::move(timeline)), lsn_(lsn) {}

  Status GetPages(const RelTag& rel, std::span<const uint32_t> blocks, std::span<uint8_t> out) override;

  // "N calls, M pages, avg T us per call, C connections", for logs.
  std::string Summary() const;

 private:
  Result<std::unique_ptr<pageserver::PageStream>> Take();
  void Give(std::unique_ptr<pageserver::PageStream> stream);

  const std::string conninfo_, timeline_;
  const Lsn lsn_;
  std::mutex mu_;
  std::vector<std::unique_ptr<pageserver::PageStream>> idle_;  // guarded by mu_
  std::atomic<uint64_t> calls_{0}, pages_{0}, nanos_{0}, connections_{0};
};

}  // namespace zenith::fs
