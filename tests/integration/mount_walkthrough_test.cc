// The walkthrough a user starts with (docs/design.md §1), as a user runs it:
// the real `zenith`, `zenith-pageserver` and `zenith-fs` processes, real FUSE
// mounts, stock PostgreSQL 15 started with pg_ctl, and real SIGKILLs.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <regex>
#include <thread>

#include "common/file_util.h"
#include "tests/harness/compute.h"
#include "tests/harness/pg_cluster.h"
#include "tests/harness/test_env.h"
#include "tests/harness/wait.h"
#include "tests/harness/zenith_env.h"

namespace zenith::testing {
namespace {

class MountWalkthrough : public ::testing::Test {
 protected:
  MountWalkthrough() : env_(dir_) {}
  void SetUp() override {
    ASSERT_FALSE(RunningAsRoot()) << "run the tests with tests/run.sh (PostgreSQL refuses root)";
    RunResult init = env_.MustZenith({"init"});
    ASSERT_TRUE(init.ok());
  }
  void Mount(const std::string& branch, const std::string& name) {
    RunResult r = env_.MustZenith({"mount", branch, dir_.Sub(name)});
    ASSERT_TRUE(r.ok());
  }
  // Mounts main, runs `sql` on a compute, stops it cleanly and unmounts:
  // afterwards the data lives only in the repository, so a fresh mount reads
  // it through the page server. Returns the output of `sql`.
  std::string LoadThenStopAndUnmount(const std::string& sql) {
    Mount("main", "main");
    Compute main(env_, "main", 5432);
    main.Start();
    std::string out = main.Query(sql);
    EXPECT_TRUE(main.pg().Stop("fast").ok());
    env_.MustZenith({"umount", dir_.Sub("main")});
    EXPECT_TRUE(RemoveTree(dir_.Sub("main")).ok());
    return out;
  }
  // kill -9 every zenith-fs of this user's mounts (every test owns its own).
  void CrashDaemons(const std::vector<std::string>& mounts) {
    RunResult status = env_.Zenith({"status"});
    for (const auto& m : mounts) {
      std::istringstream lines(status.out);
      std::string line;
      while (std::getline(lines, line)) {
        if (!line.ends_with(" " + dir_.Sub(m))) continue;
        std::istringstream fields(line);
        std::string branch;
        pid_t pid = 0;
        fields >> branch >> pid;
        KillTree(pid);
      }
    }
  }

  TempDir dir_{"zenith-walk"};
  ZenithEnv env_;
};

TEST_F(MountWalkthrough, BranchesSeeTheirOwnRowsAndSurviveKillNine) {
  EXPECT_EQ(env_.MustZenith({"branch"}).out, "main\n");
  Mount("main", "main");
  Compute main(env_, "main", 5432);
  main.Start();
  main.Query("create table foo (t text); insert into foo values ('inserted on the main branch')");

  RunResult branch = env_.MustZenith({"branch", "experimental", "main"});
  EXPECT_TRUE(branch.out.starts_with("branching at end of WAL: 0/")) << branch.out;
  EXPECT_EQ(env_.MustZenith({"branch"}).out, "experimental\nmain\n");
  Mount("experimental", "exp");
  Compute exp(env_, "exp", 5433);
  exp.Start();
  EXPECT_EQ(exp.Query("select * from foo"), "inserted on the main branch");
  exp.Query("insert into foo values ('inserted on experimental')");
  EXPECT_EQ(exp.Query("select * from foo order by t"), "inserted on experimental\ninserted on the main branch");
  EXPECT_EQ(main.Query("select * from foo"), "inserted on the main branch");

  // Crash every process, throw the data directories away, mount again.
  main.Crash();
  exp.Crash();
  CrashDaemons({"main", "exp"});
  env_.MustZenith({"umount", main.dir()});
  env_.MustZenith({"umount", exp.dir()});
  ASSERT_TRUE(RemoveTree(main.dir()).ok());
  ASSERT_TRUE(RemoveTree(exp.dir()).ok());
  ASSERT_TRUE(RemoveTree(env_.repo() + "/datadirs").ok());
  ASSERT_TRUE(MakeDirectories(env_.repo() + "/datadirs").ok());

  Mount("main", "main");
  Mount("experimental", "exp");
  Compute main2(env_, "main", 5432), exp2(env_, "exp", 5433);
  main2.Start();
  exp2.Start();
  EXPECT_EQ(main2.Query("select * from foo"), "inserted on the main branch");
  EXPECT_EQ(exp2.Query("select * from foo order by t"), "inserted on experimental\ninserted on the main branch");
  EXPECT_NE(main2.pg().Log().find("database system was not properly shut down; automatic recovery in progress"),
            std::string::npos)
      << main2.pg().Log();
  EXPECT_NE(exp2.pg().Log().find("redo starts at"), std::string::npos) << exp2.pg().Log();
}

TEST_F(MountWalkthrough, BranchAtPastLsnSeesExactlyTheEarlierCommits) {
  Mount("main", "main");
  Compute main(env_, "main", 5432);
  main.Start();
  main.Query("create table t (v int); insert into t values (1)");
  std::string lsn = main.Query("select pg_current_wal_lsn()");
  main.Query("insert into t values (2)");
  main.Query("insert into t values (3)");
  RunResult branch = env_.MustZenith({"branch", "past", "main@" + lsn});
  EXPECT_TRUE(branch.out.starts_with("branching at 0/")) << branch.out;
  Mount("past", "past");
  Compute past(env_, "past", 5434);
  past.Start();
  EXPECT_EQ(past.Query("select v from t order by v"), "1");
  EXPECT_EQ(main.Query("select v from t order by v"), "1\n2\n3");
  // The branch diverges without touching main.
  past.Query("insert into t values (100)");
  EXPECT_EQ(past.Query("select v from t order by v"), "1\n100");
  EXPECT_EQ(main.Query("select v from t order by v"), "1\n2\n3");
}

TEST_F(MountWalkthrough, CleanStopThenRemountReplaysNoWal) {
  LoadThenStopAndUnmount("create table t (v int); insert into t select generate_series(1, 1000)");
  ASSERT_EQ(::unlink(dir_.Sub("main.log").c_str()), 0);
  Mount("main", "main");
  Compute again(env_, "main", 5432);
  again.Start();
  EXPECT_EQ(again.Query("select count(*) from t"), "1000");
  std::string log = again.pg().Log();
  EXPECT_NE(log.find("database system was shut down at"), std::string::npos) << log;
  EXPECT_EQ(log.find("redo starts"), std::string::npos) << log;
}

TEST_F(MountWalkthrough, PgbenchCommitsSurviveKillNineAndAmcheckIsClean) {
  Mount("main", "main");
  Compute main(env_, "main", 5432);
  main.Start();
  RunResult r = Pgbench(main, {"-i", "-s", "10", "-q"});
  ASSERT_TRUE(r.ok()) << r.Describe();
  r = Pgbench(main, {"-c", "4", "-t", "250", "-n"});
  ASSERT_TRUE(r.ok()) << r.Describe();
  ASSERT_NE(r.out.find("number of transactions actually processed: 1000/1000"), std::string::npos) << r.out;

  main.Crash();
  CrashDaemons({"main"});
  env_.MustZenith({"umount", main.dir()});
  ASSERT_TRUE(RemoveTree(main.dir()).ok());
  Mount("main", "main");
  Compute again(env_, "main", 5432);
  again.Start();
  EXPECT_EQ(again.Query("select count(*) from pgbench_history"), "1000");
  // Every committed transaction's delta is in the balances, exactly once.
  EXPECT_EQ(again.Query("select (select sum(abalance) from pgbench_accounts) = "
                        "(select sum(delta) from pgbench_history)"),
            "t");
  r = Amcheck(again);
  EXPECT_TRUE(r.ok()) << r.Describe();
  EXPECT_EQ(r.out, "") << r.Describe();
}

TEST_F(MountWalkthrough, OrdinaryToolsWorkOnAMount) {
  const std::string relpath = LoadThenStopAndUnmount(
      "create table t (v int, s text); insert into t select g, repeat('x', 100) from generate_series(1, 5000) g; "
      "select pg_relation_filepath('t')");
  ASSERT_FALSE(relpath.empty());
  // A fresh mount: every block below now comes from the page server.
  Mount("main", "main");
  const std::string mnt = dir_.Sub("main");

  RunResult ls = RunCommand({"ls", "-R", mnt});
  EXPECT_TRUE(ls.ok()) << ls.Describe();
  EXPECT_NE(ls.out.find("pg_control"), std::string::npos);
  RunResult du = RunCommand({"du", "-s", "--block-size=1", mnt});
  EXPECT_TRUE(du.ok()) << du.Describe();
  EXPECT_GT(std::stoull(du.out), 20ull << 20) << "du should count the database's relation files";
  RunResult controldata = RunCommand({PgBin("pg_controldata"), mnt});
  EXPECT_TRUE(controldata.ok()) << controldata.Describe();
  EXPECT_NE(controldata.out.find("Database cluster state:               shut down"), std::string::npos);
  RunResult waldump = RunShell("cd " + mnt + "/pg_wal && " + PgBin("pg_waldump") + " -p . $(ls | grep -E '^[0-9A-F]{24}$' | head -1) | tail -3");
  EXPECT_NE(waldump.out.find("CHECKPOINT_SHUTDOWN"), std::string::npos) << waldump.Describe();

  // The bytes read through the mount are the pages PostgreSQL reads.
  auto bytes = ReadFileToString(mnt + "/" + relpath);
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  ASSERT_EQ(bytes->size() % 8192, 0u);
  ASSERT_GT(bytes->size(), 8192u * 10);
  Compute main(env_, "main", 5432);
  main.Start();
  main.Query("create extension pageinspect");
  for (size_t blk = 0; blk < bytes->size() / 8192; ++blk) {
    std::string hex = main.Query("select encode(get_raw_page('t', " + std::to_string(blk) + "), 'hex')");
    std::string expect;
    static const char* kDigits = "0123456789abcdef";
    for (size_t i = blk * 8192; i < (blk + 1) * 8192; ++i) {
      uint8_t b = static_cast<uint8_t>((*bytes)[i]);
      expect.push_back(kDigits[b >> 4]);
      expect.push_back(kDigits[b & 15]);
    }
    ASSERT_EQ(hex, expect) << "block " << blk;
  }
}

TEST_F(MountWalkthrough, ZenithStartStopAndStatus) {
  RunResult start = env_.MustZenith({"start", "main", "--", "-o",
                                     "-p 5440 -k " + dir_.path() + " -c listen_addresses=''", "-l", dir_.Sub("pg.log")});
  EXPECT_NE(start.out.find("Creating data directory from snapshot at 0/"), std::string::npos) << start.out;
  EXPECT_NE(start.out.find("server started"), std::string::npos) << start.out;
  RunResult status = env_.MustZenith({"status"});
  EXPECT_NE(status.out.find("main"), std::string::npos);
  EXPECT_NE(status.out.find("running (pid"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("/.zenith/datadirs/"), std::string::npos) << status.out;
  RunResult q = RunCommand({PgBin("psql"), "-X", "-A", "-t", "-h", dir_.path(), "-p", "5440", "-d", "postgres", "-c", "select 42"});
  EXPECT_EQ(q.out, "42\n") << q.Describe();
  env_.MustZenith({"stop", "main"});
  status = env_.MustZenith({"status"});
  EXPECT_EQ(status.out.find("main"), std::string::npos) << status.out;
}

// The number `pattern`'s group matched in its last match in `log`, or -1.
long LastNumber(const std::string& log, const std::string& pattern) {
  long found = -1;
  const std::regex re(pattern);
  for (auto it = std::sregex_iterator(log.begin(), log.end(), re); it != std::sregex_iterator(); ++it) {
    found = std::stol((*it)[1].str());
  }
  return found;
}

// A mount on the page server's machine reads the layer files of its
// snapshot itself (fs/local_layer_source.h); with ZENITH_FS_LOCAL_LAYERS=0
// every read goes over the socket. The files and the rows are the same
// both ways, byte for byte.
TEST_F(MountWalkthrough, AMountReadsItsSnapshotsLayerFilesAndSeesWhatTheSocketServes) {
  const std::string relpath = LoadThenStopAndUnmount(
      "create table big (v int, s text); insert into big select g, repeat('x', 200) from generate_series(1, 20000) g; "
      "update big set s = 'changed' where v % 7 = 0; select pg_relation_filepath('big')");
  ASSERT_FALSE(relpath.empty());
  const std::string query = "select count(*), md5(string_agg(big::text, ',' order by v)) from big";
  auto logs = ListDirectory(env_.repo() + "/datadirs");
  ASSERT_TRUE(logs.ok() && logs->size() == 1) << logs.status().ToString();
  const std::string fs_log = env_.repo() + "/datadirs/" + (*logs)[0] + "/zenith-fs.log";
  std::string files[2], rows[2];
  // Each way twice: the table's file as a fresh mount shows it, then the
  // rows a compute reads (the compute's hint bits change the file).
  for (int round = 0; round < 4; ++round) {
    const int local = round % 2 == 0;
    const bool with_compute = round >= 2;
    env_.SetEnv("ZENITH_FS_LOCAL_LAYERS", std::to_string(local));
    const size_t log_start = ReadFileToString(fs_log).value_or("").size();
    auto this_mount = [&] { return ReadFileToString(fs_log).value_or("").substr(log_start); };
    Mount("main", "main");
    if (local) {
      EXPECT_TRUE(WaitUntil([&] { return this_mount().find("reading pages from the layer files") != std::string::npos; },
                            std::chrono::seconds(10)))
          << this_mount();
    }
    if (with_compute) {
      Compute compute(env_, "main", 5432);
      compute.Start();
      rows[local] = compute.Query(query);
      EXPECT_TRUE(compute.pg().Stop("fast").ok());
    } else {
      files[local] = ReadFileToString(dir_.Sub("main") + "/" + relpath).value_or("unreadable");
    }
    env_.MustZenith({"umount", dir_.Sub("main")});
    ASSERT_TRUE(RemoveTree(dir_.Sub("main")).ok());
    const std::string log = this_mount();
    if (local) {
      EXPECT_GT(LastNumber(log, R"((\d+) pages from layer files)"), 500) << log;
    } else {
      EXPECT_EQ(log.find("pages from layer files"), std::string::npos) << log;
      EXPECT_GT(LastNumber(log, R"(GetPage: \d+ calls, (\d+) pages)"), 500) << log;
    }
  }
  EXPECT_GT(files[1].size(), 500u * 8192);
  EXPECT_TRUE(files[1] == files[0]) << "the table's file differs between the layer files and the socket";
  EXPECT_EQ(rows[1], rows[0]);
  EXPECT_EQ(rows[1].substr(0, 6), "20000|");
}

TEST_F(MountWalkthrough, PageServerKilledUnderARunningComputeComesBack) {
  LoadThenStopAndUnmount(
      "create table big (v int, s text); insert into big select g, repeat('x', 200) from generate_series(1, 20000) g");
  // Reads over the page server's socket, as a remote mount's are (a local
  // one reads the layer files itself once they are open).
  env_.SetEnv("ZENITH_FS_LOCAL_LAYERS", "0");
  Mount("main", "main");  // a fresh mount: the table's pages are only on the page server
  Compute main(env_, "main", 5432);
  main.Start();
  pid_t before = PageServerPid(env_);
  ASSERT_GT(before, 0);
  KillTree(before);

  // Reading the table needs GetPage: the mount brings a page server back.
  EXPECT_EQ(main.Query("select count(*), sum(v) from big"), "20000|200010000");
  pid_t after = PageServerPid(env_);
  EXPECT_GT(after, 0);
  EXPECT_NE(after, before);
  // The lease is re-taken, and the next checkpoint's snapshot arrives.
  main.Query("insert into big values (0, 'after the restart'); checkpoint");
  RunResult status = env_.MustZenith({"status"});
  EXPECT_NE(status.out.find(dir_.Sub("main")), std::string::npos) << status.out;
  // Three snapshots: the import, the clean stop, and the checkpoint after
  // the restart.
  const bool arrived = WaitUntil(
      [&] {
        RunResult snaps = RunCommand({PgBin("psql"), "-X", "-A", "-t", "-h", env_.repo(), "-p", "64000", "-d",
                                      "zenith", "-c", "snapshot_list main"});
        return std::count(snaps.out.begin(), snaps.out.end(), '\n') >= 3;
      },
      std::chrono::seconds(10));
  EXPECT_TRUE(arrived) << "no snapshot arrived after the page server restarted";
}

// A zenith-fs that never reports ready is stopped, its half-made mount
// taken down and its lease let go: nothing is orphaned, the next mount works.
// The daemon is tests/programs/never_ready_fs.cc, started by a `zenith`
// whose zenith-fs it is.
TEST_F(MountWalkthrough, ADaemonThatNeverGetsReadyIsStoppedNotOrphaned) {
  auto zenith = BinDirWithFs(dir_.Sub("bin"), TestProgram("zenith-fs-never-ready"));
  ASSERT_TRUE(zenith.ok()) << zenith.status().message();
  env_.EditConfig([](nlohmann::json& c) { c["mount_timeout"] = "2s"; });
  RunResult r = RunCommand({*zenith, "mount", "main", dir_.Sub("hung")},
                           {.cwd = dir_.path(), .env = {{"ZENITH_REPO", ""}}});
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_NE(r.err.find("zenith-fs did not become ready in time and was stopped"), std::string::npos) << r.err;
  WaitGone(ProcessesWithArgument(dir_.Sub("hung")));
  EXPECT_TRUE(ProcessesWithArgument(dir_.Sub("hung")).empty()) << "no daemon is left behind";
  RunResult mounts = RunCommand({"grep", "-c", dir_.Sub("hung"), "/proc/self/mounts"});
  EXPECT_EQ(mounts.out, "0\n") << "no mount is left behind";
  Mount("main", "hung");  // the lease went with the daemon's connection
}

TEST_F(MountWalkthrough, BadInputGetsClearErrorsAndChangesNothing) {
  RunResult r = env_.Zenith({"mount", "nope", dir_.Sub("x")});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("branch 'nope' does not exist"), std::string::npos) << r.Describe();

  ASSERT_TRUE(MakeDirectories(dir_.Sub("full")).ok());
  ASSERT_TRUE(WriteFileDurably(dir_.Sub("full/file"), "x").ok());
  r = env_.Zenith({"mount", "main", dir_.Sub("full")});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("is not empty"), std::string::npos) << r.Describe();
  EXPECT_TRUE(PathExists(dir_.Sub("full/file")));

  Mount("main", "m1");
  r = env_.Zenith({"mount", "main", dir_.Sub("m2")});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("already mounted read-write at " + dir_.Sub("m1")), std::string::npos) << r.Describe();

  r = env_.Zenith({"umount", dir_.Sub("full")});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("is not a zenith mount"), std::string::npos) << r.Describe();
  EXPECT_TRUE(PathExists(dir_.Sub("full/file")));

  env_.MustZenith({"branch", "other", "main"});
  r = RunCommand({ZenithBin("zenith"), "mount", "other", dir_.Sub("m3")},
                 {.cwd = dir_.path(), .env = {{"ZENITH_FUSE_DEVICE", dir_.Sub("no-such-device")}}});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("FUSE is not available"), std::string::npos) << r.Describe();
}

}  // namespace
}  // namespace zenith::testing
