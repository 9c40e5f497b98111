// `zenith branch --tree` (cli/branch_tree.h): each branch under its parent,
// siblings in name order, an unnamed parent as a node of its own.
#include "cli/branch_tree.h"

#include <gtest/gtest.h>

#include "cli/format.h"

namespace zenith::cli {
namespace {

using pageserver::BranchSizes;
using pageserver::TimelineId;

TimelineId Id(char digit) { return *TimelineId::Parse(std::string(32, digit)); }

BranchSizes Branch(std::string name, char id, std::string parent, uint64_t lsn, uint64_t size) {
  BranchSizes b;
  b.name = std::move(name);
  b.timeline = Id(id);
  b.parent = std::move(parent);
  b.branch_lsn = b.parent.empty() ? Lsn::Invalid() : Lsn(lsn);
  b.end_of_wal = Lsn(0x3000000);
  b.logical_size = size;
  return b;
}

std::vector<BranchSizes> Family() {
  return {Branch("main", 'a', "", 0, 8 << 20), Branch("zeta", 'b', "main", 0x1000000, 8 << 20),
          Branch("exp", 'c', "main", 0x2000000, 9 << 20), Branch("exp2", 'd', "exp", 0x2100000, 10 << 20),
          Branch("lost", 'e', std::string(32, 'f'), 0x1800000, 7 << 20)};
}

TEST(BranchTree, ChildrenHangUnderTheirParentsInNameOrder) {
  auto rows = BranchTreeRows(Family(), false);
  ASSERT_EQ(rows.size(), 7u);
  EXPECT_EQ(rows[0], (std::vector<std::string>{"BRANCH", "BRANCH POINT", "LOGICAL SIZE"}));
  EXPECT_EQ(rows[1][0], "main");
  EXPECT_EQ(rows[1][1], "-");
  EXPECT_EQ(rows[2][0], "|-- exp");
  EXPECT_EQ(rows[2][1], "@0/2000000");
  EXPECT_EQ(rows[3][0], "|   `-- exp2");
  EXPECT_EQ(rows[4][0], "`-- zeta");
  EXPECT_EQ(rows[5][0], "(timeline " + std::string(32, 'f') + ", no branch)");
  EXPECT_EQ(rows[6][0], "`-- lost");
  EXPECT_EQ(rows[6][1], "@0/1800000");
  EXPECT_EQ(rows[2][2], FormatBytes(9 << 20));
}

TEST(BranchTree, VerboseAddsEndOfWalOwnSizeAndLayers) {
  auto rows = BranchTreeRows(Family(), true);
  ASSERT_EQ(rows[0].size(), 6u);
  EXPECT_EQ(rows[0][3], "END OF WAL");
  EXPECT_EQ(rows[1][3], "0/3000000");
}

TEST(BranchTree, JsonNestsChildrenAndNamesAnUnnamedParentByTimeline) {
  auto doc = BranchTreeJson(Family());
  ASSERT_EQ(doc["branches"].size(), 2u) << doc.dump();
  const auto& main = doc["branches"][0];
  EXPECT_EQ(main["name"], "main");
  ASSERT_EQ(main["children"].size(), 2u);
  EXPECT_EQ(main["children"][0]["name"], "exp");
  EXPECT_EQ(main["children"][0]["branch_lsn"], "0/2000000");
  EXPECT_EQ(main["children"][0]["children"][0]["name"], "exp2");
  EXPECT_EQ(main["children"][0]["children"][0]["children"].size(), 0u);
  EXPECT_EQ(main["children"][1]["name"], "zeta");
  const auto& unnamed = doc["branches"][1];
  EXPECT_TRUE(unnamed["name"].is_null());
  EXPECT_EQ(unnamed["timeline"], std::string(32, 'f'));
  EXPECT_EQ(unnamed["children"][0]["name"], "lost");
}

}  // namespace
}  // namespace zenith::cli
