// The index and refs round-trip through JSON, bad ones are refused with
// Corruption, and keys sort by generation, then sequence number.
#include "pageserver/s3/timeline_index.h"

#include <gtest/gtest.h>

namespace zenith::s3 {
namespace {

TimelineIndex Sample() {
  TimelineIndex index;
  index.timeline = "0123456789abcdef0123456789abcdef";
  index.ancestor = "fedcba9876543210fedcba9876543210";
  index.ancestor_lsn = Lsn(0x1000028);
  index.gc_cutoff = Lsn(0x1000000);
  index.wal_uploaded = Lsn(0x2000100);
  index.layers.push_back({"0000000001000028-0000000000000000.layer", 3, 8192, Lsn(0), Lsn(0x1000000),
                          Lsn(0x1000020), Lsn(0x1000028), false});
  index.wal.push_back({1, Lsn(0x1000000), Lsn(0x2000000), 3});
  index.wal.push_back({2, Lsn(0x2000000), Lsn(0x2000100), 4});
  return index;
}

TEST(TimelineIndexTest, RoundTrips) {
  auto back = TimelineIndex::FromJson(Sample().ToJson());
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, Sample());
}

TEST(TimelineIndexTest, APreparedBranchsFirstReadablePointRoundTrips) {
  TimelineIndex index = Sample();
  EXPECT_EQ(index.ToJson().find("readable_from"), std::string::npos) << "absent for other timelines";
  index.readable_from = Lsn(0x1800000);
  auto back = TimelineIndex::FromJson(index.ToJson());
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->readable_from, Lsn(0x1800000));
  EXPECT_EQ(*back, index);
}

TEST(TimelineIndexTest, RefusesAPieceOutsideItsSegment) {
  TimelineIndex index = Sample();
  index.wal[1].end = Lsn(0x3000001);
  auto back = TimelineIndex::FromJson(index.ToJson());
  EXPECT_EQ(back.status().code(), StatusCode::kCorruption);
}

TEST(TimelineIndexTest, RefusesIncompleteOrNonJson) {
  EXPECT_EQ(TimelineIndex::FromJson("[]").status().code(), StatusCode::kCorruption);
  EXPECT_EQ(TimelineIndex::FromJson("{\"format\": 1}").status().code(), StatusCode::kCorruption);
  EXPECT_EQ(Refs::FromJson("nope").status().code(), StatusCode::kCorruption);
}

TEST(TimelineIndexTest, RefsRoundTrip) {
  Refs refs;
  refs.branches = {{"main", "0123456789abcdef0123456789abcdef"}, {"dev", "fedcba9876543210fedcba9876543210"}};
  auto back = Refs::FromJson(refs.ToJson());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, refs);
}

TEST(TimelineIndexTest, KeysCarryGenerationAndSortByIt) {
  S3Url url = ParseS3Url("s3://bucket/p").value();
  const std::string tl = "0123456789abcdef0123456789abcdef";
  EXPECT_EQ(IndexKey(url, tl, 2, 7), "p/timelines/" + tl + "/index-00000000000000000002-00000000000000000007.json");
  EXPECT_LT(IndexKey(url, tl, 2, 10), IndexKey(url, tl, 10, 1));
  EXPECT_EQ(WalPieceKey(url, tl, {1, Lsn(0x1000000), Lsn(0x1000100), 3}),
            "p/timelines/" + tl + "/wal/000000010000000000000001-0000000001000000-0000000001000100-00000000000000000003");
  EXPECT_EQ(RefsKey(url, 1, 2), "p/refs/refs-00000000000000000001-00000000000000000002.json");
}

// Deletion never touches a newer generation's object, so every key must
// give its generation back, and what an index names must be exactly its keys.
TEST(TimelineIndexTest, EveryKeyGivesItsGenerationBackAndAnIndexNamesItsObjects) {
  S3Url url = ParseS3Url("s3://bucket/p").value();
  const std::string tl = "0123456789abcdef0123456789abcdef";
  TimelineIndex index;
  index.timeline = tl;
  index.layers.push_back({"0000000001000000-0000000001000100.layer", 4, 8192, {}, {}, {}, {}, true});
  index.wal.push_back({1, Lsn(0x1000000), Lsn(0x1000100), 3});
  const std::set<std::string> named = NamedKeys(url, index);
  ASSERT_EQ(named.size(), 2u);
  EXPECT_EQ(named.count(LayerKey(url, tl, index.layers[0].name, 4)), 1u);
  EXPECT_EQ(named.count(WalPieceKey(url, tl, index.wal[0])), 1u);
  EXPECT_EQ(KeyGeneration(LayerKey(url, tl, index.layers[0].name, 4)), 4u);
  EXPECT_EQ(KeyGeneration(WalPieceKey(url, tl, index.wal[0])), 3u);
  EXPECT_EQ(KeyGeneration(IndexKey(url, tl, 12, 7)), 12u);
  EXPECT_EQ(IndexKeyVersion(IndexKey(url, tl, 12, 7)), (Version{12, 7}));
  EXPECT_EQ(KeyGeneration("p/timelines/" + tl + "/layers/stray"), std::nullopt);
  EXPECT_EQ(KeyGeneration("p/timelines/" + tl + "/x-123"), std::nullopt) << "not 20 digits";
  EXPECT_EQ(KeyGeneration("p/a-00000000000000000001/b"), std::nullopt) << "the digits must end the name";
  EXPECT_EQ(IndexKeyVersion(LayerKey(url, tl, index.layers[0].name, 4)), std::nullopt);
}

}  // namespace
}  // namespace zenith::s3
