#include "pageserver/snapshot_view.h"

#include <array>

#include "pageserver/layer_format.h"

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

Result<std::span<const uint8_t>> SnapshotView::GetPage(const RelTag& rel, uint32_t block) const {
  auto size = RelationSize(rel);
  if (!size) return NotFound("relation " + rel.ToString() + " does not exist at " + lsn_.ToString());
  if (block >= *size) {
    return InvalidArgument("block " + std::to_string(block) + " is past the end of relation " + rel.ToString() + " (" +
                           std::to_string(*size) + " blocks at " + lsn_.ToString() + ")");
  }
  for (const auto& layer : layers_) {
    ZENITH_ASSIGN_OR_RETURN(auto page, layer->FindPage(rel, block));
    if (page) return *page;
    auto info = layer->FindRelation(rel);
    if (!info || block >= info->floor) return ZeroPage();
  }
  return ZeroPage();
}

}  // namespace zenith::pageserver
