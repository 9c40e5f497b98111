#include "common/backup_rules.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <set>

#include "common/byte_io.h"
#include "common/file_util.h"
#include "common/pg_abi.h"
#include "common/tar.h"
#include "tests/harness/pg_cluster.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/temp_dir.h"
#include "tests/harness/test_env.h"

namespace zenith {
namespace {

using testing::PgCluster;
using testing::TempDir;

std::string InTablespace(const std::string& rest) {
  return "pg_tblspc/16400/" + std::string(kZenithPgAbi.tablespace_version_directory) + "/" + rest;
}

TEST(BackupRules, LeavesOutWhatPostgres15LeavesOut) {
  for (const std::string& path : std::vector<std::string>{
           // excludeFiles, matched by name at any depth
           "postmaster.pid", "postmaster.opts", "backup_label", "tablespace_map", "backup_manifest",
           "postgresql.auto.conf.tmp", "current_logfiles.tmp", "global/pg_internal.init", "base/5/pg_internal.init",
           "base/5/pg_internal.init.12345",  // prefix match: the relcache init file's temp files
           // PG_TEMP_FILE_PREFIX, any entry at any depth, and all below it
           "base/pgsql_tmp", "base/pgsql_tmp/pgsql_tmp1234.0", "base/5/pgsql_tmp42", "pgsql_tmp",
           InTablespace("pgsql_tmp/pgsql_tmp99.1"),
           // temp relations in database directories
           "base/5/t3_16384", "base/5/t3_16384_fsm", "base/5/t3_16384.1", "base/5/t12_1_init.2", InTablespace("5/t4_99"),
           // contents of excludeDirContents and pg_wal
           "pg_wal/000000010000000000000001", "pg_wal/archive_status/000000010000000000000001.done",
           "pg_wal/xlogtemp.123", "pg_stat_tmp/pg_stat_statements.stat", "pg_replslot/s1", "pg_replslot/s1/state",
           "pg_dynshmem/mmap.1", "pg_notify/0000", "pg_serial/0000", "pg_snapshots/00000003-0000001B-1",
           "pg_subtrans/0000",
           // spelled with "./" and a trailing '/'
           "./postmaster.pid", "./pg_notify/0000/",
       }) {
    EXPECT_TRUE(IsExcludedFromBackup(path, false)) << path;
    EXPECT_TRUE(IsExcludedFromBackup(path, true)) << path;
  }
  // pg_wal/archive_status is sent as an empty directory, but a file there is not.
  EXPECT_TRUE(IsExcludedFromBackup("pg_wal/archive_status", false));
}

TEST(BackupRules, KeepsEverythingElseIncludingUnloggedRelations) {
  for (const std::string& path : std::vector<std::string>{
           "PG_VERSION", "postgresql.conf", "postgresql.auto.conf", "pg_hba.conf", "global/pg_control",
           "global/pg_filenode.map", "global/1262", "base/5/16384", "base/5/16384_fsm", "base/5/16384.1",
           "base/5/PG_VERSION", "pg_xact/0000", "pg_multixact/offsets/0000", "pg_logical/replorigin_checkpoint",
           "pg_stat/pgstat.stat", "pg_tblspc/16400", InTablespace("5/16401"),
           // an unlogged relation: every fork is kept (see backup_rules.h)
           "base/5/16385", "base/5/16385_init", "base/5/16385_fsm",
           // exact names only
           "backup_label.old", "postmaster.pid.bak", "xpostmaster.pid", "pg_internal.ini",
           // not temp relation names, or not in a database directory
           "base/5/t3_16384x", "base/5/tt3_1", "base/5/t_1", "base/5/t3_", "base/5/t3_1_main", "base/5/t3_1.",
           "t3_16384", "global/t3_1", "base/t3_1", "base/5x/t3_1",
           // the kept directories themselves
           "pg_wal", "pg_stat_tmp", "pg_replslot", "pg_dynshmem", "pg_notify", "pg_serial", "pg_snapshots",
           "pg_subtrans", "base", "base/5", "global", "pg_tblspc", "",
       }) {
    EXPECT_FALSE(IsExcludedFromBackup(path, false)) << path;
    EXPECT_FALSE(IsExcludedFromBackup(path, true)) << path;
  }
  EXPECT_FALSE(IsExcludedFromBackup("pg_wal/archive_status", true));
}

TEST(BackupRules, DirectoriesKeptEmptyAreExactlyPostgres15s) {
  for (std::string dir : {"pg_wal", "pg_wal/archive_status", "pg_stat_tmp", "pg_replslot", "pg_dynshmem", "pg_notify",
                          "pg_serial", "pg_snapshots", "pg_subtrans", "./pg_wal/",
                          "base/5/pg_notify"}) {  // PostgreSQL matches these names at any depth
    EXPECT_TRUE(IsDirectoryContentExcluded(dir)) << dir;
  }
  for (std::string dir : {"", "base", "base/5", "global", "pg_xact", "pg_multixact", "pg_stat", "pg_logical",
                          "pg_commit_ts", "pg_twophase", "pg_tblspc", "base/pg_wal", "pg_wal2"}) {
    EXPECT_FALSE(IsDirectoryContentExcluded(dir)) << dir;
  }
}

// path -> is directory, for everything below `root`.
std::map<std::string, bool> Walk(const std::string& root) {
  std::map<std::string, bool> out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(root)) {
    out[e.path().lexically_relative(root).generic_string()] = e.is_directory() && !e.is_symlink();
  }
  return out;
}

std::set<std::string> TarNames(const std::string& path) {
  auto data = ReadFileToString(path);
  EXPECT_TRUE(data.ok()) << data.status().ToString();
  size_t pos = 0;
  TarReader reader([&](std::span<uint8_t> buf) -> Result<size_t> {
    size_t n = std::min(buf.size(), data->size() - pos);
    std::memcpy(buf.data(), data->data() + pos, n);
    pos += n;
    return n;
  });
  std::set<std::string> names;
  while (true) {
    auto e = reader.Next();
    EXPECT_TRUE(e.ok()) << e.status().ToString();
    if (!e.ok() || !e->has_value()) return names;
    names.insert((*e)->name);
  }
}

// The rules against the real thing: a running PostgreSQL 15 with the files the
// rules are about planted where the server would make them, backed up with
// pg_basebackup. Everything the rules keep is in the backup and everything
// they leave out is not, except the one deliberate difference: the forks of an
// unlogged relation, which zenith keeps and PostgreSQL drops.
TEST(BackupRules, AgreeWithPgBasebackupOnALiveDataDirectory) {
  TempDir dir("backup-rules");
  PgCluster pg(dir.Sub("data"), dir.path(), 5432);
  ASSERT_TRUE(pg.Initdb().ok());
  ASSERT_TRUE(pg.Start({"autovacuum=off"}).ok());  // nothing creates files behind our back
  pg.Query("CREATE UNLOGGED TABLE u (x int)");
  pg.Query("INSERT INTO u VALUES (1)");
  std::string db = pg.Query("SELECT oid FROM pg_database WHERE datname = 'postgres'");
  std::string unlogged = pg.Query("SELECT pg_relation_filepath('u')");

  for (const std::string& planted : std::vector<std::string>{"base/" + db + "/t3_99999", "base/" + db + "/t3_99999_fsm",
                              "base/" + db + "/pg_internal.init.999", "base/pgsql_tmp/pgsql_tmp123.0",
                              "postgresql.auto.conf.tmp", "current_logfiles.tmp", "backup_manifest",
                              "pg_replslot/myslot/state", "pg_dynshmem/mmap.42", "pg_snapshots/00000003-0000001B-1",
                              "pg_stat_tmp/pg_stat_statements.stat"}) {
    ASSERT_TRUE(MakeDirectories(DirName(pg.datadir() + "/" + planted)).ok());
    ASSERT_TRUE(WriteFileDurably(pg.datadir() + "/" + planted, "planted").ok());
  }

  std::map<std::string, bool> before = Walk(pg.datadir());
  auto backup = testing::RunCommand({testing::PgBin("pg_basebackup"), "-D", dir.Sub("bb"), "-Ft", "-X", "none",
                                     "--no-manifest", "-c", "fast", "-h", pg.socket_dir(), "-p",
                                     std::to_string(pg.port()), "-U", "postgres"});
  ASSERT_TRUE(backup.ok()) << backup.Describe();
  std::map<std::string, bool> after = Walk(pg.datadir());
  std::set<std::string> in_backup = TarNames(dir.Sub("bb/base.tar"));
  ASSERT_GT(in_backup.size(), 500u);

  std::set<std::string> kept_only_by_zenith;
  for (const auto& [path, is_dir] : before) {
    if (!after.count(path)) continue;  // came or went during the backup
    bool kept = !IsExcludedFromBackup(path, is_dir);
    if (kept && !in_backup.count(path)) {
      kept_only_by_zenith.insert(path);
      continue;
    }
    EXPECT_EQ(kept, in_backup.count(path) == 1) << path;
  }
  EXPECT_EQ(kept_only_by_zenith, std::set<std::string>{unlogged});
  EXPECT_TRUE(before.count(unlogged + "_init"));
  EXPECT_TRUE(in_backup.count(unlogged + "_init"));

  for (const std::string& name : in_backup) {
    if (name == "backup_label" || name == "tablespace_map") continue;  // written by BASE_BACKUP itself
    EXPECT_TRUE(before.count(name) || after.count(name)) << name << " is in the backup but was never in the datadir";
  }
  // The live server's own excluded files were there to be left out.
  for (std::string path : {"postmaster.pid", "postmaster.opts", "global/pg_internal.init", "pg_wal/archive_status"}) {
    EXPECT_TRUE(before.count(path)) << path;
  }
  EXPECT_TRUE(in_backup.count("pg_wal/archive_status"));
  EXPECT_TRUE(in_backup.count("global/pg_control"));
}

}  // namespace
}  // namespace zenith
