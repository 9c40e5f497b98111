#include "pageserver/layers/remote_pages.h"

#include <algorithm>
#include <cstring>
#include <tuple>

#include "pageserver/layers/layer_file.h"

namespace zenith::pageserver {

uint64_t RemotePages::bytes_fetched() const {
  std::lock_guard lock(mu_);
  return fetched_;
}

bool RemotePages::CopyCached(uint64_t offset, std::span<uint8_t> out) {
  auto it = ranges_.upper_bound(offset);
  if (it == ranges_.begin()) return false;
  --it;
  const uint64_t start = it->first;
  Range& r = it->second;
  if (offset + out.size() > start + r.bytes.size()) return false;
  std::memcpy(out.data(), r.bytes.data() + (offset - start), out.size());
  r.used = ++tick_;
  return true;
}

std::pair<uint64_t, uint64_t> RemotePages::PlanFetch(uint64_t offset, uint64_t length) {
  // Sequential: the read starts in the range after the last one fetched.
  if (offset >= last_end_ && offset < last_end_ + kMinRange) {
    next_size_ = std::min(next_size_ * 2, kMaxRange);
  } else {
    next_size_ = kMinRange;
  }
  uint64_t start = offset - (offset - begin_) % kMinRange;
  if (next_size_ > kMinRange && offset >= last_end_) start = std::max(start, last_end_);
  uint64_t size = std::max(next_size_, offset + length - start);
  size = std::min(size, end_ - start);
  return {start, size};
}

void RemotePages::Keep(uint64_t start, std::vector<uint8_t> bytes) {
  ranges_.insert_or_assign(start, Range{std::move(bytes), ++tick_});
  // A range may replace one fetched at the same start: recount (there are
  // at most kCacheBytes / kMinRange of them).
  cached_ = 0;
  for (const auto& [s, r] : ranges_) cached_ += r.bytes.size();
  while (cached_ > kCacheBytes && ranges_.size() > 1) {
    auto oldest = std::min_element(ranges_.begin(), ranges_.end(),
                                   [](const auto& a, const auto& b) { return a.second.used < b.second.used; });
    cached_ -= oldest->second.bytes.size();
    ranges_.erase(oldest);
  }
}

Status RemotePages::Read(uint64_t offset, std::span<uint8_t> out) {
  if (offset < begin_ || offset > end_ || out.size() > end_ - offset) {
    return Internal("RemotePages: a read outside the pages of " + reader_->name());
  }
  uint64_t start = 0, size = 0;
  {
    std::lock_guard lock(mu_);
    if (CopyCached(offset, out)) return Status::Ok();
    std::tie(start, size) = PlanFetch(offset, out.size());
    last_end_ = start + size;
  }
  std::vector<uint8_t> bytes(size);
  ZENITH_RETURN_IF_ERROR(reader_->ReadAt(start, bytes));
  std::memcpy(out.data(), bytes.data() + (offset - start), out.size());
  std::lock_guard lock(mu_);
  fetched_ += size;
  Keep(start, std::move(bytes));
  return Status::Ok();
}

}  // namespace zenith::pageserver
