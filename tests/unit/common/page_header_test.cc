// Page header decoding against pages a real PostgreSQL 15 wrote, checked
// against pageinspect's page_header() of the same blocks.
#include "common/page_header.h"

#include <gtest/gtest.h>

#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "common/byte_io.h"
#include "common/file_util.h"
#include "common/pg_abi.h"
#include "tests/harness/pg_cluster.h"
#include "tests/harness/temp_dir.h"

namespace zenith {
namespace {

using testing::PgCluster;
using testing::TempDir;
using Bytes = std::vector<uint8_t>;

const size_t kBlcksz = kZenithPgAbi.blcksz;

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> parts;
  std::stringstream in(s);
  std::string part;
  while (std::getline(in, part, sep)) parts.push_back(part);
  return parts;
}

class PageHeaderTest : public ::testing::Test {
 protected:
  PageHeaderTest() : dir_("page-header"), pg_(dir_.Sub("data"), dir_.path(), 5432) {}

  // A heap with all-visible pages and a page with prunable deleted rows,
  // its btree and a hash index (with special space), in a cluster with data checksums; then a restart,
  // so that every page pageinspect sees was just read from disk.
  void StartWithRelations() {
    ASSERT_TRUE(pg_.Initdb({"-k"}).ok());
    ASSERT_TRUE(pg_.Start({"autovacuum=off"}).ok());
    pg_.Query("create extension pageinspect");
    pg_.Query("create table t (id int primary key, v text)");
    pg_.Query("create index t_v_hash on t using hash (v)");
    pg_.Query("insert into t select g, md5(g::text) || repeat('x', 150) from generate_series(1, 1500) g");
    pg_.Query("vacuum t");
    pg_.Query("delete from t where id <= 10");
    pg_.Query("checkpoint");
    ASSERT_TRUE(pg_.Stop("fast").ok());
    ASSERT_TRUE(pg_.Start({"autovacuum=off"}).ok());
  }

  // Block `block` of `relation`'s main fork, read from its file on disk.
  Bytes ReadBlock(const std::string& relation, size_t block) {
    std::string path = pg_.datadir() + "/" + pg_.Query("select pg_relation_filepath('" + relation + "')");
    Result<std::string> file = ReadFileToString(path);
    EXPECT_TRUE(file.ok()) << file.status().ToString();
    if (!file.ok() || file->size() < (block + 1) * kBlcksz) return {};
    return Bytes(file->begin() + block * kBlcksz, file->begin() + (block + 1) * kBlcksz);
  }

  // pageinspect's page_header() of every block of `relation`, one row per
  // block: lsn|checksum|flags|lower|upper|special|pagesize|version|prune_xid.
  std::vector<std::vector<std::string>> PageinspectHeaders(const std::string& relation) {
    std::string rows = pg_.Query(
        "select h.lsn, h.checksum, h.flags, h.lower, h.upper, h.special, h.pagesize, h.version, h.prune_xid "
        "from generate_series(0, pg_relation_size('" + relation + "') / " + std::to_string(kBlcksz) +
        " - 1) b, page_header(get_raw_page('" + relation + "', b)) h order by b");
    std::vector<std::vector<std::string>> out;
    for (const std::string& row : Split(rows, '\n')) out.push_back(Split(row, '|'));
    return out;
  }

  Bytes RealHeapPage() {
    pg_.Query("create table r (id int)");
    pg_.Query("insert into r select generate_series(1, 100)");
    pg_.Query("checkpoint");
    return ReadBlock("r", 0);
  }

  TempDir dir_;
  PgCluster pg_;
};

// Our fields formatted the way pageinspect prints them (checksum and flags
// are smallint there, so a checksum above 32767 prints negative).
std::vector<std::string> AsPageinspectRow(const PageHeader& h) {
  return {h.lsn.ToString(),
          std::to_string(static_cast<int16_t>(h.checksum)),
          std::to_string(static_cast<int16_t>(h.flags)),
          std::to_string(h.lower),
          std::to_string(h.upper),
          std::to_string(h.special),
          std::to_string(h.page_size),
          std::to_string(h.layout_version),
          std::to_string(h.prune_xid)};
}

TEST_F(PageHeaderTest, DecodesRealPagesLikePageinspect) {
  ASSERT_NO_FATAL_FAILURE(StartWithRelations());
  bool saw_checksum = false, saw_flags = false, saw_prune_xid = false, saw_special = false;
  // Not catalogs: reading them sets hint bits, and with checksums on that
  // WAL-logs the page, moving the in-memory pd_lsn past the one on disk.
  for (const char* relation : {"t", "t_pkey", "t_v_hash"}) {
    std::vector<std::vector<std::string>> expected = PageinspectHeaders(relation);
    ASSERT_GE(expected.size(), 2u) << relation << " should span several pages";
    for (size_t block = 0; block < expected.size(); ++block) {
      Bytes page = ReadBlock(relation, block);
      Result<PageHeader> h = DecodePageHeader(page);
      ASSERT_TRUE(h.ok()) << h.status().ToString();
      EXPECT_EQ(AsPageinspectRow(*h), expected[block]) << relation << " block " << block;
      EXPECT_TRUE(VerifyPage(page).ok()) << relation << " block " << block;
      // Hash indexes allocate bucket pages as zeros: not headers to check.
      if (IsAllZeroPage(page)) continue;
      EXPECT_TRUE(CheckPageHeader(*h).ok()) << relation << " block " << block << ": " << CheckPageHeader(*h).ToString();
      saw_checksum |= h->checksum != 0;
      saw_flags |= h->flags != 0;
      saw_prune_xid |= h->prune_xid != 0;
      saw_special |= h->special != kBlcksz;
    }
  }
  // Otherwise the comparison above would not have tested these fields.
  EXPECT_TRUE(saw_checksum && saw_flags && saw_prune_xid && saw_special)
      << saw_checksum << saw_flags << saw_prune_xid << saw_special;
}

TEST_F(PageHeaderTest, AllZeroPageIsRecognisedAndAccepted) {
  Bytes zero(kBlcksz, 0);
  EXPECT_TRUE(IsAllZeroPage(zero));
  EXPECT_TRUE(VerifyPage(zero).ok());
  Result<PageHeader> h = DecodePageHeader(zero);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(*h, PageHeader{});
  for (size_t at : {size_t{0}, size_t{1}, kBlcksz / 2, kBlcksz - 1}) {
    Bytes one = zero;
    one[at] = 0x80;
    EXPECT_FALSE(IsAllZeroPage(one)) << "non-zero byte at " << at;
  }
  // A zero header over non-zero contents is not a new page: PostgreSQL rejects it.
  Bytes tail = zero;
  tail[kBlcksz - 1] = 1;
  EXPECT_EQ(VerifyPage(tail).code(), StatusCode::kCorruption);

  ASSERT_TRUE(pg_.Initdb().ok());
  ASSERT_TRUE(pg_.Start().ok());
  Bytes real = RealHeapPage();
  ASSERT_EQ(real.size(), kBlcksz);
  EXPECT_FALSE(IsAllZeroPage(real));
}

TEST_F(PageHeaderTest, UpperBelowLowerFailsTheHeaderCheck) {
  ASSERT_TRUE(pg_.Initdb().ok());
  ASSERT_TRUE(pg_.Start().ok());
  Bytes page = RealHeapPage();
  Result<PageHeader> h = DecodePageHeader(page);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  ASSERT_TRUE(CheckPageHeader(*h).ok()) << CheckPageHeader(*h).ToString();

  PageHeader bad = *h;
  bad.upper = static_cast<uint16_t>(bad.lower - 8);
  Status s = CheckPageHeader(bad);
  EXPECT_EQ(s.code(), StatusCode::kCorruption);
  EXPECT_EQ(s.message(), "page header has pd_lower " + std::to_string(bad.lower) + " past pd_upper " +
                             std::to_string(bad.upper));

  // The same damage in the bytes of the page.
  StoreAt(std::span(page), kZenithPgAbi.page.upper, bad.upper);
  EXPECT_EQ(VerifyPage(page).code(), StatusCode::kCorruption);
}

// Each of PostgreSQL's checks rejects its own violation, and accepts the
// boundary PostgreSQL accepts.
TEST(PageHeaderCheckTest, EachPostgresCheckRejectsItsViolationAndAcceptsItsBoundary) {
  const PageHeader sane = {.lower = 24, .upper = 8000, .special = 8176, .page_size = 8192, .layout_version = 4};
  ASSERT_TRUE(CheckPageHeader(sane).ok());
  struct Case {
    PageHeader h;
    std::string needle;  // empty: must pass
  };
  auto with = [&](auto change) {
    PageHeader h = sane;
    change(h);
    return h;
  };
  const std::vector<Case> cases = {
      {with([](PageHeader& h) { h.upper = 0; }), "pd_upper 0, which marks a new page"},
      {with([](PageHeader& h) { h.flags = 0x0008; }), "invalid pd_flags 8"},
      {with([](PageHeader& h) { h.flags = 0x0007; }), ""},
      {with([](PageHeader& h) { h.lower = 8001; }), "pd_lower 8001 past pd_upper 8000"},
      {with([](PageHeader& h) { h.lower = 8000; }), ""},
      {with([](PageHeader& h) { h.upper = 8184; }), "pd_upper 8184 past pd_special 8176"},
      {with([](PageHeader& h) { h.upper = 8176; }), ""},
      {with([](PageHeader& h) { h.upper = h.special = 8200; }), "pd_special 8200 past the page end 8192"},
      {with([](PageHeader& h) { h.upper = h.special = 8192; }), ""},
      {with([](PageHeader& h) { h.special = 8180; }), "pd_special 8180, not a multiple of 8"},
  };
  for (const Case& c : cases) {
    Status s = CheckPageHeader(c.h);
    if (c.needle.empty()) {
      EXPECT_TRUE(s.ok()) << s.ToString();
      continue;
    }
    EXPECT_EQ(s.code(), StatusCode::kCorruption) << c.needle;
    EXPECT_NE(s.message().find(c.needle), std::string::npos) << s.message();
  }
}

TEST(PageHeaderCheckTest, WrongPageSizeIsInvalidArgumentWithoutReadingPastTheBuffer) {
  for (size_t len : {size_t{0}, size_t{1}, kBlcksz - 1, kBlcksz + 1}) {
    Bytes page(len, 0x7f);  // exact size, so that the sanitizer sees any read past it
    Result<PageHeader> h = DecodePageHeader(page);
    ASSERT_FALSE(h.ok()) << len;
    EXPECT_EQ(h.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(h.status().message(), "a data page is 8192 bytes (BLCKSZ), got " + std::to_string(len));
    EXPECT_EQ(VerifyPage(page).code(), StatusCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace zenith
