// ArchiveLinkCheck: an archive may hold links only at pg_tblspc/<oid>, and
// nothing at or below a link it holds.
#include "common/archive_links.h"

#include <gtest/gtest.h>

namespace zenith {
namespace {

TarEntry Link(const std::string& name) { return {.name = name, .type = TarEntryType::kSymlink, .link_target = "/x"}; }
TarEntry File(const std::string& name) { return {.name = name, .type = TarEntryType::kFile}; }
TarEntry Dir(const std::string& name) { return {.name = name, .type = TarEntryType::kDirectory}; }

TEST(ArchiveLinks, TablespaceLinksAndOrdinaryEntriesPass) {
  ArchiveLinkCheck check;
  for (const TarEntry& e : {Dir("base"), Dir("pg_tblspc"), Link("pg_tblspc/16400"), Link("pg_tblspc/4294967295"),
                            File("base/5/16384"), File("pg_tblspc_x"), File("pg_tblspc/164000")}) {
    EXPECT_TRUE(check.Check(e).ok()) << e.name;
  }
}

TEST(ArchiveLinks, OtherLinksAreRefused) {
  for (const char* name : {"x", "pg_hba.conf", "pg_wal", "base/5/16384", "pg_tblspc", "pg_tblspc/abc",
                           "pg_tblspc/016400", "pg_tblspc/16400/PG_15", "pg_tblspc/", "pg_tblspc/12345678901"}) {
    ArchiveLinkCheck check;
    Status s = check.Check(Link(name));
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << name;
    EXPECT_NE(s.message().find("is a symbolic link"), std::string::npos) << s.ToString();
  }
}

TEST(ArchiveLinks, NothingMayComeAtOrBelowALink) {
  ArchiveLinkCheck check;
  ASSERT_TRUE(check.Check(Link("pg_tblspc/16400")).ok());
  for (const TarEntry& e : {File("pg_tblspc/16400/PG_15_202209061/evil"), Dir("pg_tblspc/16400/PG_15_202209061"),
                            Link("pg_tblspc/16400/7"), File("pg_tblspc/16400")}) {
    Status s = check.Check(e);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << e.name;
    EXPECT_NE(s.message().find("\"" + e.name + "\""), std::string::npos) << s.ToString();
  }
  EXPECT_TRUE(check.Check(File("pg_tblspc/164000/x")).ok()) << "a name that only starts like the link";
}

}  // namespace
}  // namespace zenith
