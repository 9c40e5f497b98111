#include "common/log_text.h"

#include <gtest/gtest.h>

#include <string>

namespace zenith {
namespace {

TEST(LogText, ControlCharactersCannotForgeALine) {
  EXPECT_EQ(LogText("alice\n2026-01-01 00:00:00.000 [1] info: forged"),
            "alice\\n2026-01-01 00:00:00.000 [1] info: forged");
  EXPECT_EQ(LogText("a\rb\tc\x1b[31md\x7f"), "a\\rb\\tc\\x1b[31md\\x7f");
  EXPECT_EQ(LogText(std::string("nul\0byte", 8)), "nul\\x00byte");
  EXPECT_EQ(LogText("back\\slash"), "back\\\\slash") << "an escape cannot be faked either";
}

TEST(LogText, PrintableTextAndUtf8PassUnchanged) {
  EXPECT_EQ(LogText("user=zenith dbname=\"x\""), "user=zenith dbname=\"x\"");
  EXPECT_EQ(LogText("caf\xc3\xa9"), "caf\xc3\xa9");
}

TEST(LogText, LongTextIsCutAndSaysSo) {
  std::string huge(100000, 'a');
  std::string logged = LogText(huge, 16);
  EXPECT_EQ(logged, std::string(16, 'a') + "...(100000 bytes)");
  EXPECT_LE(LogText(huge).size(), kMaxLogTextBytes + 32);
}

}  // namespace
}  // namespace zenith
