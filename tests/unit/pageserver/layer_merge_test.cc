// Merging layers (layer_merge.h): over random stacks of layers, with every
// mix of floors, truncations, dropped and recreated relations and pages
// past the end, a read of the merged layer (with what lay below) returns
// exactly what a read of the stack did; merging down to a complete layer
// gives a complete image.
#include "pageserver/layers/layer_merge.h"

#include <fcntl.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "common/byte_io.h"
#include "common/file_util.h"
#include "pageserver/layers/layer_writer.h"
#include "pageserver/layers/snapshot_view.h"
#include "tests/harness/temp_dir.h"

namespace zenith::pageserver {
namespace {

using zenith::testing::TempDir;
using Layers = std::vector<std::shared_ptr<const LayerFile>>;

const TimelineId kTimeline = *TimelineId::Parse("0f0e0d0c0b0a09080706050403020100");
const std::vector<RelTag> kRels = {{1663, 5, 100, ForkNumber::kMain},
                                   {1663, 5, 100, ForkNumber::kFsm},
                                   {1663, 5, 101, ForkNumber::kMain},
                                   {1664, 0, 102, ForkNumber::kMain}};
constexpr uint32_t kMaxBlocks = 24;

// The page of layer `layer`, block `block`: every byte names both.
std::vector<uint8_t> PageOf(int layer, uint32_t block) {
  std::vector<uint8_t> page(kPageSize, static_cast<uint8_t>(1 + layer));
  page[1] = static_cast<uint8_t>(block);
  return page;
}

class LayerMergeTest : public ::testing::Test {
 protected:
  // A random layer: each relation exists or not, with a random size and
  // floor (0 everywhere when `complete`), and random pages, some past the
  // relation's end.
  std::shared_ptr<const LayerFile> RandomLayer(int id, bool complete) {
    auto writer = LayerWriter::Create(dir_.path(), kTimeline);
    EXPECT_TRUE(writer.ok());
    for (const RelTag& rel : kRels) {
      if (rng_() % 5 == 0) continue;  // absent: dropped, or not created yet
      const uint32_t nblocks = static_cast<uint32_t>(rng_() % kMaxBlocks);
      const uint32_t floor = complete ? 0 : static_cast<uint32_t>(rng_() % (nblocks + 1));
      for (uint32_t b = 0; b < nblocks + 2; ++b) {
        if (rng_() % 3 == 0) {
          EXPECT_TRUE((*writer)->AddPage(rel, b, PageOf(id, b)).ok());
        }
      }
      EXPECT_TRUE((*writer)->SetRelation(rel, {nblocks, floor}).ok());
    }
    const uint64_t valid = 1000 + static_cast<uint64_t>(id) * 10;
    auto path = (*writer)->Finish(LayerMeta({Lsn(valid), Lsn(valid), Lsn(valid)}, Lsn(valid - 10), complete, 0));
    EXPECT_TRUE(path.ok()) << path.status().ToString();
    auto layer = LayerFile::Open(*path);
    EXPECT_TRUE(layer.ok()) << layer.status().ToString();
    return *layer;
  }

  // What a view returns for every block of every relation, as text.
  static std::string ReadAll(const SnapshotView& view) {
    std::string out;
    for (const RelTag& rel : kRels) {
      auto size = view.RelationSize(rel);
      out += rel.ToString() + (size ? " size " + std::to_string(*size) : " absent") + ":";
      for (uint32_t b = 0; b < kMaxBlocks + 2; ++b) {
        auto page = view.GetPage(rel, b);
        if (!page.ok()) {
          out += " " + std::string(StatusCodeName(page.status().code()));
        } else if (std::all_of(page->begin(), page->end(), [](uint8_t c) { return c == 0; })) {
          out += " 0";
        } else {
          out += " " + std::to_string((*page)[0] - 1) + "/" + std::to_string((*page)[1]);
        }
      }
      out += "\n";
    }
    return out;
  }

  TempDir dir_{"layer-merge"};
  TempDir out_{"layer-merged"};  // merged layers: a one-layer stack merges into its own name
  std::mt19937_64 rng_{0x3e46e};
};

TEST_F(LayerMergeTest, AMergedLayerReadsLikeTheStackItReplaces) {
  int next_id = 0;
  for (int round = 0; round < 150; ++round) {
    // Below the stack: nothing, an incomplete layer, or a complete one.
    std::vector<std::shared_ptr<const LayerFile>> below;
    const int below_kind = round % 3;
    if (below_kind > 0) below.push_back(RandomLayer(next_id++, below_kind == 2));
    std::vector<std::shared_ptr<const LayerFile>> stack;  // newest first
    const int depth = 1 + static_cast<int>(rng_() % 6);
    for (int i = 0; i < depth; ++i) stack.insert(stack.begin(), RandomLayer(next_id++, false));

    const LayerFile& top = *stack.front();
    const LayerMeta meta(top.lsns(), stack.back()->meta().start, false, 7);
    auto path = WriteMergedLayer(stack, out_.path(), kTimeline, meta);
    ASSERT_TRUE(path.ok()) << path.status().ToString();
    auto merged = LayerFile::Open(*path);
    ASSERT_TRUE(merged.ok()) << merged.status().ToString();
    EXPECT_EQ((*merged)->lsns(), top.lsns());
    EXPECT_EQ((*merged)->meta().start, stack.back()->meta().start);
    EXPECT_EQ((*merged)->meta().created_at, 7);
    EXPECT_EQ(AsStringView((*merged)->files_tar()), AsStringView(top.files_tar()));

    std::vector<std::shared_ptr<const LayerFile>> original = stack, replaced = {*merged};
    original.insert(original.end(), below.begin(), below.end());
    replaced.insert(replaced.end(), below.begin(), below.end());
    ASSERT_EQ(ReadAll(SnapshotView(top.lsns().valid, replaced)), ReadAll(SnapshotView(top.lsns().valid, original)))
        << "round " << round << ", " << depth << " layers";
  }
}

TEST_F(LayerMergeTest, MergingDownToACompleteLayerMakesAnImage) {
  int next_id = 0;
  for (int round = 0; round < 60; ++round) {
    std::vector<std::shared_ptr<const LayerFile>> chain = {RandomLayer(next_id++, true)};
    const int depth = static_cast<int>(rng_() % 5);
    for (int i = 0; i < depth; ++i) chain.insert(chain.begin(), RandomLayer(next_id++, false));
    const LayerFile& top = *chain.front();
    auto path = WriteMergedLayer(chain, out_.path(), kTimeline, LayerMeta(top.lsns(), top.meta().start, true, 0));
    ASSERT_TRUE(path.ok()) << path.status().ToString();
    auto image = LayerFile::Open(*path);
    ASSERT_TRUE(image.ok()) << image.status().ToString();
    EXPECT_TRUE((*image)->meta().image);
    EXPECT_TRUE((*image)->complete());
    ASSERT_EQ(ReadAll(SnapshotView(top.lsns().valid, {*image})), ReadAll(SnapshotView(top.lsns().valid, chain)))
        << "round " << round;
  }
}

TEST_F(LayerMergeTest, AnImageNeedsACompleteLayerAtTheBottom) {
  auto layer = RandomLayer(1, false);
  auto path = WriteMergedLayer(Layers{layer}, dir_.path(), kTimeline, LayerMeta(layer->lsns(), Lsn(0), true, 0));
  EXPECT_EQ(path.status().code(), StatusCode::kInternal);
}

// A layer holding `blocks` pages of kRels[0] with the given size and floor.
std::shared_ptr<const LayerFile> FixedLayer(const std::string& dir, int id, uint32_t pages, RelationInfo info) {
  auto writer = LayerWriter::Create(dir, kTimeline);
  EXPECT_TRUE(writer.ok());
  for (uint32_t b = 0; b < pages; ++b) EXPECT_TRUE((*writer)->AddPage(kRels[0], b, PageOf(id, b)).ok());
  EXPECT_TRUE((*writer)->SetRelation(kRels[0], info).ok());
  const Lsn valid(1000 + static_cast<uint64_t>(id));
  auto path = (*writer)->Finish(LayerMeta({valid, valid, valid}, Lsn(0), false, 0));
  EXPECT_TRUE(path.ok());
  return LayerFile::Open(*path).value();
}

TEST_F(LayerMergeTest, ACorruptInputPageFailsTheMergeAndLeavesNothing) {
  auto older = FixedLayer(dir_.path(), 1, 2, {2, 0});
  auto newer = FixedLayer(dir_.path(), 2, 0, {2, 2});  // reads fall through to the older pages
  {
    auto fd = OpenFile(older->path(), O_RDWR);
    ASSERT_TRUE(fd.ok());
    uint8_t byte = 0x5a;
    ASSERT_TRUE(PwriteFull(fd->get(), std::span(&byte, 1), 4096 + 100, older->path()).ok());
  }
  auto before = ListDirectory(dir_.path()).value();
  auto path = WriteMergedLayer(Layers{newer, older}, dir_.path(), kTimeline, LayerMeta(newer->lsns(), Lsn(0), true, 0));
  EXPECT_EQ(path.status().code(), StatusCode::kCorruption) << path.status().ToString();
  EXPECT_NE(path.status().message().find(older->path()), std::string::npos) << path.status().message();
  EXPECT_EQ(ListDirectory(dir_.path()).value(), before) << "no layer and no temp file";
}

TEST_F(LayerMergeTest, ACancelledMergeLeavesNothing) {
  auto big = FixedLayer(dir_.path(), 1, 600, {600, 0});  // enough pages for the cancel check to come up
  auto before = ListDirectory(dir_.path()).value();
  std::atomic<bool> cancel{true};
  int progress = 0;
  MergeOptions options{&cancel, [&] { ++progress; }};
  auto path = WriteMergedLayer(Layers{big}, dir_.path(), kTimeline, LayerMeta(big->lsns(), Lsn(0), true, 0), options);
  EXPECT_EQ(path.status().code(), StatusCode::kBusy);
  EXPECT_EQ(progress, 1);
  EXPECT_EQ(ListDirectory(dir_.path()).value(), before);
}

}  // namespace
}  // namespace zenith::pageserver
