// No inherited replication (fs/branch_replication.h): a branch of a
// logical-replication subscriber runs none of its subscriptions, so the
// parent's subscriber receives every change while the branch runs, even
// when the branch's PostgreSQL ran while the parent's was down and the
// slot was free for the taking; the parent's replication slots are not in
// the branch; and README's way of giving the branch a subscription of its
// own works.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "tests/harness/compute.h"
#include "tests/harness/pg_cluster.h"
#include "tests/harness/test_env.h"
#include "tests/harness/wait.h"
#include "tests/harness/zenith_env.h"

namespace zenith::testing {
namespace {

TEST(BranchReplication, ABranchNeverConsumesItsParentsSubscriptionSlot) {
  ASSERT_FALSE(RunningAsRoot()) << "run the tests with tests/run.sh (PostgreSQL refuses root)";
  TempDir dir("branch-replication");
  PgCluster publisher(dir.Sub("publisher"), dir.path(), 5440);
  ASSERT_TRUE(publisher.Initdb().ok());
  ASSERT_TRUE(publisher.Start({"wal_level=logical"}).ok()) << publisher.Log();
  publisher.Query("create table t (i int primary key); create publication p for table t");

  ZenithEnv env(dir);
  ASSERT_TRUE(env.MustZenith({"init"}).ok());
  ASSERT_TRUE(env.MustZenith({"mount", "main", dir.Sub("main")}).ok());
  Compute main(env, "main", 5432);
  main.Start();
  const std::string conn = "host=" + dir.path() + " port=5440 user=postgres dbname=postgres";
  main.Query("create table t (i int primary key)");
  main.Query("create subscription s connection '" + conn + "' publication p");
  main.Query("select pg_create_physical_replication_slot('main_slot', true)");
  publisher.Query("insert into t select generate_series(1, 10)");
  auto count = [](Compute& c) { return c.Query("select count(*) from t"); };
  ASSERT_TRUE(WaitUntil([&] { return count(main) == "10"; }, std::chrono::seconds(60)));
  main.Query("checkpoint");
  env.MustZenith({"branch", "exp", "main"});

  // The slot is free while main is down: a branch running the subscription
  // would take it and consume what main has not received yet.
  ASSERT_TRUE(main.pg().Stop().ok());
  ASSERT_TRUE(env.MustZenith({"mount", "exp", dir.Sub("exp")}).ok());
  Compute exp(env, "exp", 5433);
  exp.Start();
  EXPECT_EQ(exp.Query("select count(*) from pg_replication_slots"), "0") << "main's slot is not in the branch";
  EXPECT_EQ(exp.Query("select subenabled from pg_subscription where subname = 's'"), "t")
      << "the catalog is the parent's";
  EXPECT_EQ(exp.Query("show max_logical_replication_workers"), "0");
  publisher.Query("insert into t select generate_series(11, 20)");
  std::this_thread::sleep_for(std::chrono::seconds(3));  // time for a worker to take the slot, were there one
  EXPECT_EQ(publisher.Query("select count(*) from pg_stat_replication"), "0") << "nothing of the branch streams";
  EXPECT_EQ(count(exp), "10");

  main.Start();
  EXPECT_TRUE(WaitUntil([&] { return count(main) == "20"; }, std::chrono::seconds(60)))
      << "main's subscriber missed changes: " << count(main);
  publisher.Query("insert into t select generate_series(21, 30)");
  EXPECT_TRUE(WaitUntil([&] { return count(main) == "30"; }, std::chrono::seconds(60))) << count(main);
  EXPECT_EQ(count(exp), "10");

  // README: the branch's own subscription, on a slot of its own.
  exp.Query("alter subscription s disable");
  exp.Query("alter subscription s set (slot_name = none)");
  publisher.Query("select pg_create_logical_replication_slot('exp_s', 'pgoutput')");
  exp.Query("alter subscription s set (slot_name = 'exp_s')");
  exp.Query("alter subscription s enable");
  exp.Query("alter system reset max_logical_replication_workers");
  ASSERT_TRUE(exp.pg().Stop().ok());
  exp.Start();
  publisher.Query("insert into t select generate_series(31, 40)");
  EXPECT_TRUE(WaitUntil([&] { return count(main) == "40"; }, std::chrono::seconds(60))) << count(main);
  EXPECT_TRUE(WaitUntil([&] { return count(exp) == "20"; }, std::chrono::seconds(60)))
      << "the branch's own slot streams from its creation on: " << count(exp);
  EXPECT_EQ(publisher.Query("select active from pg_replication_slots where slot_name = 's'"), "t");

  ASSERT_TRUE(exp.pg().Stop().ok());
  ASSERT_TRUE(main.pg().Stop().ok());
  env.MustZenith({"umount", dir.Sub("exp")});
  env.MustZenith({"umount", dir.Sub("main")});
}

}  // namespace
}  // namespace zenith::testing
