#include "pageserver/repo/history_plan.h"

#include <algorithm>
#include <limits>
#include <map>

namespace zenith::pageserver {

namespace {

using Timelines = std::vector<PlanTimeline>;

// The window is kept in this many steps of time (KeepAnchors).
constexpr int64_t kWindowSteps = 2;

const PlanLayer& At(const Timelines& tls, LayerRef r) { return tls[r.timeline].layers[r.index]; }

// A point's starting snapshot, and the timeline the point belongs to (for a
// child's branch point: the child).
struct Root {
  LayerRef snapshot;
  int point_of;
};

class Planner {
 public:
  Planner(const Timelines& tls, const RetentionPolicy& retention, const CompactionPolicy& compaction, int64_t now)
      : tls_(tls), retention_(retention), compaction_(compaction), now_(now) {
    plan_.timelines.resize(tls.size());
    for (size_t t = 0; t < tls.size(); ++t) {
      TimelinePlan& p = plan_.timelines[t];
      const size_t n = tls[t].layers.size();
      p.needed.assign(n, false);
      p.kept.assign(n, false);
      p.needed_by_others.assign(n, false);
      if (tls[t].parent >= 0) children_[tls[t].parent].push_back(static_cast<int>(t));
    }
  }

  HistoryPlan Run() {
    for (int t = 0; t < static_cast<int>(tls_.size()); ++t) CollectPoints(t);
    for (const Root& r : roots_) MarkChain(r);
    for (int t = 0; t < static_cast<int>(tls_.size()); ++t) PlanMerges(t);
    for (int t = 0; t < static_cast<int>(tls_.size()); ++t) PlanDepthImage(t);
    for (int t = 0; t < static_cast<int>(tls_.size()); ++t) PlanHorizonImage(t);
    return std::move(plan_);
  }

 private:
  void Keep(LayerRef r) { plan_.timelines[r.timeline].kept[r.index] = true; }

  // The WAL from `lsn` on, as point-timeline `point_of` reads it starting at
  // timeline t: t's own wal/, and its ancestors' below each branch point.
  void NeedWal(int t, Lsn lsn, int point_of, Lsn upto) {
    for (;;) {
      TimelinePlan& p = plan_.timelines[t];
      if (!p.wal_needed_from.valid() || lsn < p.wal_needed_from) p.wal_needed_from = lsn;
      if (t != point_of) p.wal_needed_by_others.push_back({lsn, upto});
      const PlanTimeline& tl = tls_[t];
      if (tl.parent < 0 || lsn >= tl.branch_lsn) return;
      upto = tl.branch_lsn;
      t = tl.parent;
    }
  }

  void AddPoint(int t, Lsn x, int point_of, bool keep, bool wal = true) {
    auto s = NewestAt(tls_, t, x);
    if (!s) return;
    roots_.push_back({*s, point_of});
    if (keep) Keep(*s);
    if (wal) NeedWal(t, At(tls_, *s).redo, point_of, point_of == t ? Lsn(std::numeric_limits<uint64_t>::max()) : x);
  }

  void CollectPoints(int t) {
    const PlanTimeline& tl = tls_[t];
    const Lsn h = Horizon(tl, retention_, now_);
    plan_.timelines[t].horizon = h;
    AddPoint(t, h, t, /*keep=*/true);
    for (int i = 0; i < static_cast<int>(tl.layers.size()); ++i) {
      if (tl.layers[i].valid > h) roots_.push_back({{t, i}, t});
      if (tl.layers[i].complete) Keep({t, i});
    }
    if (!tl.layers.empty()) Keep({t, static_cast<int>(tl.layers.size()) - 1});
    KeepAnchors(t, h);
    for (Lsn pin : tl.pins) AddPoint(t, pin, t, /*keep=*/true);
    for (Lsn pin : tl.page_pins) AddPoint(t, pin, t, /*keep=*/true, /*wal=*/false);
    for (int c : children_[t]) AddPoint(t, tls_[c].branch_lsn, c, /*keep=*/true);
  }

  // Window anchors: from the horizon's snapshot up, the furthest layer
  // whose valid lies within max_replay_wal_bytes of the last anchor's redo
  // and which was stored within a window step of it. The first bounds the
  // WAL a point replays; the second lets the horizon move on smoothly (a
  // merged layer is as young as its newest input: without anchors spread
  // in time, no snapshot above the horizon would ever grow old enough to
  // become the next one, and the WAL behind it would pile up).
  void KeepAnchors(int t, Lsn h) {
    const auto& layers = tls_[t].layers;
    auto s = NewestAt(tls_, t, h);
    if (!s) return;
    Lsn anchor_redo = At(tls_, *s).redo;
    int64_t anchor_time = At(tls_, *s).created_at;
    const int64_t step = std::max<int64_t>(1, retention_.window_seconds / kWindowSteps);
    int i = 0;
    while (i < static_cast<int>(layers.size()) && layers[i].valid <= h) ++i;
    const uint64_t bound = compaction_.max_replay_wal_bytes;
    while (i < static_cast<int>(layers.size())) {
      int j = i;
      while (j + 1 < static_cast<int>(layers.size()) && layers[j + 1].valid - anchor_redo <= bound &&
             layers[j + 1].created_at <= anchor_time + step) {
        ++j;
      }
      Keep({t, j});
      anchor_redo = layers[j].redo;
      anchor_time = layers[j].created_at;
      i = j + 1;
    }
  }

  // Marks the chain of a root needed.
  void MarkChain(const Root& r) {
    for (LayerRef l : ChainOf(tls_, r.snapshot)) {
      TimelinePlan& p = plan_.timelines[l.timeline];
      p.needed[l.index] = true;
      if (l.timeline != r.point_of) p.needed_by_others[l.index] = true;
    }
  }

  bool Mergeable(int t, int i) const {
    return plan_.timelines[t].needed[i] && !tls_[t].layers[i].complete;
  }

  // The newest layers of a run to merge: while an older layer is not much
  // bigger than those above it (size-tiered, so a big layer is not
  // rewritten for a few small ones: it stays, a snapshot point more).
  int TieredStart(int t, int first, int last) const {
    const auto& layers = tls_[t].layers;
    uint64_t acc = layers[last].bytes;
    int s = last;
    for (int j = last - 1; j >= first; --j) {
      if (layers[j].bytes > 4 * acc) break;
      acc += layers[j].bytes;
      s = j;
    }
    return s;
  }

  // Whether layers [first, last] weigh image_gain_ratio of the complete
  // layer their reads end at (merging them then saves about that much).
  bool Heavy(int t, int first, int last) const {
    const std::vector<LayerRef> chain = ChainOf(tls_, {t, last});
    const PlanLayer& bottom = At(tls_, chain.back());
    if (!bottom.complete) return false;
    uint64_t bytes = 0;
    for (int i = first; i <= last; ++i) bytes += tls_[t].layers[i].bytes;
    return static_cast<double>(bytes) >= compaction_.image_gain_ratio * static_cast<double>(bottom.bytes);
  }

  void PlanMerges(int t) {
    const int n = static_cast<int>(tls_[t].layers.size());
    const auto& kept = plan_.timelines[t].kept;
    for (int i = 0; i < n;) {
      if (!Mergeable(t, i)) {
        ++i;
        continue;
      }
      int first = i;
      while (i < n && Mergeable(t, i) && !kept[i]) ++i;
      int last = i - 1;
      if (i < n && Mergeable(t, i)) last = i++;  // the kept layer the run merges into
      if (last - first + 1 < 2) continue;
      // The tail grows with every snapshot: merge it in batches, or once it
      // weighs enough that overlapping pages would waste space.
      if (last == n - 1 && static_cast<size_t>(last - first + 1) < compaction_.max_unmerged_layers &&
          !Heavy(t, first, last)) {
        continue;
      }
      first = TieredStart(t, first, last);
      if (first < last) plan_.steps.push_back({CompactionStep::Kind::kMerge, t, first, last});
    }
  }

  void PlanDepthImage(int t) {
    const auto& layers = tls_[t].layers;
    for (int i = 0; i < static_cast<int>(layers.size()); ++i) {
      if (!plan_.timelines[t].kept[i] || layers[i].complete) continue;
      if (ChainOf(tls_, {t, i}).size() > compaction_.max_read_depth) {
        plan_.steps.push_back({CompactionStep::Kind::kImage, t, i, i});
        return;
      }
    }
  }

  // An image at the horizon's snapshot, when it would let GC remove enough:
  // the layers below it that only chains through it need, not counting the
  // complete layer at the bottom (the new image takes its place: a
  // replacement, not a gain).
  void PlanHorizonImage(int t) {
    auto s = NewestAt(tls_, t, plan_.timelines[t].horizon);
    if (!s || s->timeline != t || At(tls_, *s).complete) return;
    std::vector<LayerRef> chain = ChainOf(tls_, *s);
    const PlanLayer& bottom = At(tls_, chain.back());
    if (!bottom.complete) return;
    std::vector<std::vector<bool>> still(tls_.size());
    for (size_t i = 0; i < tls_.size(); ++i) still[i].assign(tls_[i].layers.size(), false);
    for (const Root& r : roots_) {
      for (LayerRef l : ChainOf(tls_, r.snapshot)) {
        if (l == *s) break;
        still[l.timeline][l.index] = true;
      }
    }
    uint64_t gain = 0;
    for (size_t k = 1; k + 1 < chain.size(); ++k) {
      if (!still[chain[k].timeline][chain[k].index]) gain += At(tls_, chain[k]).bytes;
    }
    if (static_cast<double>(gain) >= compaction_.image_gain_ratio * static_cast<double>(bottom.bytes)) {
      plan_.steps.push_back({CompactionStep::Kind::kImage, t, s->index, s->index});
    }
  }

  const Timelines& tls_;
  const RetentionPolicy retention_;
  const CompactionPolicy compaction_;
  const int64_t now_;
  HistoryPlan plan_;
  std::vector<Root> roots_;
  std::map<int, std::vector<int>> children_;
};

}  // namespace

std::optional<LayerRef> NewestAt(const Timelines& tls, int t, Lsn x) {
  while (t >= 0) {
    const auto& layers = tls[t].layers;
    auto it = std::upper_bound(layers.begin(), layers.end(), x, [](Lsn v, const PlanLayer& l) { return v < l.valid; });
    if (it != layers.begin()) return LayerRef{t, static_cast<int>(it - layers.begin()) - 1};
    if (tls[t].parent < 0) return std::nullopt;
    x = std::min(x, tls[t].branch_lsn);
    t = tls[t].parent;
  }
  return std::nullopt;
}

std::vector<LayerRef> ChainOf(const Timelines& tls, LayerRef s) {
  std::vector<LayerRef> out;
  for (;;) {
    for (int i = s.index; i >= 0; --i) {
      out.push_back({s.timeline, i});
      if (tls[s.timeline].layers[i].complete) return out;
    }
    const PlanTimeline& tl = tls[s.timeline];
    if (tl.parent < 0) return out;
    auto below = NewestAt(tls, tl.parent, tl.branch_lsn);
    if (!below) return out;
    s = *below;
  }
}

Lsn Horizon(const PlanTimeline& tl, const RetentionPolicy& retention, int64_t now) {
  const auto& layers = tl.layers;
  const Lsn lower = tl.parent >= 0 ? tl.branch_lsn : (layers.empty() ? Lsn(0) : layers.front().valid);
  Lsn h = lower;
  for (auto it = layers.rbegin(); it != layers.rend(); ++it) {
    if (it->created_at <= now - retention.window_seconds) {
      h = std::max(lower, it->valid);
      break;
    }
  }
  if (retention.window_wal_bytes > 0) {
    const uint64_t end = tl.end_of_wal.value;
    const Lsn target(end > retention.window_wal_bytes ? end - retention.window_wal_bytes : 0);
    Lsn by_bytes = lower;
    for (auto it = layers.rbegin(); it != layers.rend(); ++it) {
      if (it->valid <= target) {
        by_bytes = std::max(lower, it->valid);
        break;
      }
    }
    h = std::min(h, by_bytes);
  }
  return std::max(h, tl.gc_cutoff);
}

HistoryPlan PlanHistory(const Timelines& tls, const RetentionPolicy& retention, const CompactionPolicy& compaction,
                        int64_t now) {
  return Planner(tls, retention, compaction, now).Run();
}

}  // namespace zenith::pageserver
