// ParseLogLevel (common/log_level.h): the documented names, nothing else.
#include "common/log_level.h"

#include <gtest/gtest.h>

namespace zenith {
namespace {

TEST(LogLevel, TheDocumentedNamesAndNoOthers) {
  EXPECT_EQ(*ParseLogLevel("debug"), spdlog::level::debug);
  EXPECT_EQ(*ParseLogLevel("info"), spdlog::level::info);
  EXPECT_EQ(*ParseLogLevel("warning"), spdlog::level::warn);
  EXPECT_EQ(*ParseLogLevel("warn"), spdlog::level::warn);
  EXPECT_EQ(*ParseLogLevel("error"), spdlog::level::err);
  EXPECT_EQ(*ParseLogLevel("off"), spdlog::level::off);
  for (const char* bad : {"", "INFO", "err", "verbose", "critical "}) {
    auto level = ParseLogLevel(bad);
    ASSERT_FALSE(level.ok()) << bad;
    EXPECT_EQ(level.status().code(), StatusCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace zenith
