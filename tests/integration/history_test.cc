// History that lives (compaction, GC within a point-in-time window, branch
// deletion) with the real programs: a stock PostgreSQL 15 on real mounts,
// a thousand checkpoints, `zenith gc`, and kill -9 of the page server in
// the middle of compaction and GC.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <random>
#include <thread>

#include "common/file_util.h"
#include "common/lsn.h"
#include "tests/harness/compute.h"
#include "tests/harness/test_env.h"
#include "tests/harness/wait.h"
#include "tests/harness/zenith_env.h"

namespace zenith::testing {
namespace {

using Clock = std::chrono::steady_clock;

class HistoryIntegration : public ::testing::Test {
 protected:
  HistoryIntegration() : env_(dir_) {}
  void SetUp() override {
    ASSERT_FALSE(RunningAsRoot()) << "run the tests with tests/run.sh (PostgreSQL refuses root)";
  }
  void TearDown() override {
    if (HasFailure()) {
      RunResult log = RunCommand({"grep", "-v", "connection", env_.repo() + "/pageserver.log"});
      std::fprintf(stderr, "---- the page server's log, last lines ----\n%s\n", log.out.c_str());
    }
  }
  void Init() { ASSERT_TRUE(env_.MustZenith({"init"}).ok()); }
  void Mount(const std::string& branch, const std::string& name) {
    ASSERT_TRUE(env_.MustZenith({"mount", branch, dir_.Sub(name)}).ok());
  }
  void StopAndUnmount(Compute& compute) {
    EXPECT_TRUE(compute.pg().Stop("fast").ok());
    env_.MustZenith({"umount", compute.dir()});
    ASSERT_TRUE(RemoveTree(compute.dir()).ok());
  }

  std::string TimelineOf(const std::string& branch) {
    auto ref = ReadFileToString(env_.repo() + "/refs/branches/" + branch);
    EXPECT_TRUE(ref.ok()) << branch;
    return ref.ok() ? ref->substr(0, 32) : "";
  }
  std::vector<std::string> Files(const std::string& branch, const std::string& what) {
    auto names = ListDirectory(env_.repo() + "/timelines/" + TimelineOf(branch) + "/" + what);
    std::vector<std::string> out;
    if (!names.ok()) return out;
    for (const auto& n : *names) {
      if (what != "wal" || n.size() == 24) out.push_back(n);
    }
    return out;
  }

  // Waits until the page server stores the snapshot of the checkpoint whose
  // redo is `redo` (the mount uploads it after the checkpoint).
  void WaitForSnapshot(PgConnection& pageserver, const std::string& redo) {
    Status error;
    const bool arrived = WaitUntil(
        [&] {
          auto rows = pageserver.Query("snapshot_list main");
          if (!rows.ok()) error = rows.status();
          return !rows.ok() || (!rows->empty() && (*rows)[0][1] == redo);
        },
        std::chrono::seconds(60));
    ASSERT_TRUE(error.ok()) << error.ToString();
    ASSERT_TRUE(arrived) << "the snapshot of the checkpoint at redo " << redo << " never arrived";
  }
  std::unique_ptr<PgConnection> ConnectPageServer() {
    auto conn = PgConnection::Open("host=" + env_.repo() + " port=64000 user=zenith dbname=zenith");
    EXPECT_TRUE(conn.ok()) << conn.status().ToString();
    return conn.ok() ? std::move(*conn) : nullptr;
  }
  std::unique_ptr<PgConnection> ConnectCompute(Compute& compute) {
    auto conn = PgConnection::Open(compute.pg().ConnString());
    EXPECT_TRUE(conn.ok()) << conn.status().ToString();
    return conn.ok() ? std::move(*conn) : nullptr;
  }

  // Everything a checksum of the data should agree on.
  static std::string Fingerprint(Compute& c) {
    return c.Query("select count(*), sum(abalance), md5(string_agg(aid || ':' || abalance, ',' order by aid)) "
                   "from pgbench_accounts") +
           " | " + c.Query("select count(*), coalesce(max(i), 0), coalesce(sum(i), 0) from rounds");
  }

  TempDir dir_{"zenith-hist"};
  ZenithEnv env_;
};

TEST_F(HistoryIntegration, AThousandCheckpointsCompactAndGcKeepsTheWindow) {
  Init();
  Mount("main", "main");
  Compute main(env_, "main", 5432);
  main.Start();
  RunResult r = Pgbench(main, {"-i", "-s", "10", "-q"});
  ASSERT_TRUE(r.ok()) << r.Describe();
  main.Query("create table rounds (i int primary key); checkpoint");
  const size_t wal_after_load = Files("main", "wal").size();
  ASSERT_GE(wal_after_load, 8u);

  auto sql = ConnectCompute(main);
  auto pageserver = ConnectPageServer();
  ASSERT_TRUE(sql && pageserver);
  std::string mid_lsn, early_lsn;
  size_t most_layers = 0;
  for (int i = 1; i <= 1000; ++i) {
    const std::string n = std::to_string(i);
    ASSERT_TRUE(sql->Query("update pgbench_accounts set abalance = abalance + 1 where aid = " + n +
                           "; insert into rounds values (" + n + ")")
                    .ok());
    ASSERT_TRUE(sql->Query("checkpoint").ok());
    auto redo = sql->Query("select redo_lsn from pg_control_checkpoint()");
    ASSERT_TRUE(redo.ok());
    WaitForSnapshot(*pageserver, (*redo)[0][0]);
    if (i == 100) early_lsn = sql->Query("select pg_current_wal_lsn()").value()[0][0];
    if (i == 500) mid_lsn = sql->Query("select pg_current_wal_lsn()").value()[0][0];
    if (i % 50 == 0) most_layers = std::max(most_layers, Files("main", "layers").size());
  }
  // Compaction ran in the background all along: the layers never piled up
  // (it lags by the snapshots of a second or so, more on a loaded machine).
  EXPECT_LE(most_layers, 100u) << "1000 snapshots were stored";
  const std::string truth = Fingerprint(main);
  EXPECT_EQ(truth.substr(truth.find(" | ")), " | 1000|1000|500500");
  r = Amcheck(main);
  EXPECT_TRUE(r.ok() && r.out.empty()) << r.Describe();
  sql.reset();
  StopAndUnmount(main);
  const size_t wal_before_gc = Files("main", "wal").size();

  // A collection with the configured window (7 days) removes nothing
  // anyone could ask for; compaction finishes first.
  r = env_.MustZenith({"gc"});
  EXPECT_NE(r.out.find("main: history from "), std::string::npos) << r.out;
  EXPECT_LE(Files("main", "layers").size(), 12u) << "a read visits a bounded number of layers";
  EXPECT_EQ(Files("main", "wal").size(), wal_before_gc) << "the window reaches back to the import: all WAL stays";

  Mount("main", "main");
  Compute again(env_, "main", 5432);
  again.Start();
  EXPECT_EQ(Fingerprint(again), truth);
  EXPECT_EQ(again.Query("set enable_indexscan = off; set enable_bitmapscan = off; "
                        "select count(*), sum(abalance) from pgbench_accounts"),
            "1000000|1000");
  r = Amcheck(again);
  EXPECT_TRUE(r.ok() && r.out.empty()) << r.Describe();
  StopAndUnmount(again);

  // A branch from the middle of the run sees exactly the first 500 rounds.
  r = env_.MustZenith({"branch", "mid", "main@" + mid_lsn});
  EXPECT_NE(r.out.find("branching at "), std::string::npos) << r.out;
  Mount("mid", "mid");
  Compute mid(env_, "mid", 5433);
  mid.Start();
  EXPECT_EQ(mid.Query("select count(*), max(i), sum(i) from rounds"), "500|500|125250");
  EXPECT_EQ(mid.Query("select count(*) from pgbench_accounts where abalance = 1"), "500");
  StopAndUnmount(mid);

  // No window: history before now goes, the branch point stays.
  r = env_.MustZenith({"gc", "--window", "0s"});
  EXPECT_NE(r.out.find("WAL segments"), std::string::npos) << r.out;
  const auto wal = Files("main", "wal");
  EXPECT_LT(wal.size(), wal_before_gc - 4) << r.out;
  EXPECT_EQ(std::count(wal.begin(), wal.end(), "000000010000000000000001"), 0) << "the import's WAL is gone";
  r = env_.Zenith({"branch", "early", "main@" + early_lsn});
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_NE(r.err.find("is outside the history kept for branch 'main'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("the oldest LSN still available is 0/"), std::string::npos) << r.err;
  Mount("mid", "mid");
  Compute mid2(env_, "mid", 5433);
  mid2.Start();
  EXPECT_EQ(mid2.Query("select count(*), max(i) from rounds"), "500|500");
  StopAndUnmount(mid2);

  // Without the branch, the old layers go too.
  env_.MustZenith({"branch", "delete", "mid"});
  r = env_.MustZenith({"gc", "--window", "1s"});
  EXPECT_NE(r.out.find("(deleted)"), std::string::npos) << r.out;
  const auto layers = Files("main", "layers");
  EXPECT_LE(layers.size(), 3u) << r.out;
  for (const auto& name : layers) EXPECT_FALSE(name.starts_with("0000000001511B00")) << "the import's layer: " << name;
  Mount("main", "main");
  Compute last(env_, "main", 5432);
  last.Start();
  EXPECT_EQ(Fingerprint(last), truth);
  r = Amcheck(last);
  EXPECT_TRUE(r.ok() && r.out.empty()) << r.Describe();
}

TEST_F(HistoryIntegration, BranchDeleteRefusesChildrenAndMountsAndGcFreesALeaf) {
  Init();
  Mount("main", "main");
  Compute main(env_, "main", 5432);
  main.Start();
  main.Query("create table t (v int); insert into t values (1)");
  env_.MustZenith({"branch", "a", "main"});
  env_.MustZenith({"branch", "b", "a"});
  RunResult r = env_.Zenith({"branch", "delete", "a"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "zenith: branch 'a' has child branches (b); delete them first\n");

  Mount("b", "b");
  Compute b(env_, "b", 5433);
  b.Start();
  b.Query("insert into t select generate_series(2, 20000); checkpoint");
  r = env_.Zenith({"branch", "delete", "b"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("branch 'b' is mounted at " + b.dir()), std::string::npos) << r.err;
  const std::string b_timeline = env_.repo() + "/timelines/" + TimelineOf("b");
  StopAndUnmount(b);
  ASSERT_TRUE(PathExists(b_timeline));

  r = env_.MustZenith({"branch", "-v"});
  std::vector<std::string> lines;
  for (size_t at = 0, nl; (nl = r.out.find('\n', at)) != std::string::npos; at = nl + 1) lines.push_back(r.out.substr(at, nl - at));
  ASSERT_EQ(lines.size(), 4u) << r.out;
  EXPECT_TRUE(lines[0].starts_with("BRANCH  PARENT")) << r.out;
  EXPECT_TRUE(lines[2].starts_with("b ") && lines[2].find(" a@0/") != std::string::npos) << r.out;
  EXPECT_TRUE(lines[3].starts_with("main ") && lines[3].find(" - ") != std::string::npos) << r.out;

  r = env_.MustZenith({"branch", "delete", "b"});
  EXPECT_EQ(r.out, "deleted branch 'b'; the next `zenith gc` frees its space\n");
  EXPECT_EQ(env_.MustZenith({"branch"}).out, "a\nmain\n");
  r = env_.MustZenith({"gc"});
  EXPECT_NE(r.out.find("(deleted): removed its layers and WAL"), std::string::npos) << r.out;
  EXPECT_FALSE(PathExists(b_timeline)) << r.out;
  EXPECT_FALSE(PathExists(env_.repo() + "/datadirs/" + b_timeline.substr(b_timeline.size() - 32)));
  EXPECT_EQ(main.Query("select count(*) from t"), "1");
  r = env_.Zenith({"mount", "b", dir_.Sub("b2")});
  EXPECT_NE(r.err.find("branch 'b' does not exist"), std::string::npos) << r.Describe();
  r = env_.MustZenith({"branch", "delete", "a"});
  EXPECT_EQ(env_.MustZenith({"branch"}).out, "main\n");
}

// A running mount does not hold history back for its whole life: once the
// page server stores one of its snapshots, the mount reads at that one and
// lets go of the snapshot it started from, which GC then removes; pages the
// mount never read before still come back right.
TEST_F(HistoryIntegration, AMountsPinFollowsItsOwnSnapshots) {
  Init();
  Mount("main", "main");
  {
    Compute c(env_, "main", 5432);
    c.Start();
    c.Query("create table early (v int, s text); insert into early select g, repeat('e', 200) from generate_series(1, 20000) g; "
            "create table late (v int, s text); insert into late select g, repeat('l', 200) from generate_series(1, 20000) g");
    StopAndUnmount(c);
  }
  Mount("main", "main");  // starts from the snapshot of that clean stop
  Compute c(env_, "main", 5432);
  c.Start();
  auto pageserver = ConnectPageServer();
  ASSERT_TRUE(pageserver);
  auto pins = [&] { return pageserver->Query("mounts").value().at(0).at(4); };
  const std::string start = pins();
  ASSERT_TRUE(start.ends_with("+wal")) << "recovery may replay from the snapshot's redo: " << start;
  const std::string start_lsn = start.substr(0, start.find('+'));
  EXPECT_EQ(c.Query("select count(*) from early"), "20000");
  c.Query("insert into early values (0, 'after the mount'); checkpoint");
  // The new pin comes first; the old one goes a tick later.
  WaitUntil([&] { return pins().find(start_lsn) == std::string::npos; }, std::chrono::seconds(30));
  const std::string moved = pins();
  EXPECT_EQ(moved.find(start_lsn), std::string::npos) << moved;
  EXPECT_FALSE(moved.empty());
  EXPECT_EQ(moved.find("+wal"), std::string::npos) << "the mount's PostgreSQL has recovered: " << moved;

  RunResult r = env_.MustZenith({"gc", "--window", "0s"});
  const auto layers = Files("main", "layers");
  EXPECT_FALSE(std::any_of(layers.begin(), layers.end(), [&](const std::string& n) {
    char prefix[17];
    std::snprintf(prefix, sizeof prefix, "%016llX", static_cast<unsigned long long>(Lsn::Parse(start_lsn)->value));
    return n.starts_with(prefix);
  })) << "the snapshot the mount started from is gone: " << r.out;
  // Never read since the mount: these pages come from the page server now.
  EXPECT_EQ(c.Query("select count(*), sum(v) from late"), "20000|200010000");
  EXPECT_EQ(c.Query("select count(*) from early"), "20001");
  r = Amcheck(c);
  EXPECT_TRUE(r.ok() && r.out.empty()) << r.Describe();
}

// kill -9 of the page server at random moments of compaction and GC, which
// a test hook slows down; then mount again: every committed row is there
// and amcheck is clean. Some rounds keep the compute running through it.
TEST_F(HistoryIntegration, KillNineDuringCompactionAndGcLosesNothing) {
  // This test's programs: a page server that pauses 20 ms at each step of
  // compaction and GC (tests/programs/slow_history_pageserver.cc).
  ASSERT_TRUE(BinDirWith(dir_.Sub("bin"), ZenithBin("zenith-fs"), TestProgram("zenith-pageserver-slow-history")).ok());
  ::setenv("ZENITH_BIN_DIR", dir_.Sub("bin").c_str(), 1);  // each test is a process of its own
  Init();
  {
    Mount("main", "main");
    Compute c(env_, "main", 5432);
    c.Start();
    c.Query("create table rows (id int primary key, pad text)");
    StopAndUnmount(c);
  }
  std::mt19937 rng(20261129);
  int committed = 0;
  int kills = 0;
  for (int round = 0; round < 21; ++round) {
    Mount("main", "main");
    Compute c(env_, "main", 5432);
    c.Start();
    ASSERT_EQ(c.Query("select count(*), coalesce(sum(id), 0) from rows"),
              std::to_string(committed) + "|" + std::to_string(int64_t{committed} * (committed + 1) / 2))
        << "round " << round;
    RunResult check = Amcheck(c);
    ASSERT_TRUE(check.ok() && check.out.empty()) << "round " << round << ": " << check.Describe();
    if (round == 20) break;
    {  // Each checkpoint a snapshot: compaction has work.
      auto sql = ConnectCompute(c);
      auto pageserver = ConnectPageServer();
      ASSERT_TRUE(sql && pageserver);
      for (int k = 0; k < 12; ++k) {
        ASSERT_TRUE(sql->Query("insert into rows select g, repeat('p', 200) from generate_series(" +
                               std::to_string(committed + 1) + ", " + std::to_string(committed + 50) + ") g")
                        .ok());
        committed += 50;
        ASSERT_TRUE(sql->Query("checkpoint").ok());
        auto redo = sql->Query("select redo_lsn from pg_control_checkpoint()");
        ASSERT_TRUE(redo.ok());
        WaitForSnapshot(*pageserver, (*redo)[0][0]);
      }
    }
    const bool keep_running = round % 3 == 2;
    if (!keep_running) StopAndUnmount(c);
    // `zenith gc` compacts, then collects (a short window on odd rounds).
    std::vector<std::string> gc = {ZenithBin("zenith"), "gc"};
    if (round % 2 == 1) gc.insert(gc.end(), {"--window", "0s"});
    Child running = Child::Start(gc, dir_.Sub("gc.log"),
                                 {.cwd = dir_.path(), .env = {{"ZENITH_REPO", ""}}});
    // Not a wait for anything: the kill below lands at a random moment of
    // the compaction or collection.
    std::this_thread::sleep_for(std::chrono::milliseconds(30 + rng() % 300));
    if (pid_t ps = PageServerPid(env_); ps > 0) {
      KillTree(ps);
      ++kills;
    }
    running.Kill();
    if (keep_running) {
      // The mount brings the page server back; the compute goes on.
      EXPECT_EQ(c.Query("select count(*) from rows"), std::to_string(committed));
      StopAndUnmount(c);
    }
  }
  EXPECT_GE(kills, 20);
  // Most kills cut a run short (the others came after it finished).
  auto gc_log = ReadFileToString(dir_.Sub("gc.log")).value_or("");
  int finished = 0;
  for (size_t at = 0; (at = gc_log.find("gc: freed", at)) != std::string::npos; ++at) ++finished;
  EXPECT_LE(finished, 8) << gc_log;
  std::fprintf(stderr, "%d of 20 collections finished before the kill\n", finished);
}

}  // namespace
}  // namespace zenith::testing
