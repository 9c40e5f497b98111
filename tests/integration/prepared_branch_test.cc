// Prepared branches with the real programs (`zenith branch NEW PARENT
// --sql FILE`): the script runs before anyone can see NEW, nothing of NEW
// before it is readable (read-only mounts, exports, diffs, child branches),
// a failing script or a bad request leaves no branch, and kill -9 of every
// process in the middle leaves the repository as before.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/file_util.h"
#include "tests/harness/compute.h"
#include "tests/harness/test_env.h"
#include "tests/harness/wait.h"
#include "tests/harness/zenith_env.h"

namespace zenith::testing {
namespace {

class PreparedBranch : public ::testing::Test {
 protected:
  PreparedBranch() : env_(dir_) {}
  void SetUp() override {
    ASSERT_FALSE(RunningAsRoot()) << "run the tests with tests/run.sh (PostgreSQL refuses root)";
    ASSERT_TRUE(env_.MustZenith({"init"}).ok());
    // The private PostgreSQL's directory goes into the test's own.
    env_.SetEnv("TMPDIR", dir_.path());
    ASSERT_TRUE(env_.MustZenith({"mount", "main", dir_.Sub("main")}).ok());
    Compute main(env_, "main", 5432);
    main.Start();
    main.Query("create table users (id int primary key, email text);"
               "insert into users values (1, 'alice@example.com'), (2, 'bob@example.com'); checkpoint");
    branch_lsn_ = main.Query("select pg_current_wal_insert_lsn()");
    ASSERT_TRUE(main.pg().Stop("fast").ok());
    ASSERT_TRUE(env_.MustZenith({"umount", dir_.Sub("main")}).ok());
    ASSERT_TRUE(WriteFileDurably(dir_.Sub("mask.sql"), "update users set email = 'user' || id || '@masked';\n").ok());
  }
  std::vector<std::string> Branches() {
    std::vector<std::string> names;
    auto doc = nlohmann::json::parse(env_.MustZenith({"branch", "--json"}).out, nullptr, false);
    if (doc.is_discarded()) return names;
    for (const auto& b : doc["branches"]) names.push_back(b["name"]);
    return names;
  }
  size_t Timelines() { return ListDirectory(env_.repo() + "/timelines").value_or(std::vector<std::string>{}).size(); }
  void Refused(const std::vector<std::string>& args, const std::string& says) {
    RunResult r = env_.Zenith(args);
    EXPECT_EQ(r.exit_code, 1) << r.Describe();
    EXPECT_NE(r.err.find(says), std::string::npos) << r.Describe();
  }

  TempDir dir_{"prepared"};
  ZenithEnv env_;
  std::string branch_lsn_;
};

TEST_F(PreparedBranch, TheScriptRunsBeforeAnyoneSeesTheBranch) {
  RunResult made = env_.MustZenith({"branch", "dev", "main", "--sql", dir_.Sub("mask.sql")});
  EXPECT_NE(made.out.find("readable from"), std::string::npos) << made.out;
  EXPECT_EQ(Branches(), (std::vector<std::string>{"dev", "main"}));

  ASSERT_TRUE(env_.MustZenith({"mount", "dev", dir_.Sub("dev")}).ok());
  Compute dev(env_, "dev", 5433);
  dev.Start();
  EXPECT_EQ(dev.Query("select string_agg(email, ',' order by id) from users"), "user1@masked,user2@masked");
  const std::string dump = PgDump(dev.ConnArgs());
  EXPECT_EQ(dump.find("example.com"), std::string::npos) << "the parent's data is nowhere in the branch";
  dev.Query("insert into users values (3, 'carol@masked')");
  ASSERT_TRUE(dev.pg().Stop("fast").ok());
  ASSERT_TRUE(env_.MustZenith({"umount", dir_.Sub("dev")}).ok());

  // Nothing of dev from before the script: not its branch point, not a
  // point of its parent's history reached through it.
  const std::string says = "before the first readable point of branch 'dev'";
  Refused({"mount", "--read-only", "dev@" + branch_lsn_, dir_.Sub("ro")}, says);
  Refused({"mount", "--read-only", "dev@0/1000000", dir_.Sub("ro")}, says);
  Refused({"export", "dev@" + branch_lsn_, dir_.Sub("copy")}, says);
  Refused({"branch", "kid", "dev@" + branch_lsn_}, says);
  Refused({"diff", "dev@" + branch_lsn_, "dev"}, says);
  EXPECT_FALSE(PathExists(dir_.Sub("copy")) && !ListDirectory(dir_.Sub("copy")).value().empty());
  // Its end of WAL, and children made from it, are fine; and the parent is untouched.
  ASSERT_TRUE(env_.MustZenith({"branch", "kid", "dev"}).ok());
  ASSERT_TRUE(env_.MustZenith({"mount", "--read-only", "kid", dir_.Sub("kid")}).ok());
  Compute kid(env_, "kid", 5434);
  kid.Start();
  EXPECT_EQ(kid.Query("select string_agg(email, ',' order by id) from users"),
            "user1@masked,user2@masked,carol@masked");
  ASSERT_TRUE(kid.pg().Stop("fast").ok());
  ASSERT_TRUE(env_.MustZenith({"umount", dir_.Sub("kid")}).ok());
  ASSERT_TRUE(env_.MustZenith({"mount", "--read-only", "main", dir_.Sub("then")}).ok());
  Compute then(env_, "then", 5435);
  then.Start();
  EXPECT_EQ(then.Query("select string_agg(email, ',' order by id) from users"), "alice@example.com,bob@example.com");
  ASSERT_TRUE(then.pg().Stop("fast").ok());
  ASSERT_TRUE(env_.MustZenith({"umount", dir_.Sub("then")}).ok());
}

TEST_F(PreparedBranch, AFailingScriptLeavesNoBranch) {
  const size_t timelines = Timelines();
  ASSERT_TRUE(WriteFileDurably(dir_.Sub("bad.sql"), "update users set email = 'x';\nselect * from nosuch;\n").ok());
  RunResult r = env_.Zenith({"branch", "dev", "main", "--sql", dir_.Sub("bad.sql")});
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_NE(r.err.find("branch 'dev' was not created"), std::string::npos) << r.Describe();
  EXPECT_NE(r.err.find("relation \"nosuch\" does not exist"), std::string::npos) << "psql's error: " << r.Describe();
  EXPECT_EQ(Branches(), (std::vector<std::string>{"main"}));
  EXPECT_EQ(Timelines(), timelines) << "the prepared timeline is gone at once";
  auto left = ListDirectory(dir_.path());
  for (const auto& name : left.value_or(std::vector<std::string>{})) EXPECT_FALSE(name.starts_with("zenith-pg-")) << name;
  RunResult status = env_.MustZenith({"status"});
  EXPECT_EQ(status.out.find("zenith-pg-"), std::string::npos) << status.out;

  // The name is free again.
  ASSERT_TRUE(env_.MustZenith({"branch", "dev", "main", "--sql", dir_.Sub("mask.sql")}).ok());
}

TEST_F(PreparedBranch, BadRequestsAreRefusedAndMakeNothing) {
  const size_t timelines = Timelines();
  Refused({"branch", "dev", "main", "--sql", dir_.Sub("missing.sql")}, "cannot read the SQL file");
  Refused({"branch", "dev", "nosuch", "--sql", dir_.Sub("mask.sql")}, "nosuch");
  Refused({"branch", "main", "main", "--sql", dir_.Sub("mask.sql")}, "already exists");
  Refused({"branch", "reset", "main", "--sql", dir_.Sub("mask.sql")}, "--sql goes with a new branch");
  Refused({"branch", "dev", "main@0/1", "--sql", dir_.Sub("mask.sql")}, "0/1");
  EXPECT_EQ(Branches(), (std::vector<std::string>{"main"}));
  EXPECT_EQ(Timelines(), timelines);
}

TEST_F(PreparedBranch, KilledMidwayLeavesTheRepositoryAsBefore) {
  const size_t timelines = Timelines();
  ASSERT_TRUE(WriteFileDurably(dir_.Sub("slow.sql"), "update users set email = 'x';\nselect pg_sleep(60);\n").ok());
  const std::string zenith = std::string(std::getenv("ZENITH_BIN_DIR")) + "/zenith";
  Child cli = Child::Start({zenith, "branch", "dev", "main", "--sql", dir_.Sub("slow.sql")}, dir_.Sub("prepare.log"),
                           {.cwd = dir_.path(), .env = {{"ZENITH_REPO", env_.repo()}, {"TMPDIR", dir_.path()}}});
  // Wait until the script runs: a private PostgreSQL is up on the prepared timeline.
  std::string pgdata;
  ASSERT_TRUE(WaitUntil(
      [&] {
        for (const auto& name : ListDirectory(dir_.path()).value_or(std::vector<std::string>{})) {
          if (name.starts_with("zenith-pg-") && PostmasterOf(dir_.Sub(name + "/pgdata")) != 0) {
            pgdata = dir_.Sub(name + "/pgdata");
            return true;
          }
        }
        return false;
      },
      std::chrono::seconds(60)));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // inside pg_sleep
  // kill -9 of every process: the CLI, PostgreSQL, zenith-fs, the page server.
  cli.Kill();
  KillTree(PostmasterOf(pgdata));
  for (pid_t fs : ProcessesWithArgument(pgdata)) KillTree(fs);
  if (pid_t ps = PageServerPid(env_)) KillTree(ps);
  RunCommand({"fusermount3", "-u", "-z", pgdata});

  EXPECT_EQ(Branches(), (std::vector<std::string>{"main"})) << "no branch dev, half made";
  env_.MustZenith({"gc"});  // what the killed preparation left is unreferenced: collected
  EXPECT_EQ(Timelines(), timelines);
  ASSERT_TRUE(env_.MustZenith({"branch", "dev", "main", "--sql", dir_.Sub("mask.sql")}).ok());
  EXPECT_EQ(Branches(), (std::vector<std::string>{"dev", "main"}));
}

}  // namespace
}  // namespace zenith::testing
