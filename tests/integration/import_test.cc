// `zenith init --from-datadir DIR` and `--from CONNSTR`: an existing,
// stopped PostgreSQL 15 cluster, or a base backup of a running one, becomes
// branch main, with its data and its system identifier;
// a running cluster, another major version or something that is no data
// directory is refused, and no repository is left behind.
#include <gtest/gtest.h>

#include <sstream>

#include "common/file_util.h"
#include "tests/harness/compute.h"
#include "tests/harness/pg_cluster.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/test_env.h"
#include "tests/harness/wait.h"
#include "tests/harness/zenith_env.h"

namespace zenith::testing {
namespace {

class InitFromDatadir : public ::testing::Test {
 protected:
  InitFromDatadir() : env_(dir_) {}
  void SetUp() override { ASSERT_FALSE(RunningAsRoot()) << "run the tests with tests/run.sh"; }

  static std::string Dump(const PgCluster& pg) {
    return PgDump({"-h", pg.socket_dir(), "-p", std::to_string(pg.port()), "-U", "postgres"});
  }
  static std::string SystemId(const std::string& datadir) {
    RunResult r = RunCommand({PgBin("pg_controldata"), datadir});
    const size_t at = r.out.find("Database system identifier:");
    return at == std::string::npos ? "" : r.out.substr(at, r.out.find('\n', at) - at);
  }
  void ExpectRefused(const std::string& source, const std::string& says) {
    RunResult r = env_.Zenith({"init", "--from-datadir", source});
    EXPECT_EQ(r.exit_code, 1) << r.Describe();
    EXPECT_NE(r.err.find(says), std::string::npos) << r.err;
    EXPECT_FALSE(PathExists(env_.repo())) << "a refused import leaves no repository";
  }

  TempDir dir_{"import"};
  ZenithEnv env_;
};

TEST_F(InitFromDatadir, AStoppedClusterBecomesMainWithItsDataAndSystemIdentifier) {
  PgCluster source(dir_.Sub("source"), dir_.path(), 5440);
  ASSERT_TRUE(source.Initdb().ok());
  ASSERT_TRUE(source.Start().ok());
  RunResult bench = RunCommand({PgBin("pgbench"), "-i", "-s", "3", "-q", "-h", dir_.path(), "-p", "5440", "-U",
                                "postgres", "postgres"});
  ASSERT_TRUE(bench.ok()) << bench.Describe();
  source.Query("create table notes (id serial primary key, body text); insert into notes (body) values ('kept')");
  const std::string before = Dump(source);
  ExpectRefused(dir_.Sub("source"), "is running");
  ASSERT_TRUE(source.Stop("fast").ok());

  RunResult init = env_.MustZenith({"init", "--from-datadir", dir_.Sub("source")});
  EXPECT_NE(init.out.find("new zenith repository was created in .zenith from " + dir_.Sub("source")),
            std::string::npos)
      << init.out;
  env_.MustZenith({"branch", "copy", "main"});
  for (const char* branch : {"main", "copy"}) {
    const std::string mount = dir_.Sub(std::string("m-") + branch);
    ASSERT_TRUE(env_.MustZenith({"mount", branch, mount}).ok());
    EXPECT_EQ(SystemId(mount), SystemId(dir_.Sub("source")));
    EXPECT_FALSE(SystemId(mount).empty());
    EXPECT_EQ(ReadFileToString(mount + "/pg_hba.conf").value_or("mount"),
              ReadFileToString(dir_.Sub("source/pg_hba.conf")).value_or("source"))
        << "an import keeps the source's pg_hba.conf";
    PgCluster on_mount(mount, dir_.path(), 5441);
    ASSERT_TRUE(on_mount.Start().ok());
    EXPECT_TRUE(Dump(on_mount) == before) << branch << " does not dump like the source";
    EXPECT_EQ(on_mount.Query("select count(*) from pgbench_accounts"), "300000");
    ASSERT_TRUE(on_mount.Stop("fast").ok());
    env_.MustZenith({"umount", mount});
  }
  EXPECT_TRUE(PathExists(dir_.Sub("source/PG_VERSION"))) << "the source is only read";
}

TEST_F(InitFromDatadir, ARunningServerIsImportedThroughABaseBackup) {
  PgCluster source(dir_.Sub("source"), dir_.path(), 5443);
  ASSERT_TRUE(source.Initdb().ok());
  ASSERT_TRUE(source.Start().ok());
  RunResult bench = RunCommand({PgBin("pgbench"), "-i", "-s", "2", "-q", "-h", dir_.path(), "-p", "5443", "-U",
                                "postgres", "postgres"});
  ASSERT_TRUE(bench.ok()) << bench.Describe();
  const std::string before = Dump(source);
  const std::string conninfo = "host=" + dir_.path() + " port=5443 user=postgres dbname=postgres";
  RunResult init = env_.MustZenith({"init", "--from", conninfo});
  EXPECT_NE(init.out.find("new zenith repository was created in .zenith from the server"), std::string::npos)
      << init.out;
  source.Query("insert into pgbench_history (tid, bid, aid, delta) values (1, 1, 1, 1)");  // after: not imported
  ASSERT_TRUE(env_.MustZenith({"mount", "main", dir_.Sub("main")}).ok());
  EXPECT_EQ(SystemId(dir_.Sub("main")), SystemId(dir_.Sub("source")));
  EXPECT_EQ(ReadFileToString(dir_.Sub("main/pg_hba.conf")).value_or("mount"),
            ReadFileToString(dir_.Sub("source/pg_hba.conf")).value_or("source"))
      << "an import keeps the source's pg_hba.conf";
  PgCluster on_mount(dir_.Sub("main"), dir_.path(), 5444);
  ASSERT_TRUE(on_mount.Start().ok());
  EXPECT_TRUE(Dump(on_mount) == before) << "the import does not dump like the server did";
  EXPECT_EQ(on_mount.Query("select count(*) from pgbench_history"), "0");
  ASSERT_TRUE(on_mount.Stop("fast").ok());
  auto left = ListDirectory(dir_.path());
  ASSERT_TRUE(left.ok());
  for (const auto& name : *left) EXPECT_FALSE(name.starts_with(".zenith.basebackup")) << name << " was left behind";
}

// pgbench's TPC-B keeps four sums equal in every committed state: a copy
// that mixed pages from before and after some transaction would not.
std::string Ledger(const PgCluster& pg) {
  return pg.Query(
      "select (select count(*) from pgbench_history) || ' ' || (select sum(abalance) from pgbench_accounts) || ' ' ||"
      " (select sum(bbalance) from pgbench_branches) || ' ' || (select sum(tbalance) from pgbench_tellers) || ' ' ||"
      " (select coalesce(sum(delta), 0) from pgbench_history)");
}
bool Balanced(const std::string& ledger) {
  std::istringstream in(ledger);
  long count = 0, accounts = 1, branches = 2, tellers = 3, history = 4;
  in >> count >> accounts >> branches >> tellers >> history;
  return !in.fail() && accounts == branches && branches == tellers && tellers == history;
}

// The base backup is copied while transactions commit, so its pages are
// from many moments; replaying its WAL from the backup's start past its end
// makes one consistent state of them. Every way of running PostgreSQL on
// main (read-only mount, export, mount) sees that same state.
TEST_F(InitFromDatadir, AServerUnderLoadIsImportedInOneConsistentState) {
  PgCluster source(dir_.Sub("source"), dir_.path(), 5445);
  ASSERT_TRUE(source.Initdb().ok());
  ASSERT_TRUE(source.Start().ok());
  const std::vector<std::string> conn = {"-h", dir_.path(), "-p", "5445", "-U", "postgres"};
  std::vector<std::string> init = {PgBin("pgbench"), "-i", "-s", "8", "-q"};
  init.insert(init.end(), conn.begin(), conn.end());
  init.push_back("postgres");
  ASSERT_TRUE(RunCommand(init).ok());
  std::vector<std::string> load = {PgBin("pgbench"), "-c", "2", "-T", "60", "-n"};
  load.insert(load.end(), conn.begin(), conn.end());
  load.push_back("postgres");
  Child pgbench = Child::Start(load, dir_.Sub("pgbench.log"));
  // Checkpoints during the backup: the pg_control it copies last names a
  // later checkpoint than the backup's start, from which replay would miss
  // changes to pages copied before it.
  Child checkpoints = Child::Start(
      {"bash", "-c", "while " + PgBin("psql") + " -qAt -h " + dir_.path() + " -p 5445 -U postgres -c checkpoint postgres;" +
                         " do sleep 0.1; done"},
      dir_.Sub("checkpoints.log"));
  ASSERT_TRUE(WaitUntil([&] { return source.Query("select count(*) > 100 from pgbench_history") == "t"; },
                        std::chrono::seconds(30)));
  env_.MustZenith({"init", "--from", "host=" + dir_.path() + " port=5445 user=postgres dbname=postgres"});
  ASSERT_TRUE(pgbench.running()) << "the load ran for the whole import";
  ASSERT_TRUE(checkpoints.running());
  pgbench.Kill();
  checkpoints.Kill();
  ASSERT_TRUE(source.Stop("immediate").ok());

  ASSERT_TRUE(env_.MustZenith({"mount", "--read-only", "main", dir_.Sub("ro")}).ok());
  PgCluster read_only(dir_.Sub("ro"), dir_.path(), 5446);
  ASSERT_TRUE(read_only.Start().ok()) << read_only.Log();
  const std::string ledger = Ledger(read_only);
  EXPECT_TRUE(Balanced(ledger)) << ledger;
  EXPECT_GT(std::stol(ledger), 100) << "the transactions committed before the backup are in it";
  ASSERT_TRUE(read_only.Stop("fast").ok());
  env_.MustZenith({"umount", dir_.Sub("ro")});

  env_.MustZenith({"export", "main", dir_.Sub("export")});
  PgCluster exported(dir_.Sub("export"), dir_.path(), 5447);
  ASSERT_TRUE(exported.Start().ok()) << exported.Log();
  EXPECT_EQ(Ledger(exported), ledger);
  ASSERT_TRUE(exported.Stop("fast").ok());

  ASSERT_TRUE(env_.MustZenith({"mount", "main", dir_.Sub("main")}).ok());
  PgCluster on_mount(dir_.Sub("main"), dir_.path(), 5448);
  ASSERT_TRUE(on_mount.Start().ok()) << on_mount.Log();
  EXPECT_EQ(Ledger(on_mount), ledger);
  RunResult check = RunCommand({PgBin("pg_amcheck"), "--install-missing", "--heapallindexed", "-d", "postgres", "-h",
                                dir_.path(), "-p", "5448", "-U", "postgres"});
  EXPECT_TRUE(check.ok()) << check.Describe();
  ASSERT_TRUE(on_mount.Stop("fast").ok());
}

TEST_F(InitFromDatadir, ABaseBackupTheServerRefusesIsAClearErrorAndNoRepository) {
  PgCluster source(dir_.Sub("source"), dir_.path(), 5449);
  ASSERT_TRUE(source.Initdb().ok());
  ASSERT_TRUE(source.Start().ok());
  source.Query("create role plain login");  // may connect, may not take a base backup
  RunResult r = env_.Zenith({"init", "--from", "host=" + dir_.path() + " port=5449 user=plain dbname=postgres"});
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_NE(r.err.find("pg_basebackup failed"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("replication"), std::string::npos) << "the server's reason is shown: " << r.err;
  EXPECT_FALSE(PathExists(env_.repo()));
  auto left = ListDirectory(dir_.path());
  ASSERT_TRUE(left.ok());
  for (const auto& name : *left) EXPECT_FALSE(name.starts_with(".zenith")) << name << " was left behind";
}

// A password in --from's connection string is the user's to type, but no
// program zenith starts shows it in its arguments (anyone may read
// /proc/PID/cmdline), and no message repeats it. A pg_basebackup that
// records its own and its parent's arguments stands in for the real one.
TEST_F(InitFromDatadir, APasswordInTheConnectionStringReachesNoProcessArgumentsAndNoMessage) {
  PgCluster source(dir_.Sub("source"), dir_.path(), 5450);
  ASSERT_TRUE(source.Initdb().ok());
  ASSERT_TRUE(source.Start().ok());
  const std::string password = "Pw-in-conninfo-7Qz";
  source.Query("create table notes (body text); insert into notes values ('kept');"
               "alter role postgres password '" + password + "'");
  ASSERT_TRUE(WriteFileDurably(dir_.Sub("source/pg_hba.conf"),
                               "local all all scram-sha-256\nlocal replication all scram-sha-256\n")
                  .ok());
  source.Query("select pg_reload_conf()");
  ASSERT_TRUE(WaitUntil([&] { return !source.Psql("select 1").ok(); }, std::chrono::seconds(30)))
      << "the source still lets clients in without a password";

  const std::string bin = dir_.Sub("pgbin"), seen = dir_.Sub("arguments.log");
  ASSERT_TRUE(MakeDirectories(bin, 0700).ok());
  ASSERT_TRUE(RunShell("for f in " + DirName(PgBin("initdb")) + "/*; do ln -s \"$f\" " + bin + "/; done").ok());
  ASSERT_TRUE(RemoveFile(bin + "/pg_basebackup").ok());
  ASSERT_TRUE(WriteFileDurably(bin + "/pg_basebackup",
                               "#!/bin/sh\n{ tr '\\0' ' ' < /proc/$$/cmdline; echo; tr '\\0' ' ' < /proc/$PPID/cmdline; "
                               "echo; } >> " + seen + "\nexec " + PgBin("pg_basebackup") + " \"$@\"\n",
                               0700)
                  .ok());
  env_.SetEnv("ZENITH_PG_BIN", bin);
  env_.SetEnv("PGPASSFILE", "/dev/null");
  const std::string conninfo = "host=" + dir_.path() + " port=5450 user=postgres dbname=postgres";

  RunResult wrong = env_.Zenith({"init", "--from", conninfo + " password=Wrong-" + password});
  EXPECT_EQ(wrong.exit_code, 1) << wrong.Describe();
  EXPECT_NE(wrong.err.find("password authentication failed"), std::string::npos) << wrong.err;
  EXPECT_EQ((wrong.out + wrong.err).find(password), std::string::npos) << wrong.Describe();
  EXPECT_FALSE(PathExists(env_.repo()));

  RunResult init = env_.MustZenith({"init", "--from", conninfo + " password=" + password});
  EXPECT_EQ((init.out + init.err).find(password), std::string::npos) << init.Describe();
  const std::string arguments = ReadFileToString(seen).value_or("");
  EXPECT_NE(arguments.find("pg_basebackup"), std::string::npos) << arguments;
  EXPECT_NE(arguments.find("zenith-pageserver"), std::string::npos) << arguments;
  EXPECT_EQ(arguments.find(password), std::string::npos) << arguments;
  ASSERT_TRUE(source.Stop("fast").ok());
  ASSERT_TRUE(env_.MustZenith({"mount", "main", dir_.Sub("main")}).ok());
  PgCluster on_mount(dir_.Sub("main"), dir_.path(), 5451);
  ASSERT_TRUE(on_mount.Start().ok()) << on_mount.Log();
  RunResult notes = RunCommand({PgBin("psql"), "-X", "-A", "-t", "-w", "-h", dir_.path(), "-p", "5451", "-U",
                                "postgres", "-d", "postgres", "-c", "select body from notes"},
                               {.env = {{"PGPASSWORD", password}, {"PGPASSFILE", "/dev/null"}}});
  EXPECT_EQ(notes.out, "kept\n") << notes.Describe();
  ASSERT_TRUE(on_mount.Stop("fast").ok());
}

TEST_F(InitFromDatadir, AServerThatCannotBeReachedIsAClearErrorAndNoRepository) {
  RunResult r = env_.Zenith({"init", "--from", "host=" + dir_.path() + " port=5449 user=postgres dbname=postgres"});
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_NE(r.err.find("cannot connect to"), std::string::npos) << r.err;
  EXPECT_FALSE(PathExists(env_.repo()));
}

TEST_F(InitFromDatadir, WhatIsNotAStoppedPostgres15ClusterIsRefused) {
  ExpectRefused(dir_.Sub("nowhere"), "nowhere");
  ASSERT_TRUE(MakeDirectories(dir_.Sub("empty"), 0700).ok());
  ExpectRefused(dir_.Sub("empty"), "is not a PostgreSQL data directory");
  ASSERT_TRUE(MakeDirectories(dir_.Sub("pg14"), 0700).ok());
  ASSERT_TRUE(WriteFileDurably(dir_.Sub("pg14/PG_VERSION"), "14\n").ok());
  ExpectRefused(dir_.Sub("pg14"), "is a PostgreSQL 14 data directory; zenith needs PostgreSQL 15");
  // A cluster that crashed: its pg_control says so.
  PgCluster crashed(dir_.Sub("crashed"), dir_.path(), 5442);
  ASSERT_TRUE(crashed.Initdb().ok());
  ASSERT_TRUE(crashed.Start().ok());
  ASSERT_TRUE(crashed.Stop("immediate").ok());
  ExpectRefused(dir_.Sub("crashed"), "was not shut down cleanly");
}

}  // namespace
}  // namespace zenith::testing
