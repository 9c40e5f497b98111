// cli/mounting.h: how a point of a branch is written on the command line.
#include "cli/mounting.h"

#include <gtest/gtest.h>

namespace zenith::cli {
namespace {

TEST(PointTarget, BranchAloneOrWithAnLsnOrATime) {
  auto end = ParsePointTarget("main");
  ASSERT_TRUE(end.ok());
  EXPECT_EQ(end->branch, "main");
  EXPECT_EQ(end->spec, "") << "the end of WAL";
  auto lsn = ParsePointTarget("exp@0/16B3A28");
  ASSERT_TRUE(lsn.ok());
  EXPECT_EQ(lsn->branch, "exp");
  EXPECT_EQ(lsn->spec, "0/16B3A28");
  auto time = ParsePointTarget("main@2026-11-29 10:00:00+00");
  ASSERT_TRUE(time.ok());
  EXPECT_EQ(time->spec, "2026-11-29 10:00:00+00");
}

TEST(PointTarget, AnEmptyPointIsRefusedSayingWhatToWrite) {
  auto bare = ParsePointTarget("main@");
  ASSERT_FALSE(bare.ok());
  EXPECT_NE(bare.status().message().find("give an LSN or a time after the @"), std::string::npos);
}

}  // namespace
}  // namespace zenith::cli
