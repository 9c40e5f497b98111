// PrefetchingPageSource: a PageSource in front of another (the page
// server's) that fetches, with the pages a read asks for, the blocks a
// sequential reader will ask for next, in the same round trip, and keeps
// them in a bounded memory cache until they are asked for (then they are
// handed out once and dropped: the kernel's page cache holds them after).
//
// Why this is exact: the filesystem asks a PageSource only for remote
// blocks (segment.h), which the mount never wrote and which read the same
// at every snapshot the mount reads at (mount_lease.h). A page fetched
// ahead is therefore the page a later GetPages would return, for as long as
// the block stays remote; once it is written it is never asked for again,
// and its cached copy ages out (first in, first out).
//
// A failed fetch of pages ahead never fails the read that carried them: the
// asked-for pages are fetched again on their own. A read that asks for a
// page while it is being fetched ahead waits for that fetch instead of
// fetching it again (and fetches it itself if the fetch failed).
//
// Thread-safety: thread-safe (mu_ guards the cache; fetches run outside it).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "fs/page_source.h"

namespace zenith::fs {

class PrefetchingPageSource : public PageSource {
 public:
  // Keeps at most `capacity_pages` pages ahead (0: fetches none ahead).
  // `inner` must outlive this.
  PrefetchingPageSource(PageSource& inner, size_t capacity_pages);

  Status GetPages(const RelTag& rel, std::span<const uint32_t> blocks, std::span<uint8_t> out) override;
  bool ReadsAhead() const override { return capacity_ > 0; }
  Status GetPagesAhead(const RelTag& rel, std::span<const uint32_t> blocks, std::span<uint8_t> out,
                       std::span<const uint32_t> ahead) override;

  // "H of N pages from pages fetched ahead (F fetched ahead, E aged out)".
  std::string Summary() const;

 private:
  struct Key {
    RelTag rel;
    uint32_t block;
    auto operator<=>(const Key&) const = default;
  };
  // Copies a cached page into `out` and drops it; false if not cached.
  bool TakeLocked(const Key& key, std::span<uint8_t> out);
  void PutLocked(const Key& key, std::span<const uint8_t> page);

  PageSource& inner_;
  const size_t capacity_;
  mutable std::mutex mu_;
  std::condition_variable arrived_;  // signalled when fetches ahead end
  std::map<Key, size_t> slot_of_;  // guarded by mu_: cached page -> its slot in pages_
  std::set<Key> in_flight_;        // guarded by mu_: pages being fetched ahead
  std::deque<Key> order_;          // guarded by mu_: insertion order (may name pages taken since)
  std::vector<size_t> free_;       // guarded by mu_: free slots
  std::vector<uint8_t> pages_;     // guarded by mu_: capacity_ pages
  std::atomic<uint64_t> asked_{0}, hits_{0}, fetched_ahead_{0}, aged_out_{0};
};

}  // namespace zenith::fs
