#include "common/crc32c.h"

#include <gtest/gtest.h>

#include <string>

namespace zenith {
namespace {

TEST(Crc32c, MatchesKnownCheckValue) {
  // The standard CRC-32C check value of "123456789" (RFC 3720).
  EXPECT_EQ(ComputeCrc32c("123456789", 9), 0xE3069283u);
  EXPECT_EQ(ComputeCrc32c("", 0), 0u);
}

TEST(Crc32c, IncrementalEqualsOneShotAtEverySplit) {
  std::string data;
  for (int i = 0; i < 1000; ++i) data.push_back(static_cast<char>(i * 7 + 3));
  uint32_t whole = ComputeCrc32c(data.data(), data.size());
  for (size_t split : {0u, 1u, 7u, 8u, 9u, 500u, 999u, 1000u}) {
    Crc32c crc;
    crc.Update(data.data(), split);
    crc.Update(data.data() + split, data.size() - split);
    EXPECT_EQ(crc.Finish(), whole) << "split at " << split;
  }
}

TEST(Crc32c, DetectsSingleBitFlip) {
  std::string data(8192, 'x');
  uint32_t before = ComputeCrc32c(data.data(), data.size());
  data[4097] ^= 0x10;
  EXPECT_NE(ComputeCrc32c(data.data(), data.size()), before);
}

}  // namespace
}  // namespace zenith
