#include "pageserver/pq/command.h"

#include <gtest/gtest.h>

#include <cstdint>

namespace zenith::pageserver {
namespace {

TEST(CommandTable, TheArgumentCountsComeFromTheUsage) {
  using Range = std::pair<size_t, size_t>;
  auto count = [](std::string_view usage) {
    ArgCount c = ArgCountOf(usage);
    return Range(c.min, c.max);
  };
  EXPECT_EQ(count("status"), Range(0, 0));
  EXPECT_EQ(count("branch_create <name> <parent>[@<lsn>]"), Range(2, 2));
  EXPECT_EQ(count("basebackup <branch|timeline> [<lsn>] [pin]"), Range(1, 3));
  EXPECT_EQ(count("put_snapshot <branch|timeline> [<lease token>]"), Range(1, 2));
  EXPECT_EQ(count("branch_reset <name> <parent>[@<lsn>]|'' <keep>|''"), Range(3, 3));
  EXPECT_EQ(count("fail <code> <message>..."), Range(2, SIZE_MAX));
  EXPECT_EQ(count("mount_stats [<key>=<value> ...]"), Range(0, SIZE_MAX));
}

TEST(CommandTable, AUsageThatDoesNotNameTheCommandIsAProgrammingError) {
  auto ok = [](CommandContext&) { return Status::Ok(); };
  CommandTable table;
  table.Add({"status", "status", {}, ok});
  EXPECT_DEATH(table.Add({"branch_list", "branch_lis", {}, ok}), "does not start with the name");
  EXPECT_DEATH(table.Add({"status", "status", {}, ok}), "added twice");
}

}  // namespace
}  // namespace zenith::pageserver
