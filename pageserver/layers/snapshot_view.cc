#include "pageserver/layers/snapshot_view.h"

#include <algorithm>
#include <array>
#include <vector>

#include "pageserver/layers/layer_format.h"

namespace zenith::pageserver {

std::span<const uint8_t> ZeroPage() {
  static const std::array<uint8_t, layer_format::kPageSize> kZeros{};
  return kZeros;
}

std::optional<uint32_t> SnapshotView::RelationSize(const RelTag& rel) const {
  if (layers_.empty()) return std::nullopt;
  auto info = layers_.front()->FindRelation(rel);
  if (!info) return std::nullopt;
  return info->nblocks;
}

Status SnapshotView::LocateAll(const RelTag& rel, std::span<const uint32_t> blocks, std::span<PageSlot> slots) const {
  auto size = RelationSize(rel);
  if (!size) return NotFound("relation " + rel.ToString() + " does not exist at " + lsn_.ToString());
  // Below which block layer l lets a search fall through (0: it ends
  // there), looked up when a search first reaches the layer: a page found
  // in the newest layer costs no other lookup. Kept for a batch only, so a
  // single block (every GetPage) allocates nothing.
  std::vector<int64_t> floors(blocks.size() > 1 ? layers_.size() : 0, -1);
  auto floor_of = [&](size_t l) -> uint32_t {
    if (!floors.empty() && floors[l] >= 0) return static_cast<uint32_t>(floors[l]);
    auto info = layers_[l]->FindRelation(rel);
    const uint32_t floor = info ? info->floor : 0;
    if (!floors.empty()) floors[l] = floor;
    return floor;
  };
  for (size_t i = 0; i < blocks.size(); ++i) {
    const uint32_t block = blocks[i];
    if (block >= *size) {
      return InvalidArgument("block " + std::to_string(block) + " is past the end of relation " + rel.ToString() +
                             " (" + std::to_string(*size) + " blocks at " + lsn_.ToString() + ")");
    }
    slots[i] = PageSlot{};
    for (size_t l = 0; l < layers_.size(); ++l) {
      if (std::optional<uint64_t> index = layers_[l]->IndexOf(rel, block)) {
        slots[i] = PageSlot{layers_[l].get(), *index};
        break;
      }
      if (block >= floor_of(l)) break;  // cut away or not there: zeros
    }
  }
  return Status::Ok();
}

Result<SnapshotView::PageSlot> SnapshotView::Locate(const RelTag& rel, uint32_t block) const {
  PageSlot slot;
  ZENITH_RETURN_IF_ERROR(LocateAll(rel, std::span(&block, 1), std::span(&slot, 1)));
  return slot;
}

Result<std::span<const uint8_t>> SnapshotView::GetPage(const RelTag& rel, uint32_t block,
                                                       std::span<uint8_t> scratch) const {
  ZENITH_ASSIGN_OR_RETURN(PageSlot slot, Locate(rel, block));
  if (slot.layer == nullptr) return ZeroPage();
  return slot.layer->PageAt(slot.index, scratch);
}

bool SnapshotView::any_remote() const {
  return std::any_of(layers_.begin(), layers_.end(), [](const auto& l) { return l->remote(); });
}

}  // namespace zenith::pageserver
