// `zenith diff` with the real programs: relations changed, created and
// dropped between two points of a branch and between two branches, named as
// PostgreSQL names them, with the blocks the WAL changed and their sizes at
// each point; `--schema` as a unified diff of pg_dumpall's schemas; bad
// points refused; nothing left mounted afterwards.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "tests/harness/compute.h"
#include "tests/harness/test_env.h"
#include "tests/harness/zenith_env.h"

namespace zenith::testing {
namespace {

class Diff : public ::testing::Test {
 protected:
  Diff() : env_(dir_) {}
  void SetUp() override {
    ASSERT_FALSE(RunningAsRoot()) << "run the tests with tests/run.sh (PostgreSQL refuses root)";
    ASSERT_TRUE(env_.MustZenith({"init"}).ok());
  }
  // The line of `out` that names `relation` in the given state, or "".
  static std::string LineOf(const std::string& out, const std::string& state, const std::string& relation) {
    std::istringstream lines(out);
    for (std::string line; std::getline(lines, line);) {
      std::istringstream words(line);
      std::string first, second;
      words >> first >> second;
      if (first == state && second == relation) return line;
    }
    return "";
  }
  // No read-only mount of diff's is left: `zenith status` lists none.
  void ExpectNothingMounted() {
    RunResult status = env_.MustZenith({"status", "--json"});
    auto doc = nlohmann::json::parse(status.out, nullptr, false);
    ASSERT_FALSE(doc.is_discarded()) << status.out;
    for (const auto& m : doc["mounts"]) EXPECT_FALSE(m["read_only"].get<bool>()) << status.out;
  }

  TempDir dir_{"diff"};
  ZenithEnv env_;
};

TEST_F(Diff, TwoPointsOfABranchShowWhatChangedWasCreatedAndDropped) {
  ASSERT_TRUE(env_.MustZenith({"mount", "main", dir_.Sub("main")}).ok());
  Compute main(env_, "main", 5432);
  main.Start();
  main.Query(
      "create table t (i int primary key, pad text) with (autovacuum_enabled = off);"
      "insert into t select g, repeat('x', 100) from generate_series(1, 5000) g;"
      "create table untouched (i int) with (autovacuum_enabled = off); insert into untouched values (1);"
      "create table doomed (i int); insert into doomed values (1); checkpoint");
  const std::string before = main.Query("select pg_current_wal_insert_lsn()");
  main.Query(
      "update t set pad = 'y' where i <= 10;"
      "create table fresh (i int) with (autovacuum_enabled = off);"
      "insert into fresh select generate_series(1, 10000); drop table doomed");
  const std::string fresh_blocks = main.Query("select pg_relation_size('fresh') / 8192");
  const std::string fresh_size = main.Query("select pg_size_pretty(pg_relation_size('fresh'))");
  ASSERT_TRUE(main.pg().Stop("fast").ok());

  RunResult diff = env_.MustZenith({"diff", "main@" + before, "main"});
  EXPECT_NE(LineOf(diff.out, "changed", "public.t"), "") << diff.out;
  EXPECT_NE(LineOf(diff.out, "changed", "public.t_pkey"), "") << "an update changes the index too: " << diff.out;
  EXPECT_NE(LineOf(diff.out, "dropped", "public.doomed"), "") << diff.out;
  EXPECT_EQ(diff.out.find("public.untouched"), std::string::npos) << "no block of it changed: " << diff.out;
  const std::string fresh = LineOf(diff.out, "created", "public.fresh");
  ASSERT_NE(fresh, "") << diff.out;
  EXPECT_NE(fresh.find(" " + fresh_blocks + " blocks"), std::string::npos)
      << "every block of the new table, and only those (" << fresh_blocks << "): " << fresh;
  EXPECT_NE(fresh.find("- -> "), std::string::npos) << fresh;
  EXPECT_NE(diff.out.find("\npostgres:\n"), std::string::npos) << "grouped by database: " << diff.out;
  ExpectNothingMounted();

  // The other way round, the same blocks; created and dropped swap.
  RunResult back = env_.MustZenith({"diff", "main", "main@" + before});
  EXPECT_NE(LineOf(back.out, "dropped", "public.fresh").find(" " + fresh_blocks + " blocks"), std::string::npos)
      << back.out;
  EXPECT_NE(LineOf(back.out, "created", "public.doomed"), "") << back.out;

  // A point with itself: nothing.
  EXPECT_NE(env_.MustZenith({"diff", "main", "main"}).out.find("no relation changed"), std::string::npos);
  ExpectNothingMounted();
}

TEST_F(Diff, TwoBranchesCompareFromTheirCommonPoint) {
  ASSERT_TRUE(env_.MustZenith({"mount", "main", dir_.Sub("main")}).ok());
  Compute main(env_, "main", 5432);
  main.Start();
  main.Query("create table shared_t (i int); insert into shared_t select generate_series(1, 1000); checkpoint");
  ASSERT_TRUE(main.pg().Stop("fast").ok());
  RunResult made = env_.MustZenith({"branch", "exp", "main"});
  ASSERT_TRUE(env_.MustZenith({"umount", dir_.Sub("main")}).ok());
  const std::string branch_lsn = made.out.substr(made.out.rfind(' ') + 1, made.out.find_last_not_of("\n)") - made.out.rfind(' '));

  ASSERT_TRUE(env_.MustZenith({"mount", "main", dir_.Sub("main")}).ok());
  main.Start();
  main.Query("insert into shared_t select generate_series(1, 5000)");
  ASSERT_TRUE(main.pg().Stop("fast").ok());
  ASSERT_TRUE(env_.MustZenith({"mount", "exp", dir_.Sub("exp")}).ok());
  Compute exp(env_, "exp", 5433);
  exp.Start();
  exp.Query("create table only_exp (i int); insert into only_exp values (1)");
  ASSERT_TRUE(exp.pg().Stop("fast").ok());

  RunResult diff = env_.MustZenith({"diff", "main", "exp"});
  EXPECT_NE(diff.out.find("from their common point " + branch_lsn), std::string::npos)
      << "exp's branch point (" << branch_lsn << "): " << diff.out;
  EXPECT_NE(LineOf(diff.out, "changed", "public.shared_t"), "") << "changed on main's side: " << diff.out;
  EXPECT_NE(LineOf(diff.out, "created", "public.only_exp"), "") << diff.out;
}

TEST_F(Diff, SchemaIsAUnifiedDiffOfTheTwoSchemas) {
  ASSERT_TRUE(env_.MustZenith({"mount", "main", dir_.Sub("main")}).ok());
  Compute main(env_, "main", 5432);
  main.Start();
  main.Query("create table kept (i int); create table doomed (i int); alter role current_user password 'secret-pw'");
  const std::string before = main.Query("select pg_current_wal_insert_lsn()");
  main.Query("create table fresh (i int, j text); drop table doomed; alter table kept add column k int");
  ASSERT_TRUE(main.pg().Stop("fast").ok());

  RunResult diff = env_.MustZenith({"diff", "--schema", "main@" + before, "main"});
  EXPECT_NE(diff.out.find("--- main@" + before), std::string::npos) << diff.out;
  EXPECT_NE(diff.out.find("+CREATE TABLE public.fresh ("), std::string::npos) << diff.out;
  EXPECT_NE(diff.out.find("-CREATE TABLE public.doomed ("), std::string::npos) << diff.out;
  EXPECT_NE(diff.out.find("+    k integer"), std::string::npos) << diff.out;
  EXPECT_EQ(diff.out.find("+CREATE TABLE public.kept"), std::string::npos) << "unchanged lines are context only";
  EXPECT_EQ(diff.out.find("-CREATE TABLE public.kept"), std::string::npos) << "unchanged lines are context only";
  EXPECT_EQ(diff.out.find("SCRAM-SHA-256"), std::string::npos) << "no password hash is shown: " << diff.out;
  EXPECT_EQ(diff.out.find("restrict"), std::string::npos) << "pg_dump's random \\restrict keys are left out";
  ExpectNothingMounted();
}

TEST_F(Diff, BadPointsAreRefusedClearly) {
  auto refused = [&](const std::vector<std::string>& args, const std::string& says) {
    RunResult r = env_.Zenith(args);
    EXPECT_EQ(r.exit_code, 1) << r.Describe();
    EXPECT_NE(r.err.find(says), std::string::npos) << r.Describe();
  };
  refused({"diff", "nosuch", "main"}, "nosuch");
  refused({"diff", "main", "main@0/1"}, "0/1");
  refused({"diff", "main", "main@zzz"}, "zzz");
  refused({"diff", "main@", "main"}, "main@");
  RunResult one = env_.Zenith({"diff", "main"});
  EXPECT_NE(one.exit_code, 0);
  EXPECT_NE(one.err.find("to is required"), std::string::npos) << one.Describe();
  ExpectNothingMounted();
}

}  // namespace
}  // namespace zenith::testing
