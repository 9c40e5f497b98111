// fs/prewarm.h: the hot list's format (runs of used blocks), reading it
// back as a hint (bad lines skipped), cutting it to the files a mount has,
// and what a segment records as used.
#include "fs/prewarm.h"

#include <gtest/gtest.h>

#include "common/file_util.h"
#include "common/pg_abi.h"
#include "fs/segment.h"
#include "tests/harness/temp_dir.h"

namespace zenith::fs {
namespace {

const RelTag kRel{1663, 5, 16384, ForkNumber::kMain};

TEST(HotList, UsedBlocksBecomeRunsAndReadBack) {
  std::map<RelSegment, std::vector<uint32_t>> used = {{{kRel, 0}, {0, 1, 2, 7, 9, 10}}, {{kRel, 1}, {3}}};
  const std::string text = FormatHotList(used);
  EXPECT_EQ(text, "base/5/16384 0 3\nbase/5/16384 7 1\nbase/5/16384 9 2\nbase/5/16384.1 3 1\n");
  const std::vector<HotRun> runs = ParseHotList(text);
  ASSERT_EQ(runs.size(), 4u);
  EXPECT_EQ(runs[0], (HotRun{"base/5/16384", 0, 3}));
  EXPECT_EQ(runs[3], (HotRun{"base/5/16384.1", 3, 1}));
}

TEST(HotList, ItIsAHintBadLinesAreSkipped) {
  const auto runs = ParseHotList(
      "base/5/16384 0 3\n"
      "garbage\n"
      "base/5/16384 -1 3\n"
      "base/5/16384 4 0\n"
      "base/5/16384 4 99999999999\n"
      "pg_control 0 1\n"
      "base/5/16384 1 2 extra\n"
      "\n"
      "base/5/16385 8 8");
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[1], (HotRun{"base/5/16385", 8, 8}));
}

TEST(HotList, RunsAreCutToTheFilesAMountHasInFileOrder) {
  const uint64_t bs = kZenithPgAbi.blcksz;
  const std::vector<HotRun> runs = {{"base/5/2", 0, 10}, {"base/5/1", 5, 10}, {"base/5/3", 0, 1}, {"base/5/1", 0, 2}};
  const auto within = RunsWithin(runs, {{"base/5/1", 8 * bs}, {"base/5/2", 20 * bs}});
  ASSERT_EQ(within.size(), 3u);
  EXPECT_EQ(within[0], (HotRun{"base/5/1", 0, 2}));
  EXPECT_EQ(within[1], (HotRun{"base/5/1", 5, 3})) << "cut to the file's 8 blocks";
  EXPECT_EQ(within[2], (HotRun{"base/5/2", 0, 10}));
}

TEST(HotList, SavedAtomicallyAndAnEmptyUseKeepsTheOldList) {
  testing::TempDir dir("hot-list");
  const std::string path = dir.Sub("hot-blocks");
  ASSERT_TRUE(SaveHotList(path, {{{kRel, 0}, {4, 5}}}).ok());
  EXPECT_EQ(ReadFileToString(path).value_or(""), "base/5/16384 4 2\n");
  {
    HotListKeeper keeper(path, [] { return std::map<RelSegment, std::vector<uint32_t>>{}; });
  }
  EXPECT_EQ(ReadFileToString(path).value_or(""), "base/5/16384 4 2\n") << "a mount that used nothing";
  {
    HotListKeeper keeper(path, [] { return std::map<RelSegment, std::vector<uint32_t>>{{{kRel, 0}, {1}}}; });
  }
  EXPECT_EQ(ReadFileToString(path).value_or(""), "base/5/16384 1 1\n") << "saved once more at the end";
}

TEST(HotList, ASegmentRecordsWhatWasUsed) {
  Segment seg({kRel, 0}, 100);
  EXPECT_TRUE(seg.Used().empty());
  seg.NoteUsed(3, 2);
  seg.NoteUsed(10, 1);
  seg.NoteUsed(4, 1);
  EXPECT_EQ(seg.Used(), (std::vector<uint32_t>{3, 4, 10}));
}

}  // namespace
}  // namespace zenith::fs
