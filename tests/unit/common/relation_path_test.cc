#include "common/relation_path.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <regex>
#include <set>
#include <sstream>
#include <unordered_set>

#include "common/file_util.h"
#include "common/pg_abi.h"
#include "tests/harness/pg_cluster.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/temp_dir.h"
#include "tests/harness/test_env.h"

namespace zenith {
namespace {

using testing::PgCluster;
using testing::TempDir;

const Oid kDefaultSpc = kZenithPgAbi.default_tablespace_oid;
const Oid kGlobalSpc = kZenithPgAbi.global_tablespace_oid;

std::string TablespaceDir(Oid spc) {
  return "pg_tblspc/" + std::to_string(spc) + "/" + kZenithPgAbi.tablespace_version_directory;
}

// The highest segment number a block can live in.
uint32_t LastSegment() { return kMaxBlockNumber / BlocksPerSegment(); }

TEST(RelationPath, ParsesEveryKindOfRelationFile) {
  struct Case {
    std::string path;
    RelSegment want;
  };
  std::vector<Case> cases = {
      {"base/5/16384", {{kDefaultSpc, 5, 16384, ForkNumber::kMain}, 0}},
      {"base/5/16384_fsm", {{kDefaultSpc, 5, 16384, ForkNumber::kFsm}, 0}},
      {"base/5/16384_vm", {{kDefaultSpc, 5, 16384, ForkNumber::kVisibilityMap}, 0}},
      {"base/5/16384_init", {{kDefaultSpc, 5, 16384, ForkNumber::kInit}, 0}},
      {"base/5/16384.1", {{kDefaultSpc, 5, 16384, ForkNumber::kMain}, 1}},
      {"base/1/2619_vm.3", {{kDefaultSpc, 1, 2619, ForkNumber::kVisibilityMap}, 3}},
      {"global/1262", {{kGlobalSpc, 0, 1262, ForkNumber::kMain}, 0}},
      {"global/1262_fsm.2", {{kGlobalSpc, 0, 1262, ForkNumber::kFsm}, 2}},
      {TablespaceDir(16400) + "/5/16401.7", {{16400, 5, 16401, ForkNumber::kMain}, 7}},
      {TablespaceDir(16400) + "/16402/16401_init", {{16400, 16402, 16401, ForkNumber::kInit}, 0}},
      {"base/4294967295/4294967295", {{kDefaultSpc, 4294967295u, 4294967295u, ForkNumber::kMain}, 0}},
      {"base/5/16384." + std::to_string(LastSegment()), {{kDefaultSpc, 5, 16384, ForkNumber::kMain}, LastSegment()}},
  };
  for (const Case& c : cases) {
    std::optional<RelSegment> got = ParseRelationPath(c.path);
    ASSERT_TRUE(got.has_value()) << c.path;
    EXPECT_EQ(*got, c.want) << c.path;
    EXPECT_EQ(RelationSegmentPath(got->tag, got->segno), c.path);
  }
}

TEST(RelationPath, RejectsWhatIsNotARelationFile) {
  std::string other_version = "pg_tblspc/16400/PG_14_202107181/5/16401";
  for (std::string path : {
           "base/5/t3_16384",            // temp relation
           "base/5/t3_16384_fsm.1",      // temp relation fork
           "base/5/pg_filenode.map", "base/5/pg_internal.init", "base/5/PG_VERSION", "global/pg_control",
           "global/pg_filenode.map", "global/pg_internal.init",
           "base/5/016384", "base/05/16384", "base/5/16384.01",  // leading zeros
           "base/0/16384", "base/5/0", "global/0",               // zero oids
           "base/5/16384.0",                                     // PostgreSQL never writes ".0"
           "base/5/4294967296", "base/4294967296/1", "base/5/99999999999", "base/5/16384.4294967296",  // overflow
           "base/5/16384.99999999999999999999",
           "base/5/1a", "base/5/+1", "base/5/-1", "base/5/ 1", "base/5/1 ", "base/5/16384_main", "base/5/16384_fsm_vm",
           "base/5/16384_", "base/5/16384.", "base/5/16384.1.2", "base/5/16384.1_fsm", "base/5/16384_FSM",
           "base/5", "base", "global", "base/5/16384/x", "global/5/16384", "other/5/16384", "",
           "/base/5/16384", "./base/5/16384", "base//5/16384", "base/5/16384/",
           "pg_wal/000000010000000000000001", "pg_xact/0000", "pg_multixact/offsets/0000",
           other_version.c_str(),                                   // another catalog version's files
           "pg_tblspc/16400/PG_15_202209061", "pg_tblspc/16400",  // directories
       }) {
    EXPECT_FALSE(ParseRelationPath(path).has_value()) << path;
  }
  for (std::string path : {TablespaceDir(16400) + "/16401", TablespaceDir(kDefaultSpc) + "/5/16401",
                           TablespaceDir(kGlobalSpc) + "/5/16401", TablespaceDir(0) + "/5/1",
                           "pg_tblspc/016400/" + std::string(kZenithPgAbi.tablespace_version_directory) + "/5/1",
                           "base/5/16384." + std::to_string(LastSegment() + 1)}) {
    EXPECT_FALSE(ParseRelationPath(path).has_value()) << path;
  }
}

TEST(RelationPath, TagsCompareHashAndPrintLikePostgres) {
  RelTag main{kDefaultSpc, 5, 16384, ForkNumber::kMain};
  RelTag fsm{kDefaultSpc, 5, 16384, ForkNumber::kFsm};
  EXPECT_EQ(main.ToString(), "1663/5/16384");
  EXPECT_EQ(fsm.ToString(), "1663/5/16384 fork fsm");
  EXPECT_EQ((RelTag{kGlobalSpc, 0, 1262, ForkNumber::kVisibilityMap}.ToString()), "1664/0/1262 fork vm");
  EXPECT_EQ(ForkName(ForkNumber::kInit), "init");
  std::ostringstream os;
  os << fsm;
  EXPECT_EQ(os.str(), "1663/5/16384 fork fsm");

  EXPECT_LT(main, fsm);
  EXPECT_LT((RelTag{kDefaultSpc, 5, 16383, ForkNumber::kInit}), main);
  EXPECT_LT((RelTag{kDefaultSpc, 4, 99999, ForkNumber::kInit}), main);
  EXPECT_NE(main, fsm);

  std::unordered_set<RelTag> set;
  for (Oid db : {1u, 4u, 5u}) {
    for (Oid rel : {1259u, 16384u, 16385u}) {
      for (ForkNumber f : {ForkNumber::kMain, ForkNumber::kFsm, ForkNumber::kVisibilityMap, ForkNumber::kInit}) {
        set.insert(RelTag{kDefaultSpc, db, rel, f});
      }
    }
  }
  EXPECT_EQ(set.size(), 36u);
  EXPECT_EQ(set.count(fsm), 1u);
  EXPECT_EQ(set.count(RelTag{kGlobalSpc, 5, 16384, ForkNumber::kFsm}), 0u);
}

TEST(RelationPath, BlocksMapToSegmentsAndBack) {
  const uint32_t per_seg = BlocksPerSegment();
  const uint64_t blcksz = kZenithPgAbi.blcksz;
  EXPECT_EQ(SegmentBytes(), per_seg * blcksz);
  EXPECT_EQ(LocateBlock(0), (BlockLocation{0, 0}));
  EXPECT_EQ(LocateBlock(1), (BlockLocation{0, blcksz}));
  EXPECT_EQ(LocateBlock(per_seg - 1), (BlockLocation{0, (per_seg - 1) * blcksz}));
  EXPECT_EQ(LocateBlock(per_seg), (BlockLocation{1, 0}));
  EXPECT_EQ(LocateBlock(3 * per_seg + 7), (BlockLocation{3, 7 * blcksz}));
  BlockLocation last = LocateBlock(kMaxBlockNumber);
  EXPECT_EQ(last.segno, LastSegment());
  EXPECT_EQ(BlockAt(last.segno, last.offset), kMaxBlockNumber);

  for (BlockNumber b : {0u, 1u, per_seg - 1, per_seg, per_seg + 1, 12345678u, kMaxBlockNumber - 1}) {
    BlockLocation loc = LocateBlock(b);
    EXPECT_EQ(BlockAt(loc.segno, loc.offset), b);
    EXPECT_EQ(BlockAt(loc.segno, loc.offset + blcksz - 1), b);  // any byte of the block
  }
  EXPECT_EQ(BlockAt(0, SegmentBytes()), std::nullopt);
  EXPECT_EQ(BlockAt(LastSegment() + 1, 0), std::nullopt);
  EXPECT_EQ(BlockAt(last.segno, last.offset + blcksz), std::nullopt);  // would be InvalidBlockNumber
}

std::string Relative(const std::filesystem::path& p, const std::string& root) {
  return p.lexically_relative(root).generic_string();
}

TEST(RelationPath, EveryFileOfAFreshDataDirectoryIsClassified) {
  TempDir dir("relpath-initdb");
  PgCluster pg(dir.Sub("data"), dir.path(), 5432);
  ASSERT_TRUE(pg.Initdb().ok());

  // The server was built with the layout pg_abi reports.
  auto control = testing::RunCommand({testing::PgBin("pg_controldata"), pg.datadir()});
  ASSERT_TRUE(control.ok()) << control.Describe();
  EXPECT_TRUE(std::regex_search(control.out, std::regex("Blocks per segment of large relation: +" +
                                                         std::to_string(BlocksPerSegment()) + "\n")));
  EXPECT_TRUE(std::regex_search(control.out, std::regex("Database block size: +" +
                                                         std::to_string(kZenithPgAbi.blcksz) + "\n")));

  // The oracle: under base/<db>/ and global/, names made of digits with an
  // optional fork and segment suffix.
  const std::regex relation_name("(base/[0-9]+|global)/[0-9]+(_(fsm|vm|init))?(\\.[0-9]+)?");
  size_t relations = 0, others_in_db_dirs = 0;
  std::set<Oid> databases;
  for (const auto& e : std::filesystem::recursive_directory_iterator(pg.datadir())) {
    if (!e.is_regular_file()) continue;
    std::string path = Relative(e.path(), pg.datadir());
    bool expected = std::regex_match(path, relation_name);
    std::optional<RelSegment> seg = ParseRelationPath(path);
    ASSERT_EQ(seg.has_value(), expected) << path;
    if (!seg) {
      if (path.starts_with("base/") || path.starts_with("global/")) ++others_in_db_dirs;
      continue;
    }
    ++relations;
    databases.insert(seg->tag.db);
    EXPECT_EQ(RelationSegmentPath(seg->tag, seg->segno), path);
    EXPECT_EQ(seg->tag.spc, path.starts_with("global/") ? kGlobalSpc : kDefaultSpc) << path;
  }
  EXPECT_GT(relations, 500u);          // three databases of catalogs, plus the shared ones
  EXPECT_EQ(databases.size(), 4u);     // template1, template0, postgres, and 0 for global
  EXPECT_GT(others_in_db_dirs, 6u);    // PG_VERSION, pg_filenode.map, pg_control...: the negatives ran
}

TEST(RelationPath, PathsPostgresReportsParseToTheRelfilenodesItReports) {
  TempDir dir("relpath-sql");
  PgCluster pg(dir.Sub("data"), dir.path(), 5432);
  ASSERT_TRUE(pg.Initdb().ok());
  ASSERT_TRUE(MakeDirectories(dir.Sub("ts")).ok());
  ASSERT_TRUE(pg.Start().ok());
  Oid postgres_db = std::stoul(pg.Query("SELECT oid FROM pg_database WHERE datname = 'postgres'"));

  // pg_class is a mapped catalog: pg_class.relfilenode says 0, the map knows.
  EXPECT_EQ(pg.Query("SELECT relfilenode FROM pg_class WHERE relname = 'pg_class'"), "0");
  std::optional<RelSegment> pg_class = ParseRelationPath(pg.Query("SELECT pg_relation_filepath('pg_class')"));
  ASSERT_TRUE(pg_class.has_value());
  EXPECT_EQ(pg_class->tag, (RelTag{kDefaultSpc, postgres_db, Oid(std::stoul(pg.Query(
                                                                "SELECT pg_relation_filenode('pg_class')"))),
                                   ForkNumber::kMain}));

  std::optional<RelSegment> pg_database = ParseRelationPath(pg.Query("SELECT pg_relation_filepath('pg_database')"));
  ASSERT_TRUE(pg_database.has_value());
  EXPECT_EQ(pg_database->tag,
            (RelTag{kGlobalSpc, 0, Oid(std::stoul(pg.Query("SELECT pg_relation_filenode('pg_database')"))),
                    ForkNumber::kMain}));

  // A table in its own tablespace, vacuumed so it has fsm and vm forks.
  pg.Query("CREATE TABLESPACE ts LOCATION '" + dir.Sub("ts") + "'");
  pg.Query("CREATE TABLE t (x int) TABLESPACE ts");
  pg.Query("INSERT INTO t SELECT generate_series(1, 10000)");
  pg.Query("VACUUM t");
  std::string t_path = pg.Query("SELECT pg_relation_filepath('t')");
  std::optional<RelSegment> t = ParseRelationPath(t_path);
  ASSERT_TRUE(t.has_value()) << t_path;
  EXPECT_EQ(t->tag, (RelTag{Oid(std::stoul(pg.Query("SELECT oid FROM pg_tablespace WHERE spcname = 'ts'"))),
                            postgres_db, Oid(std::stoul(pg.Query("SELECT pg_relation_filenode('t')"))),
                            ForkNumber::kMain}));
  for (ForkNumber fork : {ForkNumber::kMain, ForkNumber::kFsm, ForkNumber::kVisibilityMap}) {
    RelTag tag = t->tag;
    tag.fork = fork;
    std::string fork_path = RelationSegmentPath(tag, 0);
    EXPECT_TRUE(PathExists(pg.datadir() + "/" + fork_path)) << fork_path;
    EXPECT_EQ(ParseRelationPath(fork_path)->tag, tag);
  }

  // A temporary table's file is not a relation file zenith stores.
  std::string temp_path = pg.Query("CREATE TEMP TABLE tt (x int); SELECT pg_relation_filepath('tt')");
  EXPECT_TRUE(std::regex_match(temp_path, std::regex("base/[0-9]+/t[0-9]+_[0-9]+"))) << temp_path;
  EXPECT_FALSE(ParseRelationPath(temp_path).has_value()) << temp_path;
}

}  // namespace
}  // namespace zenith
