// common/pg_authid.h against pg_authid pages a real PostgreSQL 15 wrote:
// a fresh cluster's, and one whose bootstrap superuser another superuser
// renamed (the old tuple version stays on the page beside the new one).
#include "common/pg_authid.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "common/byte_io.h"
#include "common/file_util.h"
#include "common/pg_abi.h"
#include "tests/harness/pg_cluster.h"
#include "tests/harness/temp_dir.h"

namespace zenith {
namespace {

using testing::PgCluster;
using testing::TempDir;

class PgAuthIdTest : public ::testing::Test {
 protected:
  PgAuthIdTest() : dir_("pg-authid"), pg_(dir_.Sub("data"), dir_.path(), 5432) {}

  void SetUp() override {
    ASSERT_TRUE(pg_.Initdb().ok());
    ASSERT_TRUE(pg_.Start({"autovacuum=off"}).ok());
  }

  // global/1260 as the stopped server left it.
  std::string AuthIdFile() {
    EXPECT_TRUE(pg_.Stop("fast").ok());
    auto file = ReadFileToString(pg_.datadir() + "/global/" + std::to_string(kZenithPgAbi.authid_relation_oid));
    EXPECT_TRUE(file.ok()) << file.status().ToString();
    return file.value_or("");
  }

  static Result<std::string> SuperuserIn(const std::string& file) {
    const uint32_t blocks = static_cast<uint32_t>(file.size() / kZenithPgAbi.blcksz);
    return ReadBootstrapSuperuser(blocks, [&](uint32_t block, std::span<uint8_t> page) {
      std::memcpy(page.data(), file.data() + size_t{block} * page.size(), page.size());
      return Status::Ok();
    });
  }

  TempDir dir_;
  PgCluster pg_;
};

TEST_F(PgAuthIdTest, AFreshClustersBootstrapSuperuserIsTheInitdbUser) {
  pg_.Query("create role other superuser login");
  pg_.Query("create role reader login");
  const std::string file = AuthIdFile();
  auto name = SuperuserIn(file);
  ASSERT_TRUE(name.ok()) << name.status().ToString();
  EXPECT_EQ(*name, "postgres");
}

TEST_F(PgAuthIdTest, ARenamedBootstrapSuperuserIsReadUnderItsNewName) {
  pg_.Query("create role other superuser login");
  PgCluster as_other(pg_.datadir(), pg_.socket_dir(), pg_.port(), "other");
  ASSERT_EQ(as_other.Query("alter role postgres rename to chief; select 1"), "1");
  const std::string file = AuthIdFile();
  // The old version is still on the page, deleted by the rename.
  std::vector<AuthIdTuple> all;
  for (size_t at = 0; at + kZenithPgAbi.blcksz <= file.size(); at += kZenithPgAbi.blcksz) {
    auto tuples = DecodeAuthIdPage(AsBytes(file).subspan(at, kZenithPgAbi.blcksz));
    ASSERT_TRUE(tuples.ok()) << tuples.status().ToString();
    all.insert(all.end(), tuples->begin(), tuples->end());
  }
  bool old_version_seen = false;
  for (const auto& t : all) old_version_seen |= t.oid == 10 && t.name == "postgres" && !t.live;
  EXPECT_TRUE(old_version_seen) << "the test needs the old version on the page";
  auto name = SuperuserIn(file);
  ASSERT_TRUE(name.ok()) << name.status().ToString();
  EXPECT_EQ(*name, "chief");
}

TEST_F(PgAuthIdTest, ALinePointerOutsideThePageIsCorruption) {
  std::string file = AuthIdFile();
  std::span<uint8_t> page(reinterpret_cast<uint8_t*>(file.data()), kZenithPgAbi.blcksz);
  // The first line pointer's offset field, set to the page's end.
  uint32_t raw = LoadU32(page, kZenithPgAbi.page.size);
  raw = (raw & ~0x7FFFu) | (kZenithPgAbi.blcksz - 4);
  StoreAt(page, kZenithPgAbi.page.size, raw);
  auto name = SuperuserIn(file);
  ASSERT_FALSE(name.ok());
  EXPECT_EQ(name.status().code(), StatusCode::kCorruption) << name.status().ToString();
}

TEST_F(PgAuthIdTest, NoRowForOidTenIsNotFound) {
  EXPECT_EQ(BootstrapSuperuser({AuthIdTuple{11, "x", 5, true}}).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(BootstrapSuperuser({AuthIdTuple{10, "gone", 5, false}}).status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace zenith
