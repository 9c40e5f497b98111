// --json from the real `zenith` (README, "Machine-readable output"): each
// command prints one document a script can parse, agreeing with the text
// output and with the repository's state.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/lsn.h"
#include "tests/harness/temp_dir.h"
#include "tests/harness/zenith_env.h"

namespace zenith::testing {
namespace {

using nlohmann::json;

json Parse(const RunResult& r) {
  json doc = json::parse(r.out, nullptr, /*allow_exceptions=*/false);
  EXPECT_FALSE(doc.is_discarded()) << "not one JSON document: " << r.out;
  return doc;
}

const json* Named(const json& list, const std::string& key, const std::string& value) {
  for (const auto& item : list) {
    if (item[key] == value) return &item;
  }
  ADD_FAILURE() << "no " << key << " = " << value << " in " << list.dump();
  return nullptr;
}

TEST(JsonOutputTest, BranchListsStatusAndPageServerStatusAreDocuments) {
  TempDir dir("json-output");
  ZenithEnv env(dir);
  ASSERT_TRUE(env.MustZenith({"init"}).ok());
  env.MustZenith({"branch", "exp", "main"});

  json list = Parse(env.MustZenith({"branch", "--json"}));
  ASSERT_EQ(list["branches"].size(), 2u) << list.dump();
  const json* exp = Named(list["branches"], "name", "exp");
  ASSERT_NE(exp, nullptr);
  EXPECT_EQ((*exp)["parent"], "main");
  ASSERT_TRUE((*exp)["branch_lsn"].is_string());
  EXPECT_TRUE(Lsn::Parse((*exp)["branch_lsn"].get<std::string>()).has_value()) << exp->dump();
  EXPECT_TRUE((*Named(list["branches"], "name", "main"))["parent"].is_null());

  json sizes = Parse(env.MustZenith({"branch", "-v", "--json"}));
  const json* main = Named(sizes["branches"], "name", "main");
  ASSERT_NE(main, nullptr);
  EXPECT_GT((*main)["logical_size_bytes"].get<uint64_t>(), 1u << 20) << "an initdb cluster is megabytes";
  EXPECT_GT((*main)["layers"].get<uint64_t>(), 0u);
  auto end_of_wal = Lsn::Parse((*main)["end_of_wal"].get<std::string>());
  ASSERT_TRUE(end_of_wal.has_value());
  auto branch_lsn = Lsn::Parse((*Named(sizes["branches"], "name", "exp"))["branch_lsn"].get<std::string>());
  ASSERT_TRUE(branch_lsn.has_value());
  EXPECT_LE(*branch_lsn, *end_of_wal);

  EXPECT_EQ(Parse(env.MustZenith({"status", "--json"}))["mounts"], json::array());
  env.MustZenith({"mount", "exp", dir.Sub("exp")});
  json status = Parse(env.MustZenith({"status", "--json"}));
  ASSERT_EQ(status["mounts"].size(), 1u) << status.dump();
  const json& mount = status["mounts"][0];
  EXPECT_EQ(mount["branch"], "exp");
  EXPECT_EQ(mount["directory"], dir.Sub("exp"));
  EXPECT_EQ(mount["timeline"], (*exp)["timeline"]);
  EXPECT_GT(mount["pid"].get<int>(), 0);
  EXPECT_TRUE(mount["postgres_pid"].is_null()) << "PostgreSQL was not started";
  EXPECT_FALSE(mount["read_only"].get<bool>());
  env.MustZenith({"umount", dir.Sub("exp")});

  json running = Parse(env.MustZenith({"pageserver", "status", "--json"}));
  EXPECT_TRUE(running["running"].get<bool>());
  EXPECT_GT(running["pid"].get<int>(), 0);
  EXPECT_EQ(running["socket"], env.repo() + "/.s.PGSQL.64000");
  EXPECT_TRUE(running["system_identifier"].is_string());
  env.MustZenith({"pageserver", "stop"});
  RunResult stopped = env.Zenith({"pageserver", "status", "--json"});
  EXPECT_EQ(stopped.exit_code, 3) << stopped.Describe();
  EXPECT_EQ(Parse(stopped), json({{"running", false}}));
}

TEST(JsonOutputTest, JsonOnACommandWithoutADocumentIsAUsageError) {
  TempDir dir("json-usage");
  ZenithEnv env(dir);
  RunResult r = env.Zenith({"pageserver", "start", "--json"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("--json goes with `zenith pageserver status`"), std::string::npos) << r.Describe();
}

}  // namespace
}  // namespace zenith::testing
