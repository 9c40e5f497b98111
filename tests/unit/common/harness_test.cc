// The harness itself: if these break, every integration test is suspect.
#include <gtest/gtest.h>

#include "common/file_util.h"
#include "tests/harness/pg_cluster.h"
#include "tests/harness/temp_dir.h"

namespace zenith::testing {
namespace {

TEST(Harness, TempDirIsRemovedWithItsContents) {
  std::string path;
  {
    TempDir dir("harness");
    path = dir.path();
    ASSERT_TRUE(MakeDirectories(dir.Sub("a/b")).ok());
    ASSERT_TRUE(WriteFileDurably(dir.Sub("a/b/f"), "x").ok());
  }
  EXPECT_FALSE(PathExists(path));
}

TEST(Harness, RunCapturesOutputAndExitCode) {
  RunResult r = RunShell("echo out; echo err >&2; exit 3");
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.out, "out\n");
  EXPECT_EQ(r.err, "err\n");
  RunResult slow = RunCommand({"sleep", "10"}, {.timeout = std::chrono::milliseconds(200)});
  EXPECT_TRUE(slow.timed_out);
}

TEST(Harness, StartsAndStopsARealPostgres) {
  TempDir dir("harness-pg");
  PgCluster pg(dir.Sub("data"), dir.path(), 5432);
  ASSERT_TRUE(pg.Initdb().ok());
  ASSERT_TRUE(pg.Start().ok());
  EXPECT_EQ(pg.Query("select 40 + 2"), "42");
  ASSERT_TRUE(pg.Stop().ok());
  EXPECT_FALSE(pg.Psql("select 1").ok());
}

}  // namespace
}  // namespace zenith::testing
