// Read-only mounts of any point of a branch's history (`zenith mount
// --read-only BRANCH@LSN|@TIME DIR`, fs/readonly_mount.h): stock PostgreSQL
// on each is a hot standby that sees exactly what was committed at its
// point, any number of them run alongside the read-write mount, nothing
// they do reaches the repository, and a restarted page server has them
// registered again within seconds.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/stat.h>

#include <map>
#include <sstream>

#include "common/file_util.h"
#include "tests/harness/compute.h"
#include "tests/harness/test_env.h"
#include "tests/harness/wait.h"
#include "tests/harness/zenith_env.h"

namespace zenith::testing {
namespace {

class ReadOnlyMount : public ::testing::Test {
 protected:
  ReadOnlyMount() : env_(dir_) {}
  void SetUp() override {
    ASSERT_FALSE(RunningAsRoot()) << "run the tests with tests/run.sh (PostgreSQL refuses root)";
    ASSERT_TRUE(env_.MustZenith({"init"}).ok());
  }
  RunResult MountReadOnly(const std::string& target, const std::string& name) {
    return env_.MustZenith({"mount", "--read-only", target, dir_.Sub(name)});
  }
  std::string MainTimeline() {
    auto names = ListDirectory(env_.repo() + "/timelines");
    return names.ok() && names->size() == 1 ? names->front() : "";
  }
  // Every file of main's timeline (layers and WAL) with its contents' size
  // and a checksum of them: what "the repository is unchanged" means.
  std::map<std::string, std::string> TimelineFiles() {
    std::map<std::string, std::string> files;
    const std::string tl = env_.repo() + "/timelines/" + MainTimeline();
    for (const char* sub : {"layers", "wal"}) {
      auto names = ListDirectory(tl + "/" + sub);
      EXPECT_TRUE(names.ok());
      for (const auto& name : names.value_or(std::vector<std::string>{})) {
        RunResult sum = RunCommand({"cksum", tl + "/" + sub + "/" + name});
        files[std::string(sub) + "/" + name] = sum.out.substr(0, sum.out.find(' ', sum.out.find(' ') + 1));
      }
    }
    return files;
  }
  static std::string Count(Compute& c) { return c.Query("select count(*), coalesce(sum(i), 0) from t"); }

  TempDir dir_{"readonly"};
  ZenithEnv env_;
};

TEST_F(ReadOnlyMount, EachPointSeesExactlyWhatWasCommittedThere) {
  ASSERT_TRUE(env_.MustZenith({"mount", "main", dir_.Sub("main")}).ok());
  Compute main(env_, "main", 5432);
  main.Start();
  main.Query("create table t (i int); checkpoint");
  main.Query("insert into t select generate_series(1, 1000)");
  // After the first batch's commit, before the second's: an LSN and a time.
  const std::string lsn = main.Query("select pg_current_wal_insert_lsn()");
  const std::string time =
      main.Query("select to_char(clock_timestamp() at time zone 'utc', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'");
  main.Query("insert into t select generate_series(1001, 2000)");
  const std::string first = "1000|500500", both = "2000|2001000";

  MountReadOnly("main@" + lsn, "at_lsn");
  MountReadOnly("main@" + time, "at_time");
  MountReadOnly("main", "at_end");
  Compute at_lsn(env_, "at_lsn", 5433), at_time(env_, "at_time", 5434), at_end(env_, "at_end", 5435);
  for (Compute* c : {&at_lsn, &at_time, &at_end}) c->Start();
  EXPECT_EQ(Count(at_lsn), first);
  EXPECT_EQ(Count(at_time), first);
  EXPECT_EQ(Count(at_end), both);
  EXPECT_EQ(Count(main), both) << "the read-write mount goes on beside them";
  for (Compute* c : {&at_lsn, &at_time, &at_end}) {
    EXPECT_EQ(c->Query("select pg_is_in_recovery()"), "t");
    std::vector<std::string> dump = {PgBin("pg_dump"), "-d", "postgres", "-t", "t", "--data-only"};
    for (const auto& a : c->ConnArgs()) dump.push_back(a);
    RunResult d = RunCommand(dump);
    EXPECT_TRUE(d.ok()) << d.Describe();
    EXPECT_NE(d.out.find("COPY public.t (i) FROM stdin;"), std::string::npos) << d.out;
  }
  RunResult status = env_.MustZenith({"status"});
  EXPECT_NE(status.out.find("read-only at " + lsn.substr(0, 2)), std::string::npos) << status.out;
  EXPECT_NE(status.out.find(dir_.Sub("at_time")), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("read-write"), std::string::npos) << status.out;
  RunResult pgcd = RunCommand({PgBin("pg_controldata"), dir_.Sub("at_lsn")});
  EXPECT_NE(pgcd.out.find("in archive recovery"), std::string::npos) << pgcd.Describe();

  // The read-write mount stores what it has; from now on the repository
  // must not change, whatever the read-only ones do.
  ASSERT_TRUE(main.pg().Stop("fast").ok());
  env_.MustZenith({"umount", dir_.Sub("main")});
  const auto before = TimelineFiles();
  ASSERT_FALSE(before.empty());
  for (Compute* c : {&at_lsn, &at_time, &at_end}) {
    RunResult write = c->pg().Psql("insert into t values (0)");
    EXPECT_FALSE(write.ok());
    EXPECT_NE(write.err.find("read-only transaction"), std::string::npos) << write.Describe();
    c->Query("checkpoint");  // a restartpoint: a new pg_control, in the mount's own scratch
    ASSERT_TRUE(c->pg().Stop("fast").ok());
  }
  for (const char* name : {"at_lsn", "at_time", "at_end"}) env_.MustZenith({"umount", dir_.Sub(name)});
  EXPECT_EQ(TimelineFiles(), before) << "a read-only mount wrote to the repository";
  auto datadirs = ListDirectory(env_.repo() + "/datadirs/" + MainTimeline());
  ASSERT_TRUE(datadirs.ok());
  for (const auto& name : *datadirs) EXPECT_FALSE(name.starts_with("readonly-")) << name << " was left behind";
}

// The page server keeps a read-only mount's registration in memory: when
// it restarts (stopped, or killed), the mount registers again, so that
// `zenith status` lists it and its branch cannot be deleted under it.
TEST_F(ReadOnlyMount, ItIsRegisteredAgainWhenThePageServerRestarts) {
  env_.MustZenith({"branch", "exp", "main"});
  MountReadOnly("exp", "ro");
  Compute ro(env_, "ro", 5433);
  ro.Start();
  const std::string dir = dir_.Sub("ro");
  auto listed = [&] { return env_.MustZenith({"status"}).out.find(dir) != std::string::npos; };
  auto refused = [&] {
    RunResult r = env_.Zenith({"branch", "delete", "exp"});
    return r.exit_code == 1 && r.err.find("exp") != std::string::npos;
  };
  ASSERT_TRUE(listed());
  EXPECT_TRUE(refused());

  for (const bool kill : {false, true}) {
    const pid_t before = PageServerPid(env_);
    ASSERT_GT(before, 0);
    if (kill) ASSERT_EQ(::kill(before, SIGKILL), 0);
    else env_.MustZenith({"pageserver", "stop"});
    env_.MustZenith({"pageserver", "start"});  // unless the mount's keepalive started one already
    ASSERT_NE(PageServerPid(env_), before);
    EXPECT_TRUE(WaitUntil(listed, std::chrono::seconds(10))) << (kill ? "after kill -9" : "after a stop")
                                                             << ": zenith status does not list " << dir;
    EXPECT_TRUE(refused()) << "the branch of a read-only mount was deleted under it";
    EXPECT_EQ(ro.Query("select count(*) > 0 from pg_class"), "t") << "its PostgreSQL went on";
  }
  ASSERT_TRUE(ro.pg().Stop("fast").ok());
  env_.MustZenith({"umount", dir});
  EXPECT_TRUE(env_.MustZenith({"branch", "delete", "exp"}).ok()) << "once unmounted, the branch can go";
}

std::string Dump(const Compute& c) { return PgDump(c.ConnArgs()); }

TEST_F(ReadOnlyMount, AnExportOfAPastPointStartsOnItsOwnAndMatchesAReadOnlyMount) {
  ASSERT_TRUE(env_.MustZenith({"mount", "main", dir_.Sub("main")}).ok());
  Compute main(env_, "main", 5432);
  main.Start();
  main.Query("create table t (i int); insert into t select generate_series(1, 1000); checkpoint");
  main.Query("create index on t (i); insert into t select generate_series(1001, 1500)");
  const std::string lsn = main.Query("select pg_current_wal_insert_lsn()");
  main.Query("insert into t select generate_series(1501, 2000); drop index t_i_idx");
  RunResult exported = env_.MustZenith({"export", "main@" + lsn, dir_.Sub("export")});
  EXPECT_NE(exported.out.find("exported branch main at "), std::string::npos) << exported.out;
  // Nothing of zenith is left in it.
  EXPECT_FALSE(PathExists(dir_.Sub("export/standby.signal")));
  auto conf = ReadFileToString(dir_.Sub("export/postgresql.auto.conf"));
  ASSERT_TRUE(conf.ok());
  EXPECT_EQ(conf->find("zenith"), std::string::npos) << *conf;
  struct stat st;
  ASSERT_EQ(::lstat(dir_.Sub("export/pg_wal").c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode)) << "pg_wal is a directory of its own";

  MountReadOnly("main@" + lsn, "then");
  Compute then(env_, "then", 5433);
  then.Start();
  // The export, under a plain pg_ctl start, with every zenith process of
  // the read-write mount stopped.
  ASSERT_TRUE(main.pg().Stop("fast").ok());
  env_.MustZenith({"umount", dir_.Sub("main")});
  Compute plain(env_, "export", 5434);
  plain.Start();
  EXPECT_EQ(Count(plain), "1500|1125750");
  EXPECT_EQ(plain.Query("select pg_is_in_recovery()"), "f") << "a primary of its own";
  EXPECT_TRUE(Dump(plain) == Dump(then)) << "the export and the read-only mount at its point dump differently";
  RunResult amcheck = Amcheck(plain);
  EXPECT_TRUE(amcheck.ok() && amcheck.out.empty()) << amcheck.Describe() << amcheck.out;
  plain.Query("insert into t values (0)");  // it takes writes, and they are its own
  EXPECT_EQ(Count(then), "1500|1125750");
}

TEST_F(ReadOnlyMount, AnExportRefusesANonEmptyDirectoryAndBadPointsAndLeavesThemAlone) {
  ASSERT_TRUE(MakeDirectories(dir_.Sub("full"), 0700).ok());
  ASSERT_TRUE(WriteFileDurably(dir_.Sub("full/keep"), "mine").ok());
  RunResult r = env_.Zenith({"export", "main", dir_.Sub("full")});
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_NE(r.err.find("is not empty"), std::string::npos) << r.err;
  EXPECT_EQ(ListDirectory(dir_.Sub("full")).value(), std::vector<std::string>{"keep"});
  for (const std::string bad : {"nosuch", "main@2000-01-01 00:00:00+00", "main@FF/0"}) {
    r = env_.Zenith({"export", bad, dir_.Sub("new")});
    EXPECT_EQ(r.exit_code, 1) << bad << ": " << r.Describe();
    EXPECT_FALSE(PathExists(dir_.Sub("new"))) << bad;
  }
}

TEST_F(ReadOnlyMount, BadPointsAreRefusedClearlyAndMountNothing) {
  auto refused = [&](const std::vector<std::string>& args, const std::string& says) {
    RunResult r = env_.Zenith(args);
    EXPECT_EQ(r.exit_code, 1) << r.Describe();
    EXPECT_NE(r.err.find(says), std::string::npos) << r.err;
    EXPECT_FALSE(PathExists(dir_.Sub("d"))) << "a refused mount makes no directory";
  };
  const std::string d = dir_.Sub("d");
  refused({"mount", "--read-only", "nosuch", d}, "nosuch");
  refused({"mount", "--read-only", "main@FF/0", d}, "beyond the end of WAL");
  refused({"mount", "--read-only", "main@2000-01-01 00:00:00+00", d}, "no commit at or before 2000-01-01 00:00:00+00");
  refused({"mount", "--read-only", "main@yesterday", d}, "is neither an LSN");
  refused({"mount", "--read-only", "main@", d}, "give an LSN or a time");
  refused({"mount", "main@0/1000000", d}, "--read-only");
}

TEST_F(ReadOnlyMount, APointOutsideTheHistoryKeptNamesTheOldestAvailable) {
  ASSERT_TRUE(env_.MustZenith({"mount", "main", dir_.Sub("main")}).ok());
  Compute main(env_, "main", 5432);
  main.Start();
  main.Query("create table t (i int)");
  const std::string early = main.Query("select pg_current_wal_insert_lsn()");
  for (int i = 0; i < 3; ++i) main.Query("insert into t select generate_series(1, 1000); select pg_switch_wal(); checkpoint");
  ASSERT_TRUE(main.pg().Stop("fast").ok());
  env_.MustZenith({"umount", dir_.Sub("main")});
  env_.MustZenith({"gc", "--window", "0s"});
  RunResult r = env_.Zenith({"mount", "--read-only", "main@" + early, dir_.Sub("old")});
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_NE(r.err.find("the oldest LSN still available is 0/"), std::string::npos) << r.err;
  // The end is still there.
  MountReadOnly("main", "now");
  Compute now(env_, "now", 5433);
  now.Start();
  EXPECT_EQ(Count(now), "3000|1501500");
}

}  // namespace
}  // namespace zenith::testing
