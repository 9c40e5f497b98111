// cli/format.h: byte counts as du -h prints them, plurals, and tables whose
// columns line up.
#include "cli/format.h"

#include <gtest/gtest.h>

namespace zenith::cli {
namespace {

TEST(Format, BytesAreShownIn1024sWithOneDecimalBelowTen) {
  EXPECT_EQ(FormatBytes(0), "0 B");
  EXPECT_EQ(FormatBytes(1023), "1023 B");
  EXPECT_EQ(FormatBytes(1024), "1.0 kB");
  EXPECT_EQ(FormatBytes(1536), "1.5 kB");
  EXPECT_EQ(FormatBytes(10 * 1024), "10 kB");
  EXPECT_EQ(FormatBytes(812 * 1024), "812 kB");
  EXPECT_EQ(FormatBytes(uint64_t{3} << 20), "3.0 MB");
  EXPECT_EQ(FormatBytes(uint64_t{23} << 30), "23 GB");
  EXPECT_EQ(FormatBytes(uint64_t{5} << 40), "5.0 TB");
  EXPECT_EQ(FormatBytes(uint64_t{2048} << 40), "2048 TB") << "TB is the largest unit";
}

TEST(Format, PluralPicksTheWordForTheCount) {
  EXPECT_EQ(Plural(0, "layer", "layers"), "0 layers");
  EXPECT_EQ(Plural(1, "layer", "layers"), "1 layer");
  EXPECT_EQ(Plural(2, "WAL segment", "WAL segments"), "2 WAL segments");
}

TEST(Format, TableColumnsAreAlignedTwoSpacesApartAndTheLastIsNotPadded) {
  EXPECT_EQ(RenderTable({}), "");
  EXPECT_EQ(RenderTable({{"BRANCH", "LSN", "SIZE"}, {"main", "0/16B3A28", "8 MB"}, {"experiment", "0/1", "1.5 GB"}}),
            "BRANCH      LSN        SIZE\n"
            "main        0/16B3A28  8 MB\n"
            "experiment  0/1        1.5 GB\n");
  EXPECT_EQ(RenderTable({{"a", "b"}, {"long"}}), "a     b\nlong\n") << "a short row ends early";
}

TEST(Format, ABackgroundRunSaysNotRunOkOrFailingWithSinceWhenAndWhy) {
  pageserver::BackgroundRun run;
  EXPECT_EQ(DescribeBackgroundRun(run), "not run yet");
  run.last_run = 1764489612;  // 2025-11-30 08:00:12 UTC
  EXPECT_EQ(DescribeBackgroundRun(run), "ok, last run 2025-11-30 08:00:12 UTC");
  run.failing_runs = 3;
  run.failing_since = 1764489000;
  run.problem = "could not write: No space left on device";
  EXPECT_EQ(DescribeBackgroundRun(run),
            "FAILING: 3 runs in a row since 2025-11-30 07:50:00 UTC: could not write: No space left on device");
}

}  // namespace
}  // namespace zenith::cli
