// The bucket goes away in the middle of a load and comes back (a relay in
// front of the real Ceph RGW is cut, then restored): no error reaches
// PostgreSQL, `zenith status` warns and `zenith remote status` shows the
// backlog while it lasts, the backlog drains afterwards, and the bucket then
// attaches with every commit.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/file_util.h"
#include "tests/harness/compute.h"
#include "tests/harness/s3_test_env.h"
#include "tests/harness/tcp_relay.h"
#include "tests/harness/temp_dir.h"
#include "tests/harness/wait.h"
#include "tests/harness/zenith_env.h"

namespace zenith::testing {
namespace {

uint16_t EndpointPort(const S3TestEnv& s3env) {
  const std::string& endpoint = s3env.vars.at("AWS_ENDPOINT_URL");
  return static_cast<uint16_t>(std::stoi(endpoint.substr(endpoint.rfind(':') + 1)));
}

TEST(RemoteOutage, LocalWorkGoesOnWhileTheBucketIsAwayAndTheBacklogDrainsAfter) {
  ZENITH_REQUIRE_S3(s3env);
  auto relay = TcpRelay::Start(EndpointPort(s3env));
  ASSERT_TRUE(relay.ok()) << relay.status().ToString();
  TempDir dir;
  ZenithEnv env(dir);
  for (const auto& [k, v] : s3env.vars) env.SetEnv(k, v);
  env.SetEnv("HOME", dir.path());
  env.SetEnv("AWS_ENDPOINT_URL", "http://127.0.0.1:" + std::to_string((*relay)->port()));
  const std::string url = "s3://" + s3env.bucket + "/" + S3TestEnv::UniquePrefix() + "/repo";
  ASSERT_TRUE(env.MustZenith({"init", "--auth", "trust", "--remote", url}).ok());
  env.Zenith({"pageserver", "stop"});
  auto config = nlohmann::json::parse(ReadFileToString(env.repo() + "/config").value());
  config["remote"]["wal_upload_interval"] = 0.3;
  ASSERT_TRUE(WriteFileDurably(env.repo() + "/config", config.dump(2)).ok());
  ASSERT_TRUE(env.MustZenith({"mount", "main", dir.Sub("main")}).ok());
  Compute main(env, "main", FreePort());
  main.Start();
  main.Query("create table acked (id int primary key, pad text)");
  ASSERT_TRUE(env.MustZenith({"remote", "sync", "--timeout", "60"}).ok());
  EXPECT_EQ(env.MustZenith({"status"}).err, "");

  (*relay)->Cut();
  auto conn = PgConnection::Open(main.pg().ConnString());
  ASSERT_TRUE(conn.ok()) << conn.status().ToString();
  int acked = 0;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (std::chrono::steady_clock::now() < until) {
    ++acked;
    auto r = (*conn)->Query("insert into acked values (" + std::to_string(acked) + ", repeat('x', 500))");
    ASSERT_TRUE(r.ok()) << "commit " << acked << " while the bucket is away: " << r.status().ToString();
    if (acked % 500 == 0) {
      ASSERT_TRUE((*conn)->Query("checkpoint").ok());
    }
  }
  RunResult status;
  EXPECT_TRUE(WaitUntil(
      [&] {
        status = env.MustZenith({"status"});
        return status.err.find("warning: uploads to " + url + " are failing") != std::string::npos;
      },
      std::chrono::seconds(20)))
      << status.Describe();
  RunResult remote = env.MustZenith({"remote", "status"});
  EXPECT_EQ(remote.out.find("last error: none"), std::string::npos) << remote.out;
  RunResult sync = env.Zenith({"remote", "sync", "--timeout", "2"});
  EXPECT_FALSE(sync.ok()) << "the bucket is away, yet sync says all is up";

  ASSERT_TRUE((*relay)->Restore().ok());
  ASSERT_TRUE(env.MustZenith({"remote", "sync", "--timeout", "120"}).ok()) << "the backlog never drained";
  EXPECT_EQ(env.MustZenith({"status"}).err, "") << "the warning outlived the outage";
  conn->reset();
  ASSERT_TRUE(main.pg().Stop().ok());

  TempDir other;
  ZenithEnv attached(other);
  for (const auto& [k, v] : s3env.vars) attached.SetEnv(k, v);
  attached.SetEnv("HOME", other.path());
  ASSERT_TRUE(env.MustZenith({"pageserver", "stop"}).ok());
  ASSERT_TRUE(attached.MustZenith({"attach", url}).ok());
  ASSERT_TRUE(attached.MustZenith({"mount", "main", other.Sub("main")}).ok());
  Compute again(attached, "main", FreePort());
  again.Start();
  EXPECT_EQ(again.Query("select count(*) from acked"), std::to_string(acked));
  ASSERT_TRUE(again.pg().Stop().ok());
}

}  // namespace
}  // namespace zenith::testing
