#include "fs/segment.h"

#include <algorithm>
#include <bit>

#include "common/pg_abi.h"

namespace zenith::fs {

bool BlockSet::Contains(uint32_t block) const {
  size_t word = block / 64;
  return word < words_.size() && (words_[word] >> (block % 64)) & 1;
}

void BlockSet::Insert(uint32_t block) {
  size_t word = block / 64;
  if (word >= words_.size()) words_.resize(word + 1, 0);
  words_[word] |= uint64_t{1} << (block % 64);
}

void BlockSet::EraseFrom(uint32_t end) {
  size_t word = end / 64;
  if (word >= words_.size()) return;
  words_.resize(word + 1);
  words_[word] &= (uint64_t{1} << (end % 64)) - 1;
  while (!words_.empty() && words_.back() == 0) words_.pop_back();
}

bool BlockSet::empty() const {
  return std::all_of(words_.begin(), words_.end(), [](uint64_t w) { return w == 0; });
}

std::vector<uint32_t> BlockSet::ToVector() const {
  std::vector<uint32_t> out;
  for (size_t i = 0; i < words_.size(); ++i) {
    for (uint64_t w = words_[i]; w != 0; w &= w - 1) {
      out.push_back(static_cast<uint32_t>(i * 64 + static_cast<size_t>(std::countr_zero(w))));
    }
  }
  return out;
}

Segment::Segment(RelSegment id, uint32_t remote_limit) : id_(id), remote_limit_(remote_limit) {}

uint32_t Segment::RelationBlock(uint32_t block_in_segment) const {
  return id_.segno * BlocksPerSegment() + block_in_segment;
}

bool Segment::IsRemote(uint32_t block) const {
  std::lock_guard lock(mu_);
  return block < remote_limit_ && !local_.Contains(block);
}

std::vector<uint32_t> Segment::RemoteBlocks(uint32_t first, uint32_t count) const {
  std::vector<uint32_t> out;
  std::lock_guard lock(mu_);
  uint32_t end = std::min<uint64_t>(uint64_t{first} + count, remote_limit_);
  for (uint32_t b = first; b < end; ++b) {
    if (!local_.Contains(b)) out.push_back(b);
  }
  return out;
}

void Segment::MarkWritten(uint32_t first, uint32_t count) {
  std::lock_guard lock(mu_);
  for (uint32_t b = first; b < first + count; ++b) {
    local_.Insert(b);
    used_.Insert(b);
    if (linked_) dirty_.Insert(b);
  }
}

void Segment::Truncate(uint64_t new_size) {
  const uint64_t blcksz = kZenithPgAbi.blcksz;
  uint64_t whole = new_size / blcksz;
  uint64_t end = (new_size + blcksz - 1) / blcksz;  // first block wholly past the end
  std::lock_guard lock(mu_);
  if (whole < remote_limit_) remote_limit_ = static_cast<uint32_t>(whole);
  if (end <= UINT32_MAX) {
    local_.EraseFrom(static_cast<uint32_t>(end));
    dirty_.EraseFrom(static_cast<uint32_t>(end));
  }
}

void Segment::Unlink() {
  std::lock_guard lock(mu_);
  linked_ = false;
  dirty_.Clear();
}

std::vector<uint32_t> Segment::TakeDirty() {
  std::lock_guard lock(mu_);
  std::vector<uint32_t> out = dirty_.ToVector();
  dirty_.Clear();
  return out;
}

void Segment::NoteUsed(uint32_t first, uint32_t count) {
  std::lock_guard lock(mu_);
  for (uint32_t b = first; b < first + count; ++b) used_.Insert(b);
}

std::vector<uint32_t> Segment::Used() const {
  std::lock_guard lock(mu_);
  return used_.ToVector();
}

Segment::BlockRange Segment::ReadAheadAfter(uint32_t first, uint32_t count) {
  std::lock_guard lock(mu_);
  const uint32_t end = first + count;
  const bool continues = first == next_read_ || (window_ > 0 && first > next_read_ && first < ahead_end_);
  if (!continues) {  // a new run starts with this read
    next_read_ = end;
    ahead_end_ = end;
    window_ = 0;
    return {};
  }
  next_read_ = std::max(next_read_, end);
  window_ = window_ == 0 ? kMinReadAhead : std::min(window_ * 2, kMaxReadAhead);
  const uint32_t frontier = std::max(ahead_end_, next_read_);
  if (frontier - next_read_ >= window_ / 2) return {};  // enough is named ahead
  const uint32_t target = next_read_ + window_;
  ahead_end_ = target;
  return {frontier, target - frontier};
}

uint32_t Segment::remote_limit() const {
  std::lock_guard lock(mu_);
  return remote_limit_;
}

bool Segment::linked() const {
  std::lock_guard lock(mu_);
  return linked_;
}

}  // namespace zenith::fs
