#include "common/lsn.h"

#include <gtest/gtest.h>

namespace zenith {
namespace {

TEST(Lsn, ParsesAndPrintsLikePostgres) {
  auto lsn = Lsn::Parse("0/161F478");
  ASSERT_TRUE(lsn.has_value());
  EXPECT_EQ(lsn->value, 0x161F478u);
  EXPECT_EQ(lsn->ToString(), "0/161F478");
  EXPECT_EQ(Lsn::Parse("1A/0")->value, 0x1A00000000ull);
  EXPECT_EQ(Lsn(0xABCDEF0112345678ull).ToString(), "ABCDEF01/12345678");
  EXPECT_EQ(Lsn::Parse("ff/ffffffff")->value, 0xFFFFFFFFFFull);
}

TEST(Lsn, RejectsMalformedText) {
  for (const char* bad : {"", "/", "0/", "/1", "0x1/2", "1/2/3", "g/1", "123456789/0", "1 /2", "-1/2", "0/1 "}) {
    EXPECT_FALSE(Lsn::Parse(bad).has_value()) << bad;
  }
}

TEST(Lsn, SegmentAndPageArithmetic) {
  Lsn lsn(3 * uint64_t{kWalSegmentSize} + 2 * kWalPageSize + 100);
  EXPECT_EQ(lsn.segment_number(), 3u);
  EXPECT_EQ(lsn.segment_offset(), 2 * kWalPageSize + 100);
  EXPECT_EQ(lsn.page_offset(), 100u);
  EXPECT_EQ(lsn.segment_start().value, 3 * uint64_t{kWalSegmentSize});
  EXPECT_EQ(lsn.page_start().value, lsn.value - 100);
  EXPECT_EQ((lsn + 8) - lsn, 8u);
  EXPECT_LT(lsn, lsn + 1);
}

TEST(Lsn, SegmentFileNamesMatchPostgres) {
  EXPECT_EQ(WalSegmentFileName(1, 1), "000000010000000000000001");
  // 256 segments of 16 MB per 4 GB "xlogid".
  EXPECT_EQ(WalSegmentFileName(1, 256), "000000010000000100000000");
  EXPECT_EQ(WalSegmentFileName(2, 0x1FF), "0000000200000001000000FF");
  auto parsed = ParseWalSegmentFileName("0000000200000001000000FF");
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->tli, 2u);
  EXPECT_EQ(parsed->segno, 0x1FFu);
  EXPECT_FALSE(ParseWalSegmentFileName("000000010000000000000001.partial"));
  EXPECT_FALSE(ParseWalSegmentFileName("archive_status"));
  EXPECT_FALSE(ParseWalSegmentFileName("000000010000000000000100"));  // segment part >= 256
  EXPECT_FALSE(ParseWalSegmentFileName("00000001000000000000000a"));  // PostgreSQL prints upper case
}

}  // namespace
}  // namespace zenith
