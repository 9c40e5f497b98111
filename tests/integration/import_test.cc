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
#include "tests/harness/test_env.h"
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
  PgCluster on_mount(dir_.Sub("main"), dir_.path(), 5444);
  ASSERT_TRUE(on_mount.Start().ok());
  EXPECT_TRUE(Dump(on_mount) == before) << "the import does not dump like the server did";
  EXPECT_EQ(on_mount.Query("select count(*) from pgbench_history"), "0");
  ASSERT_TRUE(on_mount.Stop("fast").ok());
  auto left = ListDirectory(dir_.path());
  ASSERT_TRUE(left.ok());
  for (const auto& name : *left) EXPECT_FALSE(name.starts_with(".zenith.basebackup")) << name << " was left behind";
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
