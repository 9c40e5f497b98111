// Branch workflows with the real programs (issue 21): `zenith branch
// --tree`, `zenith branch reset` (PostgreSQL on the reset branch sees
// its parent's current data under the same name; the old state stays as
// --keep's branch and under its children; a page server killed -9 in the
// middle leaves the repository as before or as after the reset), and
// `zenith branch detach` (reads at every point of the branch unchanged,
// its old parent deleted and collected, kill -9 midway as before or after).
#include <gtest/gtest.h>

#include <signal.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "common/file_util.h"
#include "tests/harness/compute.h"
#include "tests/harness/test_env.h"
#include "tests/harness/wait.h"
#include "tests/harness/zenith_env.h"

namespace zenith::testing {
namespace {

using nlohmann::json;

class BranchWorkflow : public ::testing::Test {
 protected:
  BranchWorkflow() : env_(dir_) {}
  void SetUp() override {
    ASSERT_FALSE(RunningAsRoot()) << "run the tests with tests/run.sh (PostgreSQL refuses root)";
    ASSERT_TRUE(env_.MustZenith({"init"}).ok());
  }
  // name -> timeline, from `zenith branch --json`.
  std::map<std::string, std::string> Refs() {
    std::map<std::string, std::string> out;
    RunResult r = env_.MustZenith({"branch", "--json"});
    json doc = json::parse(r.out, nullptr, false);
    if (doc.is_discarded()) return out;
    for (const auto& b : doc["branches"]) out[b["name"]] = b["timeline"];
    return out;
  }
  RunResult Refused(const std::vector<std::string>& args, const std::string& says) {
    RunResult r = env_.Zenith(args);
    EXPECT_EQ(r.exit_code, 1) << r.Describe();
    EXPECT_NE(r.err.find(says), std::string::npos) << r.Describe();
    return r;
  }

  TempDir dir_{"branch-workflow"};
  ZenithEnv env_;
};

TEST_F(BranchWorkflow, TreeShowsEachBranchUnderItsParentWithItsPointAndSize) {
  env_.MustZenith({"branch", "exp", "main"});
  env_.MustZenith({"branch", "exp2", "exp"});
  env_.MustZenith({"branch", "alpha", "main"});
  RunResult tree = env_.MustZenith({"branch", "--tree"});
  std::istringstream lines(tree.out);
  std::vector<std::string> names;
  for (std::string line; std::getline(lines, line);) names.push_back(line.substr(0, line.find("  ", line.find_first_not_of(' '))));
  EXPECT_EQ(names, (std::vector<std::string>{"BRANCH", "main", "|-- alpha", "`-- exp", "    `-- exp2"})) << tree.out;
  auto exp2 = tree.out.find("`-- exp2");
  ASSERT_NE(exp2, std::string::npos);
  EXPECT_NE(tree.out.find("@0/", exp2), std::string::npos) << "each child shows its branch point: " << tree.out;
  EXPECT_NE(tree.out.find("MB", exp2), std::string::npos) << "and its size: " << tree.out;

  EXPECT_NE(env_.MustZenith({"branch", "--tree", "-v"}).out.find("END OF WAL"), std::string::npos);
  json doc = json::parse(env_.MustZenith({"branch", "--tree", "--json"}).out, nullptr, false);
  ASSERT_FALSE(doc.is_discarded());
  ASSERT_EQ(doc["branches"].size(), 1u) << doc.dump();
  const json& main = doc["branches"][0];
  EXPECT_EQ(main["name"], "main");
  ASSERT_EQ(main["children"].size(), 2u) << doc.dump();
  EXPECT_EQ(main["children"][1]["children"][0]["name"], "exp2");
  EXPECT_TRUE(main["children"][1]["children"][0]["branch_lsn"].is_string());

  Refused({"branch", "exp3", "main", "--tree"}, "--tree goes with the branch list");
}

TEST_F(BranchWorkflow, ResetShowsTheParentsCurrentDataUnderTheSameName) {
  ASSERT_TRUE(env_.MustZenith({"mount", "main", dir_.Sub("main")}).ok());
  Compute main(env_, "main", 5432);
  main.Start();
  main.Query("create table t (who text, i int); insert into t values ('main', 1); checkpoint");
  env_.MustZenith({"branch", "exp", "main"});
  auto start_exp = [&](Compute& exp) {
    ASSERT_TRUE(env_.MustZenith({"mount", "exp", dir_.Sub("exp")}).ok());
    exp.Start();
  };
  auto stop_exp = [&](Compute& exp) {
    ASSERT_TRUE(exp.pg().Stop().ok());
    env_.MustZenith({"umount", dir_.Sub("exp")});
  };
  Compute exp(env_, "exp", 5433);
  start_exp(exp);
  exp.Query("insert into t values ('exp', 2)");
  // The branch's children keep its old state whatever happens to its name.
  env_.MustZenith({"branch", "exp-child", "exp"});

  Refused({"branch", "reset", "exp"}, "is mounted");
  Refused({"branch", "reset", "nosuch"}, "branch 'nosuch' does not exist");
  Refused({"branch", "reset", "main"}, "has no parent");
  stop_exp(exp);
  Refused({"branch", "reset", "exp", "--to", "main@0/10"}, "the oldest LSN still available is");
  Refused({"branch", "reset", "exp", "--keep", "main"}, "already exists");
  Refused({"branch", "reset"}, "usage: zenith branch reset NAME");
  Refused({"branch", "exp9", "main", "--keep", "x"}, "--to and --keep go with");
  main.Query("insert into t values ('main', 3)");
  const std::string exp_before = Refs()["exp"];

  const auto started = std::chrono::steady_clock::now();
  RunResult reset = env_.MustZenith({"branch", "reset", "exp", "--keep", "exp-old"});
  const auto took = std::chrono::steady_clock::now() - started;
  EXPECT_NE(reset.out.find("branch 'exp' now shows main at"), std::string::npos) << reset.out;
  EXPECT_LT(took, std::chrono::seconds(2)) << "a reset writes metadata only";
  std::printf("zenith branch reset took %lld ms (the whole command)\n",
              static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(took).count()));
  auto refs = Refs();
  EXPECT_EQ(refs["exp-old"], exp_before);
  EXPECT_NE(refs["exp"], exp_before);

  start_exp(exp);
  EXPECT_EQ(exp.Query("select string_agg(who || i, ',' order by i) from t"), "main1,main3")
      << "the same name reaches main's data at the reset";
  stop_exp(exp);
  for (const char* old : {"exp-old", "exp-child"}) {
    ASSERT_TRUE(env_.MustZenith({"mount", "--read-only", old, dir_.Sub(old)}).ok());
    Compute c(env_, old, 5434);
    c.Start();
    EXPECT_EQ(c.Query("select string_agg(who || i, ',' order by i) from t"), "main1,exp2") << old;
    ASSERT_TRUE(c.pg().Stop().ok());
    env_.MustZenith({"umount", dir_.Sub(old)});
  }

  // Without --keep, the old state lives on under its child, unnamed.
  env_.MustZenith({"branch", "exp-kid2", "exp"});
  env_.MustZenith({"branch", "reset", "exp", "--to", "main@" + main.Query("select pg_current_wal_insert_lsn()")});
  RunResult tree = env_.MustZenith({"branch", "--tree"});
  EXPECT_NE(tree.out.find(", no branch)"), std::string::npos) << tree.out;
  EXPECT_NE(tree.out.find("`-- exp-kid2"), std::string::npos) << tree.out;
  env_.MustZenith({"gc"});
  ASSERT_TRUE(env_.MustZenith({"mount", "--read-only", "exp-kid2", dir_.Sub("kid2")}).ok());
  Compute kid(env_, "kid2", 5435);
  kid.Start();
  EXPECT_EQ(kid.Query("select string_agg(who || i, ',' order by i) from t"), "main1,main3");
  ASSERT_TRUE(kid.pg().Stop().ok());
  env_.MustZenith({"umount", dir_.Sub("kid2")});
  ASSERT_TRUE(main.pg().Stop().ok());
  env_.MustZenith({"umount", dir_.Sub("main")});
}

TEST_F(BranchWorkflow, ResetKilledMidwayLeavesTheRepositoryAsBeforeOrAsAfter) {
  env_.MustZenith({"branch", "exp", "main"});
  std::mt19937 random(20261205);
  int before = 0, after = 0;
  const std::string zenith = std::string(std::getenv("ZENITH_BIN_DIR")) + "/zenith";
  for (int round = 0; round < 12; ++round) {
    env_.MustZenith({"pageserver", "start"});
    const auto start_refs = Refs();
    const std::string keep = "old" + std::to_string(round);
    Child cli = Child::Start({zenith, "branch", "reset", "exp", "--keep", keep}, dir_.Sub("reset.log"),
                             {.cwd = dir_.path(), .env = {{"ZENITH_REPO", env_.repo()}}});
    std::this_thread::sleep_for(std::chrono::microseconds(random() % 15000));
    if (pid_t ps = PageServerPid(env_)) KillTree(ps);
    ASSERT_TRUE(WaitUntil([&] { return !cli.running(); }, std::chrono::seconds(30)));
    auto refs = Refs();  // starts the page server again
    if (refs == start_refs) {
      ++before;
    } else {
      ++after;
      EXPECT_EQ(refs[keep], start_refs.at("exp")) << "round " << round;
      EXPECT_NE(refs["exp"], start_refs.at("exp")) << "round " << round;
      EXPECT_EQ(refs.size(), start_refs.size() + 1) << "round " << round;
    }
    EXPECT_FALSE(PathExists(env_.repo() + "/branch-reset.json")) << "round " << round;
  }
  std::printf("killed mid-reset: %d times before, %d times after\n", before, after);
}

TEST_F(BranchWorkflow, DetachKeepsEveryReadAndLetsTheOldParentGo) {
  ASSERT_TRUE(env_.MustZenith({"mount", "main", dir_.Sub("main")}).ok());
  Compute main(env_, "main", 5432);
  main.Start();
  main.Query("create table t (who text, i int); insert into t select 'main', g from generate_series(1, 2000) g; checkpoint");
  main.Query("insert into t values ('main', 0)");  // after main's snapshot: exp replays it
  RunResult made = env_.MustZenith({"branch", "exp", "main"});
  env_.MustZenith({"branch", "quiet", "main"});  // never mounted: none of main's WAL is its own yet
  main.Query("insert into t values ('main after the branch point', 0)");
  ASSERT_TRUE(main.pg().Stop().ok());
  env_.MustZenith({"umount", dir_.Sub("main")});
  const std::string branch_point = made.out.substr(made.out.rfind(' ') + 1, made.out.size() - made.out.rfind(' ') - 2);

  ASSERT_TRUE(env_.MustZenith({"mount", "exp", dir_.Sub("exp")}).ok());
  Compute exp(env_, "exp", 5433);
  exp.Start();
  exp.Query("insert into t values ('exp', 1)");
  const std::string mid = exp.Query("select pg_current_wal_insert_lsn()");
  exp.Query("checkpoint; update t set i = i + 1 where i < 100");
  Refused({"branch", "detach", "exp"}, "is mounted");
  ASSERT_TRUE(exp.pg().Stop().ok());
  env_.MustZenith({"umount", dir_.Sub("exp")});

  const std::vector<std::string> points = {branch_point, mid, ""};
  std::vector<std::string> before;
  for (const auto& p : points) before.push_back(DumpAt(env_, "exp", p, 5440));
  ASSERT_NE(before[0].find("main\t0\n"), std::string::npos) << "exp at its branch point replays main's last insert";
  ASSERT_EQ(before[0].find("after the branch point"), std::string::npos);

  const std::string quiet_before = DumpAt(env_, "quiet", "", 5441);
  ASSERT_NE(quiet_before.find("main\t0\n"), std::string::npos);
  ASSERT_TRUE(env_.MustZenith({"branch", "detach", "quiet"}).ok());
  RunResult detached = env_.MustZenith({"branch", "detach", "exp"});
  EXPECT_NE(detached.out.find("detached branch 'exp' from 'main'"), std::string::npos) << detached.out;
  Refused({"branch", "detach", "exp"}, "has no ancestor");
  Refused({"branch", "detach", "main"}, "has no ancestor");
  Refused({"branch", "detach", "nosuch"}, "nosuch");
  auto doc = json::parse(env_.MustZenith({"branch", "-v", "--json"}).out, nullptr, false);
  ASSERT_FALSE(doc.is_discarded());
  for (const auto& b : doc["branches"]) EXPECT_TRUE(b["parent"].is_null()) << doc.dump();

  // The old parent goes, and its files with it; exp reads as before.
  ASSERT_TRUE(env_.MustZenith({"branch", "delete", "main"}).ok());
  env_.MustZenith({"gc"});
  auto timelines = ListDirectory(env_.repo() + "/timelines");
  ASSERT_TRUE(timelines.ok());
  EXPECT_EQ(timelines->size(), 2u) << "only exp's and quiet's timelines are left";
  EXPECT_EQ(DumpAt(env_, "quiet", "", 5441), quiet_before) << "quiet replays main's WAL, now its own";
  for (size_t i = 0; i < points.size(); ++i) {
    EXPECT_EQ(DumpAt(env_, "exp", points[i], 5440), before[i]) << "exp at '" << points[i] << "' changed";
  }
  // It is a branch like any other: mounted read-write, it goes on.
  ASSERT_TRUE(env_.MustZenith({"mount", "exp", dir_.Sub("exp")}).ok());
  exp.Start();
  EXPECT_EQ(exp.Query("select count(*) from t"), "2002");
  exp.Query("insert into t values ('exp', 3)");
  ASSERT_TRUE(exp.pg().Stop().ok());
}

TEST_F(BranchWorkflow, DetachKilledMidwayLeavesTheBranchAsBeforeOrAsAfter) {
  ASSERT_TRUE(env_.MustZenith({"mount", "main", dir_.Sub("main")}).ok());
  Compute main(env_, "main", 5432);
  main.Start();
  main.Query("create table t (i int); insert into t select generate_series(1, 50000); checkpoint");
  ASSERT_TRUE(main.pg().Stop().ok());
  env_.MustZenith({"umount", dir_.Sub("main")});
  std::mt19937 random(20261206);
  const std::string zenith = std::string(std::getenv("ZENITH_BIN_DIR")) + "/zenith";
  int before = 0, after = 0;
  for (int round = 0; round < 8; ++round) {
    const std::string name = "exp" + std::to_string(round);
    env_.MustZenith({"branch", name, "main"});
    Child cli = Child::Start({zenith, "branch", "detach", name}, dir_.Sub("detach.log"),
                             {.cwd = dir_.path(), .env = {{"ZENITH_REPO", env_.repo()}}});
    std::this_thread::sleep_for(std::chrono::microseconds(random() % 300000));
    if (pid_t ps = PageServerPid(env_)) KillTree(ps);
    ASSERT_TRUE(WaitUntil([&] { return !cli.running(); }, std::chrono::seconds(30)));
    auto doc = json::parse(env_.MustZenith({"branch", "-v", "--json"}).out, nullptr, false);  // starts the page server
    ASSERT_FALSE(doc.is_discarded());
    for (const auto& b : doc["branches"]) {
      if (b["name"] != name) continue;
      (b["parent"].is_null() ? after : before) += 1;
      EXPECT_TRUE(b["parent"].is_null() || b["parent"] == "main") << doc.dump();
    }
    ASSERT_TRUE(env_.MustZenith({"mount", "--read-only", name, dir_.Sub("ro")}).ok());
    Compute ro(env_, "ro", 5434);
    ro.Start();
    EXPECT_EQ(ro.Query("select count(*), sum(i) from t"), "50000|1250025000") << "round " << round;
    ASSERT_TRUE(ro.pg().Stop().ok());
    env_.MustZenith({"umount", dir_.Sub("ro")});
    // Whatever was left is finished by running it again.
    RunResult again = env_.Zenith({"branch", "detach", name});
    EXPECT_TRUE(again.ok() || again.err.find("has no ancestor") != std::string::npos) << again.Describe();
  }
  std::printf("killed mid-detach: %d times before, %d times after\n", before, after);
}

}  // namespace
}  // namespace zenith::testing
