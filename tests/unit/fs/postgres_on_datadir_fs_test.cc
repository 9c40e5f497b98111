// Stock PostgreSQL 15 running on a DatadirFs mount whose relation pages come
// from a stopped cluster: it must behave as on a local data directory
// through writes, drops, VACUUM truncation, checkpoints (with
// sync_file_range), clean and crash restarts, and pg_amcheck.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "common/pg_abi.h"
#include "tests/harness/test_env.h"
#include "tests/unit/fs/mounted_datadir.h"

namespace zenith::fs::testing {
namespace {

namespace stdfs = std::filesystem;

// The checkpoint location pg_control records (its "Latest checkpoint
// location"), read at the offset PostgreSQL's headers give.
uint64_t CheckpointLocation(const std::string& pg_control) {
  uint64_t lsn = 0;
  if (pg_control.size() >= kZenithPgAbi.control.checkpoint + sizeof lsn) {
    std::memcpy(&lsn, pg_control.data() + kZenithPgAbi.control.checkpoint, sizeof lsn);
  }
  return lsn;
}

constexpr const char* kTableDigest =
    "SELECT count(*), sum(id), md5(string_agg(v, ',' ORDER BY id)) FROM t";

TEST(PostgresOnDatadirFs, RunsStockPostgresAndKeepsItsDataAcrossRestarts) {
  TempDir dir("pg-on-datadir-fs");
  SourceCluster src = SourceCluster::Make(dir);
  ASSERT_FALSE(src.t_path.empty());
  const std::string scratch = dir.Sub("scratch"), mnt = dir.Sub("mnt");
  std::map<std::string, uint64_t> remote = BuildScratch(src.datadir, scratch, dir.Sub("wal"));
  ASSERT_TRUE(stdfs::create_directory(mnt));
  DatadirPageSource pages(src.datadir);
  MountedDatadir mounted;
  Status s = mounted.Mount(scratch, mnt, remote, &pages);
  ASSERT_TRUE(s.ok()) << s.ToString();

  PgCluster pg(mnt, dir.path(), 5433);
  // Small shared buffers push pages out through the filesystem; the
  // *_flush_after settings make backends, the bgwriter and the checkpointer
  // call sync_file_range on relation files.
  const std::vector<std::string> settings = {"shared_buffers=1MB", "backend_flush_after=8",
                                             "bgwriter_flush_after=8", "checkpoint_flush_after=8",
                                             "data_sync_retry=off", "fsync=on"};
  s = pg.Start(settings);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(pg.Query("SELECT count(*), sum(id) FROM t"), "20000|200010000");
  EXPECT_EQ(pg.Query("SELECT count(*) FROM t WHERE v = repeat(md5('777'), 4)"), "1");

  // Updates first, so that the rows inserted last fill the table's tail,
  // which the delete empties and VACUUM then cuts off.
  pg.Query("UPDATE t SET v = v || 'u' WHERE id % 2 = 0");
  pg.Query("INSERT INTO t SELECT g, repeat(md5(g::text), 3) FROM generate_series(20001, 50000) g");
  pg.Query("DELETE FROM t WHERE id > 45000 OR id % 7 = 0");
  pg.Query("CREATE TABLE dropme AS SELECT g FROM generate_series(1, 10000) g");
  std::string dropped = pg.Query("SELECT pg_relation_filepath('dropme')");
  ASSERT_TRUE(stdfs::exists(mnt + "/" + dropped));
  pg.Query("DROP TABLE dropme");
  long before_vacuum = std::stol(pg.Query("SELECT pg_relation_size('t')"));
  pg.Query("VACUUM t");
  long after_vacuum = std::stol(pg.Query("SELECT pg_relation_size('t')"));
  EXPECT_LT(after_vacuum, before_vacuum) << "VACUUM should have truncated the emptied tail";
  pg.Query("CHECKPOINT");
  EXPECT_FALSE(stdfs::exists(mnt + "/" + dropped)) << "the checkpoint unlinks a dropped table's file";
  EXPECT_FALSE(stdfs::exists(scratch + "/" + dropped));
  const std::string digest = pg.Query(kTableDigest);
  EXPECT_EQ(digest.substr(0, digest.find('|')), "38572");

  s = pg.Stop("fast");
  ASSERT_TRUE(s.ok()) << s.ToString();
  s = pg.Start(settings);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(pg.Query(kTableDigest), digest);
  RunResult amcheck = RunCommand({PgBin("pg_amcheck"), "-h", dir.path(), "-p", "5433", "-U", "postgres",
                                  "--install-missing", "--all", "--heapallindexed", "--parent-check"});
  EXPECT_TRUE(amcheck.ok()) << amcheck.Describe();
  EXPECT_EQ(amcheck.out, "");

  // A crash: PostgreSQL recovers from its WAL (outside the mount) over the
  // pages on the mount, fsyncing the whole data directory first.
  pg.Query("INSERT INTO t VALUES (1000000, 'after the checkpoint')");
  s = pg.Stop("immediate");
  ASSERT_TRUE(s.ok()) << s.ToString();
  s = pg.Start(settings);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(pg.Query("SELECT v FROM t WHERE id = 1000000"), "after the checkpoint");
  pg.Query("DELETE FROM t WHERE id = 1000000");
  EXPECT_EQ(pg.Query(kTableDigest), digest);
  s = pg.Stop("fast");
  ASSERT_TRUE(s.ok()) << s.ToString();

  std::string log = pg.Log();
  EXPECT_EQ(log.find("PANIC"), std::string::npos) << log;
  EXPECT_EQ(log.find("could not flush dirty data"), std::string::npos) << log;
  EXPECT_EQ(log.find("ERROR"), std::string::npos) << log;

  // Every pg_control write reached on_control_write, newest last.
  std::vector<std::string> control = mounted.control_writes();
  ASSERT_GE(control.size(), 2u);
  for (const auto& c : control) EXPECT_EQ(c.size(), kZenithPgAbi.control_file_size);
  EXPECT_NE(CheckpointLocation(control.front()), CheckpointLocation(control.back()));
  std::string on_disk = ReadWholeFile(mnt + "/global/pg_control");
  EXPECT_EQ(control.back(), on_disk.substr(0, kZenithPgAbi.control_file_size));

  s = mounted.Unmount();
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_GT(ScratchRelationBytes(scratch), 0u) << "PostgreSQL's writes land in the scratch";
}

}  // namespace
}  // namespace zenith::fs::testing
