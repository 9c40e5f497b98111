#include "fs/relation_table.h"

#include <algorithm>

namespace zenith::fs {

void SnapshotLock::lock() {
  std::unique_lock lock(mu_);
  ++exclusive_waiters_;
  cv_.wait(lock, [this] { return !exclusive_ && shared_holders_ == 0; });
  --exclusive_waiters_;
  exclusive_ = true;
}

void SnapshotLock::unlock() {
  {
    std::lock_guard lock(mu_);
    exclusive_ = false;
  }
  cv_.notify_all();
}

void SnapshotLock::lock_shared() {
  std::unique_lock lock(mu_);
  ++shared_waiters_;
  cv_.wait(lock, [this] { return !exclusive_ && exclusive_waiters_ == 0; });
  --shared_waiters_;
  ++shared_holders_;
}

int SnapshotLock::waiting() const {
  std::lock_guard lock(mu_);
  return shared_waiters_ + exclusive_waiters_;
}

void SnapshotLock::unlock_shared() {
  bool last;
  {
    std::lock_guard lock(mu_);
    last = --shared_holders_ == 0;
  }
  if (last) cv_.notify_all();
}

RelationTable::RelationTable(const std::map<RelSegment, uint32_t>& remote_limits) {
  for (const auto& [seg, limit] : remote_limits) linked_.emplace(seg, std::make_shared<Segment>(seg, limit));
}

std::shared_ptr<Segment> RelationTable::Attach(const RelSegment& seg) {
  std::lock_guard lock(mu_);
  auto [it, inserted] = linked_.try_emplace(seg);
  if (inserted) it->second = std::make_shared<Segment>(seg, 0);
  return it->second;
}

std::shared_ptr<Segment> RelationTable::Find(const RelSegment& seg) const {
  std::lock_guard lock(mu_);
  auto it = linked_.find(seg);
  return it == linked_.end() ? nullptr : it->second;
}

std::shared_ptr<Segment> RelationTable::Created(const RelSegment& seg) {
  std::lock_guard lock(mu_);
  auto& slot = linked_[seg];
  if (slot) slot->Unlink();
  slot = std::make_shared<Segment>(seg, 0);
  LowerFloor(seg.tag, seg.segno * BlocksPerSegment());
  return slot;
}

void RelationTable::Unlinked(const RelSegment& seg) {
  std::lock_guard lock(mu_);
  auto it = linked_.find(seg);
  if (it != linked_.end()) {
    it->second->Unlink();
    linked_.erase(it);
  }
  LowerFloor(seg.tag, seg.segno * BlocksPerSegment());
}

void RelationTable::Truncated(const Segment& segment, uint32_t blocks_in_segment) {
  const RelSegment& seg = segment.id();
  std::lock_guard lock(mu_);
  auto it = linked_.find(seg);
  if (it == linked_.end() || it->second.get() != &segment) return;
  LowerFloor(seg.tag, seg.segno * BlocksPerSegment() + blocks_in_segment);
}

void RelationTable::LowerFloor(const RelTag& rel, uint32_t blocks) {
  auto [it, inserted] = floors_.try_emplace(rel, blocks);
  if (!inserted) it->second = std::min(it->second, blocks);
}

SnapshotDelta RelationTable::TakeDelta() {
  SnapshotDelta delta;
  std::lock_guard lock(mu_);
  for (const auto& [seg, state] : linked_) {
    std::vector<uint32_t> blocks = state->TakeDirty();
    if (!blocks.empty()) delta.dirty.push_back({seg, std::move(blocks)});
  }
  delta.floors.swap(floors_);
  return delta;
}

std::map<RelSegment, std::vector<uint32_t>> RelationTable::UsedBlocks() const {
  std::vector<std::pair<RelSegment, std::shared_ptr<Segment>>> segments;
  {
    std::lock_guard lock(mu_);
    segments.assign(linked_.begin(), linked_.end());
  }
  std::map<RelSegment, std::vector<uint32_t>> out;
  for (const auto& [id, seg] : segments) {
    std::vector<uint32_t> used = seg->Used();
    if (!used.empty()) out.emplace(id, std::move(used));
  }
  return out;
}

}  // namespace zenith::fs
