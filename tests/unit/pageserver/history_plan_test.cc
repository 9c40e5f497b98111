// Planning compaction and GC (history_plan.h) over described timelines:
// which snapshot serves a point, what a read visits, where the window
// starts, what GC keeps, and what compaction merges or images.
#include "pageserver/repo/history_plan.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace zenith::pageserver {
namespace {

constexpr int64_t kNow = 1'800'000'000;
constexpr uint64_t kMiB = 1 << 20;

// A layer at `valid` (in MiB of WAL), starting where the previous one ended,
// its redo 1 MiB before valid. Deltas weigh 100 bytes, images a million,
// unless told otherwise.
PlanLayer Layer(uint64_t valid_mib, int64_t age_seconds = 0, bool complete = false, uint64_t bytes = 0) {
  if (bytes == 0) bytes = complete ? 1'000'000 : 100;
  PlanLayer l;
  l.valid = Lsn(valid_mib * kMiB);
  l.redo = Lsn(valid_mib * kMiB - kMiB / 2);
  l.complete = complete;
  l.created_at = kNow - age_seconds;
  l.bytes = bytes;
  return l;
}

PlanTimeline Timeline(std::vector<PlanLayer> layers, int parent = -1, uint64_t branch_mib = 0) {
  PlanTimeline t;
  t.parent = parent;
  t.branch_lsn = Lsn(branch_mib * kMiB);
  Lsn start = parent >= 0 ? t.branch_lsn : Lsn(0);
  for (auto& l : layers) {
    l.start = start;
    start = l.valid;
  }
  t.layers = std::move(layers);
  t.end_of_wal = t.layers.empty() ? t.branch_lsn + kMiB : t.layers.back().valid + kMiB;
  return t;
}

Lsn Mib(uint64_t m) { return Lsn(m * kMiB); }

RetentionPolicy Window(int64_t seconds) { return {seconds, 0}; }

std::vector<int> Indexes(const std::vector<bool>& flags, bool value = true) {
  std::vector<int> out;
  for (size_t i = 0; i < flags.size(); ++i) {
    if (flags[i] == value) out.push_back(static_cast<int>(i));
  }
  return out;
}

std::vector<LayerRef> Refs(std::initializer_list<std::pair<int, int>> refs) {
  std::vector<LayerRef> out;
  for (auto [t, i] : refs) out.push_back({t, i});
  return out;
}

TEST(HistoryPlanTest, NewestAtFollowsTheAncestryBelowTheBranchPoint) {
  std::vector<PlanTimeline> tls = {Timeline({Layer(10, 0, true), Layer(20), Layer(30)}),
                                   Timeline({Layer(28), Layer(40)}, 0, 25)};
  EXPECT_EQ(NewestAt(tls, 0, Mib(9)), std::nullopt);
  EXPECT_EQ(NewestAt(tls, 0, Mib(10)), (LayerRef{0, 0}));
  EXPECT_EQ(NewestAt(tls, 0, Mib(29)), (LayerRef{0, 1}));
  EXPECT_EQ(NewestAt(tls, 0, Mib(99)), (LayerRef{0, 2}));
  EXPECT_EQ(NewestAt(tls, 1, Mib(27)), (LayerRef{0, 1})) << "before its first layer, the parent's at the branch point";
  EXPECT_EQ(NewestAt(tls, 1, Mib(35)), (LayerRef{1, 0}));
  EXPECT_EQ(ChainOf(tls, {1, 1}), Refs({{1, 1}, {1, 0}, {0, 1}, {0, 0}})) << "never the parent's layer past the branch";
  EXPECT_EQ(ChainOf(tls, {0, 2}), Refs({{0, 2}, {0, 1}, {0, 0}}));
}

TEST(HistoryPlanTest, AReadStopsAtTheFirstCompleteLayer) {
  std::vector<PlanTimeline> tls = {Timeline({Layer(10, 0, true), Layer(20), Layer(30, 0, true), Layer(40)})};
  EXPECT_EQ(ChainOf(tls, {0, 3}), Refs({{0, 3}, {0, 2}}));
  EXPECT_EQ(ChainOf(tls, {0, 1}), Refs({{0, 1}, {0, 0}}));
}

TEST(HistoryPlanTest, TheWindowStartsAtTheNewestSnapshotStoredBeforeIt) {
  PlanTimeline main = Timeline({Layer(10, 9000, true), Layer(20, 5000), Layer(30, 3000), Layer(40, 100)});
  EXPECT_EQ(Horizon(main, Window(4000), kNow), Mib(20)) << "points after it may have been written in the window";
  EXPECT_EQ(Horizon(main, Window(3000), kNow), Mib(30));
  EXPECT_EQ(Horizon(main, Window(0), kNow), Mib(40));
  EXPECT_EQ(Horizon(main, Window(99999), kNow), Mib(10)) << "never before the oldest snapshot";
  main.gc_cutoff = Mib(30);
  EXPECT_EQ(Horizon(main, Window(99999), kNow), Mib(30)) << "what GC removed stays removed";
  main.gc_cutoff = Lsn();
  // A WAL-bytes window keeps more when it reaches further back.
  EXPECT_EQ(Horizon(main, {0, 15 * kMiB}, kNow), Mib(20));
  EXPECT_EQ(Horizon(main, {4000, 1 * kMiB}, kNow), Mib(20)) << "the wider of the two windows";
  PlanTimeline child = Timeline({Layer(50, 100)}, 0, 45);
  EXPECT_EQ(Horizon(child, Window(3000), kNow), Mib(45)) << "a child's history starts at its branch point";
  EXPECT_EQ(Horizon(child, Window(0), kNow), Mib(50));
}

TEST(HistoryPlanTest, GcKeepsTheChainsOfTheWindowAndOfEveryBranchPointAndPin) {
  // main: image 10, deltas 20, 30, image 40, deltas 50, 60; a child at 25;
  // a pin at 30. The window keeps only the newest snapshot.
  std::vector<PlanTimeline> tls = {
      Timeline({Layer(10, 0, true), Layer(20), Layer(30), Layer(40, 0, true), Layer(50), Layer(60)}),
      Timeline({Layer(70)}, 0, 25)};
  auto plan = PlanHistory(tls, Window(0), {}, kNow);
  EXPECT_EQ(plan.timelines[0].horizon, Mib(60));
  EXPECT_EQ(Indexes(plan.timelines[0].needed), (std::vector<int>{0, 1, 3, 4, 5}))
      << "20 serves the child's branch point (down to the image at 10); 30 serves nothing";
  EXPECT_EQ(plan.timelines[0].wal_needed_from, tls[0].layers[1].redo) << "the branch point replays from 20's redo";
  EXPECT_EQ(plan.timelines[1].wal_needed_from, tls[1].layers[0].redo);
  EXPECT_EQ(Indexes(plan.timelines[0].needed_by_others), (std::vector<int>{0, 1}));

  tls[0].pins = {Mib(30)};
  plan = PlanHistory(tls, Window(0), {}, kNow);
  EXPECT_EQ(Indexes(plan.timelines[0].needed), (std::vector<int>{0, 1, 2, 3, 4, 5})) << "a mount reads at 30";
  EXPECT_TRUE(plan.timelines[0].kept[2]);
  EXPECT_EQ(plan.timelines[0].wal_needed_from, tls[0].layers[1].redo) << "the branch point's is older";
  tls[1].pins = {Mib(20)};  // a mount of the child, recovering from its branch point's snapshot
  plan = PlanHistory(tls, Window(0), {}, kNow);
  EXPECT_EQ(plan.timelines[1].wal_needed_from, tls[0].layers[1].redo) << "its recovery replays from there";
  tls[1].page_pins = tls[1].pins;  // it has recovered: pages only
  tls[1].pins.clear();
  plan = PlanHistory(tls, Window(0), {}, kNow);
  EXPECT_EQ(plan.timelines[1].wal_needed_from, tls[1].layers[0].redo);
  EXPECT_TRUE(plan.timelines[0].needed[1]);
}

TEST(HistoryPlanTest, OldLayersGoOnceANewerImageServesEveryPoint) {
  std::vector<PlanTimeline> tls = {
      Timeline({Layer(10, 900, true), Layer(20, 800), Layer(30, 700, true), Layer(40, 10), Layer(50, 5)})};
  auto plan = PlanHistory(tls, Window(100), {}, kNow);
  EXPECT_EQ(plan.timelines[0].horizon, Mib(30));
  EXPECT_EQ(Indexes(plan.timelines[0].needed), (std::vector<int>{2, 3, 4}));
  EXPECT_EQ(plan.timelines[0].wal_needed_from, tls[0].layers[2].redo);
  plan = PlanHistory(tls, Window(1000), {}, kNow);
  EXPECT_EQ(Indexes(plan.timelines[0].needed, false), std::vector<int>{}) << "the whole history is in the window";
  EXPECT_EQ(plan.timelines[0].wal_needed_from, tls[0].layers[0].redo);
}

TEST(HistoryPlanTest, RunsBetweenKeptSnapshotsMergeIntoTheOneAbove) {
  // A child's branch point at 35 keeps 30; the newest (90) is kept; the
  // window (everything) needs all; 10 is the import.
  std::vector<PlanLayer> layers = {Layer(10, 0, true)};
  for (uint64_t v = 20; v <= 90; v += 10) layers.push_back(Layer(v));
  std::vector<PlanTimeline> tls = {Timeline(layers), Timeline({}, 0, 35)};
  CompactionPolicy policy;
  policy.max_unmerged_layers = 4;
  auto plan = PlanHistory(tls, Window(99999), policy, kNow);
  EXPECT_EQ(Indexes(plan.timelines[0].kept), (std::vector<int>{0, 2, 8}));
  ASSERT_EQ(plan.steps.size(), 2u);
  EXPECT_EQ(plan.steps[0], (CompactionStep{CompactionStep::Kind::kMerge, 0, 1, 2})) << "20 into 30";
  EXPECT_EQ(plan.steps[1], (CompactionStep{CompactionStep::Kind::kMerge, 0, 3, 8})) << "40..80 into the newest";

  policy.max_unmerged_layers = 7;
  plan = PlanHistory(tls, Window(99999), policy, kNow);
  ASSERT_EQ(plan.steps.size(), 1u) << "the tail waits for max_unmerged_layers layers";
  EXPECT_EQ(plan.steps[0].last, 2);
}

TEST(HistoryPlanTest, TheNewestLayersMergeOnceTheyWeighHalfAnImage) {
  std::vector<PlanTimeline> tls = {Timeline({Layer(10, 0, true, 1000), Layer(20, 0, false, 300), Layer(30, 0, false, 300)})};
  auto plan = PlanHistory(tls, Window(99999), {}, kNow);
  ASSERT_EQ(plan.steps.size(), 1u) << "600 bytes over an image of 1000";
  EXPECT_EQ(plan.steps[0], (CompactionStep{CompactionStep::Kind::kMerge, 0, 1, 2}));
  tls[0].layers[2].bytes = 100;
  plan = PlanHistory(tls, Window(99999), {}, kNow);
  EXPECT_TRUE(plan.steps.empty()) << "two light layers wait for more";
}

TEST(HistoryPlanTest, ABigLayerIsNotRewrittenForAFewSmallOnes) {
  std::vector<PlanTimeline> tls = {Timeline({Layer(10, 0, true), Layer(20, 0, false, 100000), Layer(30), Layer(40),
                                             Layer(50), Layer(60)})};
  CompactionPolicy policy;
  policy.max_unmerged_layers = 5;
  auto plan = PlanHistory(tls, Window(99999), policy, kNow);
  ASSERT_EQ(plan.steps.size(), 1u);
  EXPECT_EQ(plan.steps[0], (CompactionStep{CompactionStep::Kind::kMerge, 0, 2, 5}));
  // Nor into a small kept one above it: it stays a snapshot of its own.
  tls[0].pins = {Mib(30)};
  plan = PlanHistory(tls, Window(99999), policy, kNow);
  EXPECT_TRUE(plan.steps.empty()) << "[20 (big), 30 (kept)] and a tail of three";
}

TEST(HistoryPlanTest, AnchorsBoundTheWalAPointInTheWindowReplays) {
  std::vector<PlanLayer> layers = {Layer(10, 0, true)};
  for (uint64_t v = 12; v <= 60; v += 2) layers.push_back(Layer(v));
  std::vector<PlanTimeline> tls = {Timeline(layers)};
  CompactionPolicy policy;
  policy.max_replay_wal_bytes = 10 * kMiB;
  auto plan = PlanHistory(tls, Window(99999), policy, kNow);
  std::vector<Lsn> kept;
  for (int i : Indexes(plan.timelines[0].kept)) kept.push_back(tls[0].layers[i].valid);
  ASSERT_GE(kept.size(), 5u);
  for (size_t i = 1; i < kept.size(); ++i) {
    // A point just below the next kept snapshot starts from this one's redo.
    const PlanLayer& from = tls[0].layers[NewestAt(tls, 0, kept[i - 1])->index];
    EXPECT_LE(kept[i] - from.redo, policy.max_replay_wal_bytes) << kept[i].ToString();
  }
}

TEST(HistoryPlanTest, AnchorsSpreadInTimeLetTheHorizonMoveOn) {
  // A snapshot every 10 s for 100 s, little WAL; a window of 40 s keeps
  // one at least every 20 s above the horizon.
  std::vector<PlanLayer> layers = {Layer(1, 1000, true)};
  for (int k = 0; k < 10; ++k) layers.push_back(Layer(2 + k, 100 - 10 * k));
  std::vector<PlanTimeline> tls = {Timeline(layers)};
  auto plan = PlanHistory(tls, Window(40), {}, kNow);
  EXPECT_EQ(plan.timelines[0].horizon, Mib(8)) << "stored 40 s ago";
  std::vector<int64_t> kept_times;
  for (int i : Indexes(plan.timelines[0].kept)) {
    if (tls[0].layers[i].valid >= plan.timelines[0].horizon) kept_times.push_back(tls[0].layers[i].created_at);
  }
  ASSERT_GE(kept_times.size(), 3u);
  for (size_t i = 1; i < kept_times.size(); ++i) EXPECT_LE(kept_times[i] - kept_times[i - 1], 20) << i;
}

TEST(HistoryPlanTest, AKeptSnapshotWhoseReadsVisitTooManyLayersGetsAnImage) {
  std::vector<PlanLayer> layers = {Layer(10, 0, true)};
  for (uint64_t v = 20; v <= 200; v += 10) layers.push_back(Layer(v));
  std::vector<PlanTimeline> tls = {Timeline(layers)};
  for (uint64_t p = 25; p <= 195; p += 10) tls.push_back(Timeline({}, 0, p));  // every layer is a branch point
  CompactionPolicy policy;
  policy.max_read_depth = 6;
  auto plan = PlanHistory(tls, Window(99999), policy, kNow);
  auto image = std::find_if(plan.steps.begin(), plan.steps.end(),
                            [](const auto& s) { return s.kind == CompactionStep::Kind::kImage; });
  ASSERT_NE(image, plan.steps.end());
  EXPECT_EQ(image->first, 6) << "the oldest snapshot whose chain is 7 layers deep";
  tls[0].layers[6].complete = true;
  plan = PlanHistory(tls, Window(99999), policy, kNow);
  image = std::find_if(plan.steps.begin(), plan.steps.end(),
                       [](const auto& s) { return s.kind == CompactionStep::Kind::kImage; });
  ASSERT_NE(image, plan.steps.end());
  EXPECT_EQ(image->first, 12);
}

TEST(HistoryPlanTest, AnImageAtTheHorizonWhenItFreesEnough) {
  // A delta of 60 between the horizon (30) and the image (100) below it.
  std::vector<PlanTimeline> tls = {Timeline({Layer(10, 900, true, 100), Layer(20, 800, false, 60),
                                             Layer(30, 700, false, 30), Layer(40, 5, false, 1)})};
  auto plan = PlanHistory(tls, Window(600), {}, kNow);
  EXPECT_EQ(plan.timelines[0].horizon, Mib(30));
  auto has_image_at = [&](int i) {
    return std::count(plan.steps.begin(), plan.steps.end(), CompactionStep{CompactionStep::Kind::kImage, 0, i, i}) == 1;
  };
  EXPECT_TRUE(has_image_at(2));
  // The old image goes too, but the new one replaces it: only the delta
  // counts, and 40 is not half of 100.
  tls[0].layers[1].bytes = 40;
  plan = PlanHistory(tls, Window(600), {}, kNow);
  EXPECT_FALSE(has_image_at(2));
  tls[0].layers[1].bytes = 60;
  // A branch point at 22 still needs the image and 20's chain: the image
  // would free less.
  tls.push_back(Timeline({}, 0, 22));
  plan = PlanHistory(tls, Window(600), {}, kNow);
  EXPECT_FALSE(has_image_at(2));
}

TEST(HistoryPlanTest, NothingIsMergedThatNoPointNeeds) {
  // 20 and 30 are below the image at 40 and outside the window: GC's, not
  // compaction's.
  std::vector<PlanTimeline> tls = {
      Timeline({Layer(10, 900, true), Layer(20, 900), Layer(30, 900), Layer(40, 900, true), Layer(50, 1)})};
  auto plan = PlanHistory(tls, Window(100), {}, kNow);
  EXPECT_EQ(Indexes(plan.timelines[0].needed), (std::vector<int>{3, 4}));
  EXPECT_TRUE(plan.steps.empty());
}

}  // namespace
}  // namespace zenith::pageserver
