#include "fs/prefetching_page_source.h"

#include <algorithm>
#include <cstring>

#include "common/pg_abi.h"

namespace zenith::fs {

namespace {

size_t PageBytes() { return kZenithPgAbi.blcksz; }

}  // namespace

PrefetchingPageSource::PrefetchingPageSource(PageSource& inner, size_t capacity_pages)
    : inner_(inner), capacity_(capacity_pages), pages_(capacity_pages * PageBytes()) {
  free_.reserve(capacity_pages);
  for (size_t i = capacity_pages; i > 0; --i) free_.push_back(i - 1);
}

Status PrefetchingPageSource::GetPages(const RelTag& rel, std::span<const uint32_t> blocks, std::span<uint8_t> out) {
  return GetPagesAhead(rel, blocks, out, {});
}

bool PrefetchingPageSource::TakeLocked(const Key& key, std::span<uint8_t> out) {
  auto it = slot_of_.find(key);
  if (it == slot_of_.end()) return false;
  const size_t bs = PageBytes();
  std::memcpy(out.data(), pages_.data() + it->second * bs, bs);
  free_.push_back(it->second);
  slot_of_.erase(it);
  return true;
}

void PrefetchingPageSource::PutLocked(const Key& key, std::span<const uint8_t> page) {
  if (capacity_ == 0 || slot_of_.contains(key)) return;
  // Full: the oldest pages go first (most were taken already; the rest
  // were written since, or the reader went elsewhere).
  while (free_.empty() && !order_.empty()) {
    auto it = slot_of_.find(order_.front());
    order_.pop_front();
    if (it == slot_of_.end()) continue;
    free_.push_back(it->second);
    slot_of_.erase(it);
    aged_out_.fetch_add(1, std::memory_order_relaxed);
  }
  const size_t slot = free_.back();
  free_.pop_back();
  std::memcpy(pages_.data() + slot * PageBytes(), page.data(), PageBytes());
  slot_of_.emplace(key, slot);
  order_.push_back(key);
  // The order list names taken pages too: keep it from growing without end.
  if (order_.size() > 2 * capacity_ + 64) {
    std::erase_if(order_, [this](const Key& k) { return !slot_of_.contains(k); });
  }
}

Status PrefetchingPageSource::GetPagesAhead(const RelTag& rel, std::span<const uint32_t> blocks, std::span<uint8_t> out,
                                            std::span<const uint32_t> ahead) {
  const size_t bs = PageBytes();
  asked_.fetch_add(blocks.size(), std::memory_order_relaxed);
  if (capacity_ == 0) return inner_.GetPages(rel, blocks, out);  // read-ahead off: nothing is ever cached
  std::vector<uint32_t> fetch;  // the asked-for blocks not cached, then the ahead ones
  std::vector<size_t> slots;    // where each asked-for block fetched goes in `out`
  {
    std::unique_lock lock(mu_);
    std::vector<size_t> waiting;  // asked-for blocks another read is fetching ahead
    for (size_t i = 0; i < blocks.size(); ++i) {
      if (TakeLocked({rel, blocks[i]}, out.subspan(i * bs, bs))) continue;
      (in_flight_.contains({rel, blocks[i]}) ? waiting : slots).push_back(i);
    }
    if (!waiting.empty()) {
      arrived_.wait(lock, [&] {
        return std::none_of(waiting.begin(), waiting.end(), [&](size_t i) { return in_flight_.contains({rel, blocks[i]}); });
      });
      for (size_t i : waiting) {
        if (!TakeLocked({rel, blocks[i]}, out.subspan(i * bs, bs))) slots.push_back(i);  // failed or aged out
      }
      std::sort(slots.begin(), slots.end());
    }
    for (size_t i : slots) fetch.push_back(blocks[i]);
    hits_.fetch_add(blocks.size() - fetch.size(), std::memory_order_relaxed);
    for (uint32_t b : ahead) {
      if (!slot_of_.contains({rel, b}) && in_flight_.insert({rel, b}).second) fetch.push_back(b);
    }
  }
  const size_t asked = slots.size();
  if (fetch.empty()) return Status::Ok();
  // Whatever happens below, the pages ahead stop being in flight.
  auto land = [&](bool put, std::span<const uint8_t> buf) {
    std::lock_guard lock(mu_);
    for (size_t i = asked; i < fetch.size(); ++i) {
      if (put) PutLocked({rel, fetch[i]}, buf.subspan(i * bs, bs));
      in_flight_.erase({rel, fetch[i]});
    }
    if (put) fetched_ahead_.fetch_add(fetch.size() - asked, std::memory_order_relaxed);
    arrived_.notify_all();
  };
  if (fetch.size() == blocks.size() && asked == blocks.size()) return inner_.GetPages(rel, blocks, out);  // nothing cached, nothing ahead
  std::vector<uint8_t> buf(fetch.size() * bs);
  Status s = inner_.GetPages(rel, fetch, buf);
  if (fetch.size() > asked) land(s.ok(), buf);
  if (!s.ok() && fetch.size() > asked) {
    // Pages ahead (one may be past the end by now) never fail the read.
    fetch.resize(asked);
    buf.resize(asked * bs);
    s = asked == 0 ? Status::Ok() : inner_.GetPages(rel, fetch, buf);
  }
  ZENITH_RETURN_IF_ERROR(s);
  for (size_t i = 0; i < asked; ++i) std::memcpy(out.data() + slots[i] * bs, buf.data() + i * bs, bs);
  return Status::Ok();
}

std::string PrefetchingPageSource::Summary() const {
  return std::to_string(hits_.load()) + " of " + std::to_string(asked_.load()) + " pages from pages fetched ahead (" +
         std::to_string(fetched_ahead_.load()) + " fetched ahead, " + std::to_string(aged_out_.load()) + " aged out)";
}

}  // namespace zenith::fs
