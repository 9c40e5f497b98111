// The figures a mount reports with its keepalive (pageserver/client/
// mount_stats.h): every field goes over the wire and back, and malformed
// reports are refused rather than half-read.
#include "pageserver/api/mount_stats.h"

#include <gtest/gtest.h>

namespace zenith::pageserver {
namespace {

TEST(MountStats, EveryFieldSurvivesTheWireForm) {
  MountStats stats{1, 2, 3, 4, 5, 6};
  const std::vector<std::string> args = EncodeMountStats(stats);
  EXPECT_EQ(args.size(), 6u);
  auto back = DecodeMountStats(args);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, stats);
  MountStats big{UINT64_MAX, 0, 0, 0, 0, UINT64_MAX};
  EXPECT_EQ(DecodeMountStats(EncodeMountStats(big)).value(), big);
}

TEST(MountStats, UnknownKeysAreIgnoredAndMissingOnesAreZero) {
  const std::vector<std::string> args = {"pages_fetched=9", "fuse_reads=100"};
  auto stats = DecodeMountStats(args);
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->pages_fetched, 9u);
  EXPECT_EQ(stats->pages_scratch, 0u);
}

TEST(MountStats, MalformedReportsAreRefused) {
  for (const std::vector<std::string>& bad : std::vector<std::vector<std::string>>{
           {"pages_fetched"}, {"=1"}, {"pages_fetched="}, {"pages_fetched=1x"}, {"pages_fetched=-1"},
           {"pages_fetched= 1"}, {"Pages=1"}, {"pages fetched=1"}, {"pages_fetched=18446744073709551616"},
           {"pages_fetched=1", "pages_fetched=1"}}) {
    auto r = DecodeMountStats(bad);
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad[0];
  }
  std::vector<std::string> many(kMaxMountStatsArgs + 1);
  for (size_t i = 0; i < many.size(); ++i) many[i] = "k" + std::to_string(i) + "=1";
  EXPECT_EQ(DecodeMountStats(many).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace zenith::pageserver
