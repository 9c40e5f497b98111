// common/pg_time.h: timestamps as users write them, and PostgreSQL's
// microseconds since 2000-01-01 UTC.
#include "common/pg_time.h"

#include <gtest/gtest.h>

namespace zenith {
namespace {

TEST(PgTime, TheEpochAndZonesAndFractions) {
  EXPECT_EQ(ParsePgTimestamp("2000-01-01 00:00:00"), 0);
  EXPECT_EQ(ParsePgTimestamp("2000-01-01 00:00:00+00"), 0);
  EXPECT_EQ(ParsePgTimestamp("2000-01-01T00:00:00Z"), 0);
  EXPECT_EQ(ParsePgTimestamp("1999-12-31 23:00:00+00"), -3600000000);
  EXPECT_EQ(ParsePgTimestamp("2000-01-01 01:00:00+01"), 0);
  EXPECT_EQ(ParsePgTimestamp("1999-12-31 19:30:00-04:30"), 0);
  EXPECT_EQ(ParsePgTimestamp("2000-01-01 05:30:00+0530"), 0);
  EXPECT_EQ(ParsePgTimestamp("2026-11-29 10:00:00+00"), 849261600000000);
  EXPECT_EQ(ParsePgTimestamp("2000-01-01 00:00:00.5"), 500000);
  EXPECT_EQ(ParsePgTimestamp("2000-01-01 00:00:00.000001"), 1);
  EXPECT_EQ(ParsePgTimestamp("2000-01-01 00:00:00.0000019"), 1) << "beyond microseconds is dropped";
}

TEST(PgTime, AnythingElseIsRefused) {
  for (const char* bad : {"", "yesterday", "2026-11-29", "2026-11-29 10:00", "2026-13-01 00:00:00",
                          "2026-02-30 00:00:00", "2026-11-29 24:00:00", "2026-11-29 10:60:00", "2026-11-29 10:00:61",
                          "2026-11-29 10:00:00+", "2026-11-29 10:00:00+1", "2026-11-29 10:00:00 UTC",
                          "2026-11-29 10:00:00.", "2026-11-29 10:00:00+00 ", "0/16B3A28"}) {
    EXPECT_EQ(ParsePgTimestamp(bad), std::nullopt) << bad;
  }
}

TEST(PgTime, FormatReadsBack) {
  EXPECT_EQ(FormatPgTimestamp(0), "2000-01-01 00:00:00+00");
  EXPECT_EQ(FormatPgTimestamp(-1), "1999-12-31 23:59:59.999999+00");
  EXPECT_EQ(FormatPgTimestamp(849261600000000), "2026-11-29 10:00:00+00");
  for (int64_t t : {int64_t{0}, int64_t{-1}, int64_t{123456789}, int64_t{849261600123456}}) {
    EXPECT_EQ(ParsePgTimestamp(FormatPgTimestamp(t)), t) << t;
  }
}

}  // namespace
}  // namespace zenith
