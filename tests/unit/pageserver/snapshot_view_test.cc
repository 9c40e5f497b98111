// SnapshotView: which layer a page comes from (docs/design.md §6). The
// newest layer holding a page wins; a page a layer does not hold falls
// through to older layers only below that layer's floor for the relation;
// at or above the floor, or when the layer has no such relation, it reads
// as zeros; sizes come from the newest layer alone.
#include <fcntl.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <array>

#include "common/file_util.h"
#include "pageserver/layers/layer_format.h"
#include "pageserver/layers/layer_writer.h"
#include "pageserver/layers/snapshot_view.h"
#include "tests/harness/temp_dir.h"

namespace zenith::pageserver {
namespace {

using zenith::testing::TempDir;

const RelTag kA{1663, 5, 16384, ForkNumber::kMain};
const RelTag kB{1663, 5, 16385, ForkNumber::kMain};

std::vector<uint8_t> Filled(char c) { return std::vector<uint8_t>(kPageSize, static_cast<uint8_t>(c)); }

struct TestPage {
  RelTag rel;
  uint32_t block;
  char fill;
};
struct TestRelation {
  RelTag rel;
  RelationInfo info;
};

class SnapshotViewTest : public ::testing::Test {
 protected:
  // A layer valid at `valid` holding `pages` and exactly `relations`.
  std::shared_ptr<const LayerFile> Layer(uint64_t valid, const std::vector<TestPage>& pages,
                                         const std::vector<TestRelation>& relations) {
    auto writer = LayerWriter::Create(dir_.path(), *TimelineId::Parse("000102030405060708090a0b0c0d0e0f"));
    EXPECT_TRUE(writer.ok());
    for (const auto& p : pages) EXPECT_TRUE((*writer)->AddPage(p.rel, p.block, Filled(p.fill)).ok());
    for (const auto& r : relations) EXPECT_TRUE((*writer)->SetRelation(r.rel, r.info).ok());
    auto path = (*writer)->Finish(SnapshotLsns{Lsn(valid), Lsn(valid), Lsn(valid)});
    EXPECT_TRUE(path.ok()) << path.status().ToString();
    auto layer = LayerFile::Open(*path);
    EXPECT_TRUE(layer.ok()) << layer.status().ToString();
    return *layer;
  }

  // The first byte of the page the view returns, '0' for a zero page, or
  // the status code's name.
  static std::string Read(const SnapshotView& view, const RelTag& rel, uint32_t block) {
    auto page = view.GetPage(rel, block);
    if (!page.ok()) return std::string(StatusCodeName(page.status().code()));
    if (std::ranges::all_of(*page, [](uint8_t b) { return b == 0; })) return "0";
    return std::string(1, static_cast<char>((*page)[0]));
  }
  static std::string ReadAll(const SnapshotView& view, const RelTag& rel, uint32_t blocks) {
    std::string out;
    for (uint32_t b = 0; b < blocks; ++b) out += Read(view, rel, b);
    return out;
  }

  TempDir dir_{"snapshot-view"};
};

TEST_F(SnapshotViewTest, TheNewestLayerHoldingAPageWins) {
  auto l0 = Layer(100, {{kA, 0, 'a'}, {kA, 1, 'a'}, {kA, 2, 'a'}, {kA, 3, 'a'}}, {{kA, {4, 0}}});
  auto l1 = Layer(200, {{kA, 1, 'b'}}, {{kA, {4, 4}}});
  auto l2 = Layer(300, {{kA, 2, 'c'}, {kA, 1, 'c'}}, {{kA, {4, 4}}});
  EXPECT_EQ(ReadAll(SnapshotView(Lsn(300), {l2, l1, l0}), kA, 4), "acca");
  EXPECT_EQ(ReadAll(SnapshotView(Lsn(250), {l1, l0}), kA, 4), "abaa");
  EXPECT_EQ(ReadAll(SnapshotView(Lsn(100), {l0}), kA, 4), "aaaa");
}

TEST_F(SnapshotViewTest, BlocksAtOrAboveTheFloorThatTheLayerLacksReadAsZeros) {
  auto l0 = Layer(100, {{kA, 0, 'a'}, {kA, 1, 'a'}, {kA, 2, 'a'}, {kA, 3, 'a'}}, {{kA, {4, 0}}});
  // Truncated to one block and extended again to four, of which only block 2 was written.
  auto l1 = Layer(200, {{kA, 2, 'b'}}, {{kA, {4, 1}}});
  EXPECT_EQ(ReadAll(SnapshotView(Lsn(200), {l1, l0}), kA, 4), "a0b0");
}

TEST_F(SnapshotViewTest, AFloorInAnOlderLayerStopsTheSearchThere) {
  auto l0 = Layer(100, {{kA, 0, 'a'}, {kA, 1, 'a'}, {kA, 2, 'a'}}, {{kA, {3, 0}}});
  auto l1 = Layer(200, {}, {{kA, {3, 1}}});  // block 1 and 2 cut away and re-extended with zeros
  auto l2 = Layer(300, {{kA, 0, 'c'}}, {{kA, {3, 3}}});
  EXPECT_EQ(ReadAll(SnapshotView(Lsn(300), {l2, l1, l0}), kA, 3), "c00");
}

TEST_F(SnapshotViewTest, ADroppedRelationIsGoneAndARecreatedOneDoesNotSeeItsPast) {
  auto l0 = Layer(100, {{kA, 0, 'a'}, {kA, 1, 'a'}, {kB, 0, 'b'}}, {{kA, {2, 0}}, {kB, {1, 0}}});
  auto l1 = Layer(200, {}, {{kB, {1, 1}}});  // A dropped
  SnapshotView dropped(Lsn(200), {l1, l0});
  EXPECT_EQ(dropped.RelationSize(kA), std::nullopt);
  EXPECT_EQ(Read(dropped, kA, 0), StatusCodeName(StatusCode::kNotFound));
  EXPECT_EQ(Read(dropped, kB, 0), "b");

  auto l2 = Layer(300, {{kA, 1, 'n'}}, {{kA, {2, 0}}, {kB, {1, 1}}});  // A created anew
  SnapshotView recreated(Lsn(300), {l2, l1, l0});
  EXPECT_EQ(ReadAll(recreated, kA, 2), "0n") << "block 0 of the old relation must not show through";
}

TEST_F(SnapshotViewTest, ARelationMissingFromAnOlderLayerReadsAsZerosBelowTheFloor) {
  auto l0 = Layer(100, {{kB, 0, 'b'}}, {{kB, {1, 0}}});
  auto l1 = Layer(200, {{kA, 1, 'x'}}, {{kA, {2, 2}}, {kB, {1, 1}}});
  EXPECT_EQ(ReadAll(SnapshotView(Lsn(200), {l1, l0}), kA, 2), "0x");
}

TEST_F(SnapshotViewTest, SizesComeFromTheNewestLayer) {
  auto l0 = Layer(100, {{kA, 0, 'a'}, {kA, 5, 'a'}}, {{kA, {10, 0}}});
  auto l1 = Layer(200, {}, {{kA, {3, 3}}});
  SnapshotView view(Lsn(200), {l1, l0});
  EXPECT_EQ(view.RelationSize(kA), 3u);
  EXPECT_EQ(Read(view, kA, 0), "a");
  EXPECT_EQ(Read(view, kA, 1), "0") << "a hole of layer 0 is zeros";
  auto past = view.GetPage(kA, 5);
  EXPECT_EQ(past.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(past.status().message().find("past the end"), std::string::npos) << past.status().message();
  EXPECT_EQ(SnapshotView(Lsn(100), {l0}).RelationSize(kA), 10u);
}

TEST_F(SnapshotViewTest, AnEmptyViewHasNoRelations) {
  SnapshotView view(Lsn(50), {});
  EXPECT_EQ(view.newest(), nullptr);
  EXPECT_EQ(view.RelationSize(kA), std::nullopt);
  auto page = view.GetPage(kA, 0);
  EXPECT_EQ(page.status().code(), StatusCode::kNotFound);
  EXPECT_NE(page.status().message().find("does not exist at 0/32"), std::string::npos) << page.status().message();
}

TEST_F(SnapshotViewTest, ADamagedPageIsCorruptionNotAFallThrough) {
  auto l0 = Layer(100, {{kA, 0, 'a'}}, {{kA, {1, 0}}});
  auto l1 = Layer(200, {{kA, 0, 'b'}}, {{kA, {1, 1}}});
  {
    auto fd = OpenFile(l1->path(), O_WRONLY);
    ASSERT_TRUE(fd.ok());
    const uint8_t flipped = 'c';
    ASSERT_TRUE(PwriteFull(fd->get(), std::span(&flipped, 1), layer_format::kHeaderSize + 100, l1->path()).ok());
  }
  auto page = SnapshotView(Lsn(200), {l1, l0}).GetPage(kA, 0);
  EXPECT_EQ(page.status().code(), StatusCode::kCorruption);
  EXPECT_NE(page.status().message().find(l1->path()), std::string::npos);
}

TEST_F(SnapshotViewTest, ZeroPageIsOnePageOfZeros) {
  EXPECT_EQ(ZeroPage().size(), kPageSize);
  EXPECT_TRUE(std::ranges::all_of(ZeroPage(), [](uint8_t b) { return b == 0; }));
}

}  // namespace
}  // namespace zenith::pageserver
