// The --json documents (cli/json_output.h): field names and types as README
// documents them, LSNs as PostgreSQL writes them, sizes in bytes, absent
// values as null, a parent named by its branch.
#include "cli/json_output.h"

#include <gtest/gtest.h>

namespace zenith::cli {
namespace {

using nlohmann::json;
using pageserver::TimelineId;

TimelineId Id(char digit) { return *TimelineId::Parse(std::string(32, digit)); }

TEST(JsonOutput, BranchListNamesParentsAndBranchPoints) {
  std::vector<pageserver::BranchEntry> branches = {{"main", Id('a'), std::nullopt, Lsn::Invalid()},
                                                   {"exp", Id('b'), Id('a'), Lsn(0x16B3748)},
                                                   {"orphan", Id('c'), Id('d'), Lsn(0x2000000)}};
  json doc = BranchListJson(branches);
  ASSERT_EQ(doc["branches"].size(), 3u);
  const json& main = doc["branches"][0];
  EXPECT_EQ(main["name"], "main");
  EXPECT_EQ(main["timeline"], std::string(32, 'a'));
  EXPECT_TRUE(main["parent"].is_null());
  EXPECT_TRUE(main["branch_lsn"].is_null());
  EXPECT_EQ(doc["branches"][1]["parent"], "main");
  EXPECT_EQ(doc["branches"][1]["branch_lsn"], "0/16B3748");
  EXPECT_TRUE(doc["branches"][2]["parent"].is_null());  // its parent was deleted
  EXPECT_EQ(doc["branches"][2]["branch_lsn"], "0/2000000");
}

TEST(JsonOutput, BranchSizesAreBytesAndLsns) {
  pageserver::BranchSizes b;
  b.name = "exp";
  b.timeline = Id('b');
  b.parent = "main";
  b.branch_lsn = Lsn(0x16B3748);
  b.end_of_wal = Lsn(0x100000028ULL);
  b.logical_size = 5ULL << 32;  // past 32 bits
  b.own_bytes = 8192;
  b.exclusive_bytes = 0;
  b.layers = 3;
  json row = BranchSizesJson({b})["branches"][0];
  EXPECT_EQ(row["end_of_wal"], "1/28");
  EXPECT_TRUE(row["history_from"].is_null());
  EXPECT_EQ(row["logical_size_bytes"].get<uint64_t>(), 5ULL << 32);
  EXPECT_EQ(row["own_bytes"], 8192);
  EXPECT_EQ(row["layers"], 3);
  EXPECT_EQ(row["branch_lsn"], "0/16B3748");
}

TEST(JsonOutput, MountsSayWhereAndWhetherPostgresRuns) {
  pageserver::MountEntry local{Id('a'), "main", "/home/u/pg", 42, "", false, Lsn::Invalid()};
  pageserver::MountEntry past{Id('a'), "main", "/home/u/then", 43, "", true, Lsn(0x16B3748)};
  pageserver::MountEntry remote{Id('b'), "exp", "host2:/srv/pg", 44, "", false, Lsn::Invalid()};
  std::vector<std::string> asked;
  json doc = MountsJson({local, past, remote}, [&](const std::string& dir) -> std::optional<pid_t> {
    asked.push_back(dir);
    return dir == "/home/u/pg" ? std::optional<pid_t>(777) : std::nullopt;
  });
  ASSERT_EQ(doc["mounts"].size(), 3u);
  EXPECT_EQ(doc["mounts"][0]["postgres_pid"], 777);
  EXPECT_EQ(doc["mounts"][0]["pid"], 42);
  EXPECT_FALSE(doc["mounts"][0]["read_only"].get<bool>());
  EXPECT_TRUE(doc["mounts"][0]["point"].is_null());
  EXPECT_TRUE(doc["mounts"][1]["postgres_pid"].is_null());
  EXPECT_EQ(doc["mounts"][1]["point"], "0/16B3748");
  EXPECT_TRUE(doc["mounts"][2]["remote"].get<bool>());
  EXPECT_EQ(asked, (std::vector<std::string>{"/home/u/pg", "/home/u/then"}));  // never another machine's path
}

TEST(JsonOutput, PageServerStatusRunningOrNot) {
  EXPECT_EQ(PageServerStatusJson(std::nullopt, "/s"), json({{"running", false}}));
  pageserver::ServerStatus st;
  st.pid = 9;
  st.system_id = 7445871221234567890ULL;  // more digits than a double keeps
  st.compaction = pageserver::BackgroundRun{1700000000, 2, 1699999000, "disk full"};
  json doc = PageServerStatusJson(st, "/r/.s.PGSQL.64000");
  EXPECT_TRUE(doc["running"].get<bool>());
  EXPECT_EQ(doc["system_identifier"], "7445871221234567890");
  EXPECT_EQ(doc["socket"], "/r/.s.PGSQL.64000");
  EXPECT_EQ(doc["compaction"]["failing_runs"], 2);
  EXPECT_EQ(doc["compaction"]["problem"], "disk full");
  EXPECT_TRUE(doc["gc"].is_null());
}

}  // namespace
}  // namespace zenith::cli
