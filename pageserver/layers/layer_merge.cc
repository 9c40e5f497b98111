#include "pageserver/layers/layer_merge.h"

#include <array>
#include <algorithm>
#include <queue>
#include <vector>

#include "pageserver/layers/layer_writer.h"

namespace zenith::pageserver {

namespace {

constexpr uint64_t kPagesBetweenChecks = 256;

using Layers = std::span<const std::shared_ptr<const LayerFile>>;

// One relation's share of the merge: where each input's pages for it lie,
// and below which block each input may still contribute (a newer floor, or
// a newer layer lacking the relation, cuts older pages away).
struct RelationMerge {
  RelTag rel;
  RelationInfo out;                        // size from the newest, merged floor
  std::vector<uint32_t> cutoff;            // per input
  std::vector<std::pair<uint64_t, uint64_t>> ranges;  // per input: index positions
};

RelationMerge PlanRelation(Layers inputs, const RelTag& rel, const RelationInfo& newest) {
  RelationMerge m{rel, newest, {}, {}};
  uint32_t cutoff = newest.nblocks;
  for (const auto& layer : inputs) {
    m.cutoff.push_back(cutoff);
    m.ranges.push_back(cutoff > 0 ? layer->PageRange(rel) : std::pair<uint64_t, uint64_t>{0, 0});
    auto info = layer->FindRelation(rel);
    cutoff = std::min(cutoff, info ? info->floor : 0);
  }
  m.out.floor = cutoff;
  return m;
}

class Merger {
 public:
  Merger(Layers inputs, LayerWriter& writer, const MergeOptions& options)
      : inputs_(inputs), writer_(writer), options_(options) {}

  // Adds the relation's surviving pages, in block order.
  Status AddPages(const RelationMerge& m) {
    using Head = std::pair<uint32_t, size_t>;  // (block, input): the newest input sorts first
    std::priority_queue<Head, std::vector<Head>, std::greater<Head>> heads;
    std::vector<uint64_t> pos(inputs_.size());
    for (size_t i = 0; i < inputs_.size(); ++i) {
      pos[i] = m.ranges[i].first;
      if (pos[i] < m.ranges[i].second) heads.push({inputs_[i]->BlockAt(pos[i]), i});
    }
    std::optional<uint32_t> last_block;
    while (!heads.empty()) {
      auto [block, i] = heads.top();
      heads.pop();
      const uint64_t at = pos[i]++;
      if (pos[i] < m.ranges[i].second) heads.push({inputs_[i]->BlockAt(pos[i]), i});
      if (last_block == block) continue;  // a newer input decided this block
      last_block = block;
      if (block >= m.cutoff[i]) continue;  // cut away by a newer floor
      ZENITH_ASSIGN_OR_RETURN(auto page, inputs_[i]->PageAt(at, scratch_));
      ZENITH_RETURN_IF_ERROR(writer_.AddPage(m.rel, block, page));
      ZENITH_RETURN_IF_ERROR(Tick());
    }
    return Status::Ok();
  }

 private:
  Status Tick() {
    if (++pages_ % kPagesBetweenChecks != 0) return Status::Ok();
    if (options_.progress) options_.progress();
    if (options_.cancel != nullptr && options_.cancel->load()) return Busy("merging layers was cancelled");
    return Status::Ok();
  }

  Layers inputs_;
  LayerWriter& writer_;
  const MergeOptions& options_;
  uint64_t pages_ = 0;
  std::array<uint8_t, kBlockSize> scratch_;  // a page of a remote input
};

}  // namespace

Result<std::string> WriteMergedLayer(Layers newest_first, const std::string& dir, const TimelineId& timeline,
                                     const LayerMeta& meta, const MergeOptions& options) {
  if (newest_first.empty()) return Internal("WriteMergedLayer: no layers to merge");
  if (meta.image && !newest_first.back()->complete()) {
    return Internal("WriteMergedLayer: an image must reach down to a complete layer");
  }
  std::vector<std::pair<RelTag, RelationInfo>> relations;
  newest_first.front()->ForEachRelation(
      [&](const RelTag& rel, const RelationInfo& info) { relations.emplace_back(rel, info); });
  ZENITH_ASSIGN_OR_RETURN(auto writer, LayerWriter::Create(dir, timeline));
  Merger merger(newest_first, *writer, options);
  for (const auto& [rel, info] : relations) {
    RelationMerge m = PlanRelation(newest_first, rel, info);
    ZENITH_RETURN_IF_ERROR(merger.AddPages(m));
    ZENITH_RETURN_IF_ERROR(writer->SetRelation(rel, m.out));
  }
  ZENITH_RETURN_IF_ERROR(writer->AppendFilesTar(newest_first.front()->files_tar()));
  return writer->Finish(meta);
}

}  // namespace zenith::pageserver
