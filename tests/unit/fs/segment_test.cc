// Segment state (remote limit, local and dirty blocks), without FUSE.
#include "fs/segment.h"

#include <gtest/gtest.h>

#include "common/relation_path.h"

namespace zenith::fs {
namespace {

using std::vector;

RelSegment Seg(Oid rel, uint32_t segno = 0) { return RelSegment{RelTag{1663, 5, rel, ForkNumber::kMain}, segno}; }

TEST(FsBlockSet, InsertsErasesAndListsInOrder) {
  BlockSet set;
  EXPECT_TRUE(set.empty());
  for (uint32_t b : {200u, 3u, 64u, 63u, 131071u}) set.Insert(b);
  EXPECT_EQ(set.ToVector(), (vector<uint32_t>{3, 63, 64, 200, 131071}));
  EXPECT_TRUE(set.Contains(64));
  EXPECT_FALSE(set.Contains(65));
  set.EraseFrom(64);
  EXPECT_EQ(set.ToVector(), (vector<uint32_t>{3, 63}));
  set.EraseFrom(0);
  EXPECT_TRUE(set.empty());
}

TEST(FsSegment, BlocksBelowTheRemoteLimitAreRemoteUntilWritten) {
  Segment seg(Seg(16384), 4);
  EXPECT_EQ(seg.RemoteBlocks(0, 6), (vector<uint32_t>{0, 1, 2, 3}));
  seg.MarkWritten(1, 2);
  EXPECT_EQ(seg.RemoteBlocks(0, 6), (vector<uint32_t>{0, 3}));
  EXPECT_FALSE(seg.IsRemote(4));  // past the limit: the scratch holds it (as a hole or data)
  EXPECT_EQ(seg.TakeDirty(), (vector<uint32_t>{1, 2}));
  EXPECT_TRUE(seg.TakeDirty().empty());
}

TEST(FsSegment, TruncationLowersTheLimitAndForgetsBlocksPastTheEnd) {
  Segment seg(Seg(16384), 10);
  seg.MarkWritten(2, 1);
  seg.MarkWritten(8, 2);
  seg.Truncate(5 * 8192 + 100);  // block 5 is cut in the middle: its caller made it local
  EXPECT_EQ(seg.remote_limit(), 5u);
  EXPECT_EQ(seg.TakeDirty(), (vector<uint32_t>{2}));
  seg.Truncate(20 * 8192);  // extension changes nothing
  EXPECT_EQ(seg.remote_limit(), 5u);
  EXPECT_EQ(seg.RemoteBlocks(0, 20), (vector<uint32_t>{0, 1, 3, 4}));
}

TEST(FsSegment, SegmentNumberGivesRelationBlocks) {
  Segment seg(Seg(16384, 2), 0);
  EXPECT_EQ(seg.RelationBlock(7), 2 * BlocksPerSegment() + 7);
}

TEST(FsSegment, UnlinkedSegmentReportsNoDirtyBlocks) {
  Segment seg(Seg(16384), 0);
  seg.MarkWritten(0, 3);
  seg.Unlink();
  seg.MarkWritten(5, 1);
  EXPECT_TRUE(seg.TakeDirty().empty());
  EXPECT_FALSE(seg.linked());
}

}  // namespace
}  // namespace zenith::fs
