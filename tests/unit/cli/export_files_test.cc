// WriteSnapshotFiles, the non-relation part of `zenith export`: an archive
// that holds a link and entries through it (here given directly, as if
// ParseBasebackupArchive had let it by) writes nothing outside the export.
#include "cli/export_files.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "common/file_util.h"
#include "common/pg_abi.h"
#include "tests/harness/temp_dir.h"

namespace zenith::cli {
namespace {

using ::zenith::testing::TempDir;

TarEntry Entry(const std::string& name, TarEntryType type, const std::string& target = "") {
  return {.name = name, .type = type, .mode = 0700, .link_target = target};
}

class ExportFilesTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(MakeDirectories(outside_).ok()); ASSERT_TRUE(MakeDirectories(export_).ok()); }
  Status Write(const pageserver::BasebackupArchive& archive) {
    ZENITH_ASSIGN_OR_RETURN(BeneathDir dir, BeneathDir::Open(export_));
    return WriteSnapshotFiles(archive, dir);
  }

  TempDir tmp_{"export-files"};
  const std::string outside_ = tmp_.Sub("home/.ssh"), export_ = tmp_.Sub("export");
};

TEST_F(ExportFilesTest, AnArchiveWritesItsFilesAndPgWal) {
  pageserver::BasebackupArchive archive;
  archive.entries.push_back({Entry("global", TarEntryType::kDirectory), ""});
  archive.entries.push_back({Entry("PG_VERSION", TarEntryType::kFile), "15\n"});
  archive.entries.push_back({Entry("postgresql.auto.conf", TarEntryType::kFile), "a = 1\n# zenith: mount\nb = 2\n"});
  archive.manifest.relations.push_back({"base/5/16384", 8192});
  ASSERT_TRUE(Write(archive).ok());
  EXPECT_EQ(*ReadFileToString(export_ + "/PG_VERSION"), "15\n");
  EXPECT_EQ(*ReadFileToString(export_ + "/postgresql.auto.conf"), "a = 1\n");
  EXPECT_TRUE(PathExists(export_ + "/base/5"));
  EXPECT_TRUE(PathExists(export_ + "/pg_wal"));
}

TEST_F(ExportFilesTest, NothingIsWrittenThroughALinkTheArchiveHolds) {
  const std::string tablespace = "pg_tblspc/16400/" + std::string(kZenithPgAbi.tablespace_version_directory);
  struct Case {
    std::string what;
    std::vector<TarEntry> after_link;
    std::string relation;
  };
  for (const Case& c : {Case{"a file below the link", {Entry("x/authorized_keys", TarEntryType::kFile)}, ""},
                        Case{"a directory below the link", {Entry("x/keys.d", TarEntryType::kDirectory)}, ""},
                        Case{"a link below the link", {Entry("x/more", TarEntryType::kSymlink, "/etc")}, ""},
                        Case{"a relation's directory below the link", {}, "x/" + tablespace.substr(16) + "/5/16401"}}) {
    ASSERT_TRUE(RemoveTree(export_).ok());
    ASSERT_TRUE(MakeDirectories(export_).ok());
    pageserver::BasebackupArchive archive;
    archive.entries.push_back({Entry("x", TarEntryType::kSymlink, outside_), ""});
    for (const auto& e : c.after_link) archive.entries.push_back({e, "ssh-ed25519 AAAA"});
    if (!c.relation.empty()) archive.manifest.relations.push_back({c.relation, 8192});
    Status s = Write(archive);
    EXPECT_FALSE(s.ok()) << c.what;
    EXPECT_NE(s.message().find("symbolic link"), std::string::npos) << c.what << ": " << s.ToString();
    EXPECT_TRUE(ListDirectory(outside_).value().empty()) << c.what << ": nothing is written outside the export";
  }
}

}  // namespace
}  // namespace zenith::cli
