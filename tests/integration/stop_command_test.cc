// `zenith stop BRANCH` runs pg_ctl only on the zenith mount the branch's
// daemon serves. The page server lists the mount point its client named, so
// a client that attached the branch naming some other directory (here a
// stock PostgreSQL's own data directory) must not get that cluster stopped.
#include <gtest/gtest.h>
#include <signal.h>

#include <string>
#include <unistd.h>

#include "tests/harness/pg_cluster.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/temp_dir.h"
#include "tests/harness/test_env.h"
#include "tests/harness/wait.h"
#include "tests/harness/zenith_env.h"

namespace zenith::testing {
namespace {

TEST(StopCommandTest, ADirectoryThatIsNotAZenithMountIsRefusedAndPgCtlIsNotRun) {
  TempDir dir("stop-command");
  ZenithEnv env(dir);
  ASSERT_TRUE(env.MustZenith({"init"}).ok());
  env.MustZenith({"pageserver", "start"});

  PgCluster other(dir.Sub("pgdata"), dir.path(), 5471);
  ASSERT_TRUE(other.Initdb().ok());
  ASSERT_TRUE(other.Start().ok());
  const pid_t postmaster = PostmasterOf(dir.Sub("pgdata"));
  ASSERT_GT(postmaster, 0);

  // A client holds main's lease naming the plain directory as its mount.
  const std::string attach = "attach main " + dir.Sub("pgdata") + " " + std::to_string(::getpid());
  Child holder = Child::Start({"bash", "-c",
                               "(echo '" + attach + "\\g'; exec sleep 600) | " + PgBin("psql") + " -X -q -h " +
                                   env.repo() + " -p 64000 -d zenith"},
                              dir.Sub("holder.log"));
  ASSERT_TRUE(WaitUntil(
      [&] { return env.Zenith({"status"}).out.find(dir.Sub("pgdata")) != std::string::npos; },
      std::chrono::seconds(30)))
      << env.Zenith({"status"}).out;

  RunResult stop = env.Zenith({"stop", "main"});
  EXPECT_NE(stop.exit_code, 0) << stop.Describe();
  EXPECT_NE(stop.err.find(dir.Sub("pgdata") + " is not a zenith mount"), std::string::npos) << stop.Describe();
  EXPECT_EQ(PostmasterOf(dir.Sub("pgdata")), postmaster) << "pg_ctl was not run on it";
  EXPECT_EQ(::kill(postmaster, 0), 0) << "the other cluster still runs";
  EXPECT_EQ(other.Query("select 1"), "1");
}

}  // namespace
}  // namespace zenith::testing
