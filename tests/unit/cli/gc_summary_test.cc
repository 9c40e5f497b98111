// cli/gc_summary.h: what `zenith gc` says about each timeline.
#include "cli/gc_summary.h"

#include <gtest/gtest.h>

namespace zenith::cli {
namespace {

pageserver::TimelineGc Collected() {
  pageserver::TimelineGc gc;
  gc.branch = "main";
  gc.timeline = *pageserver::TimelineId::Parse("8cc14bd5052e80a1d482dc87f572e926");
  gc.cutoff = *Lsn::Parse("0/16B3A28");
  gc.layers_merged = 12;
  gc.merges = 2;
  gc.compacted_bytes_removed = 512 * 1024;
  gc.layers_removed = 3;
  gc.layer_bytes_removed = 1536 * 1024;
  gc.wal_removed = 2;
  gc.wal_bytes_removed = 32 << 20;
  gc.layers_left = 4;
  gc.layer_bytes_left = 20 << 20;
  gc.wal_left = 1;
  gc.wal_bytes_left = 16 << 20;
  return gc;
}

TEST(GcSummary, FreedBytesCountCompactionLayersAndWal) {
  EXPECT_EQ(FreedBytes(Collected()), 512u * 1024 + 1536u * 1024 + (32u << 20));
  EXPECT_EQ(FreedBytes(pageserver::TimelineGc{}), 0u);
}

TEST(GcSummary, ALiveBranchSaysWhatWasMergedRemovedAndKept) {
  EXPECT_EQ(DescribeGc(Collected()),
            "main: history from 0/16B3A28; merged 12 layers into 2; removed 3 layers (1.5 MB) and 2 WAL segments "
            "(32 MB); keeps 4 layers (20 MB) and 1 WAL segment (16 MB)");
}

TEST(GcSummary, NothingDoneSaysOnlyWhatIsKept) {
  pageserver::TimelineGc gc;
  gc.branch = "exp";
  gc.layers_left = 1;
  gc.layer_bytes_left = 100;
  EXPECT_EQ(DescribeGc(gc), "exp: history from its start; keeps 1 layer (100 B) and 0 WAL segments (0 B)");
  gc.images = 1;
  EXPECT_NE(DescribeGc(gc).find("; wrote 1 image;"), std::string::npos) << DescribeGc(gc);
}

TEST(GcSummary, ADeletedBranchIsNamedByItsTimelineWithWhatWasFreed) {
  pageserver::TimelineGc gc = Collected();
  gc.branch.clear();
  gc.deleted = true;
  EXPECT_EQ(DescribeGc(gc), "timeline 8cc14bd5052e80a1d482dc87f572e926 (deleted): removed its layers and WAL, 34 MB");
}

}  // namespace
}  // namespace zenith::cli
