// fs/remote_compute.h: a remote mount's settings, their removal by every
// later mount, and reading a compute's address from its postmaster.pid.
#include "fs/remote_compute.h"

#include <gtest/gtest.h>

#include "common/file_util.h"
#include "fs/scratch_setup.h"
#include "tests/harness/temp_dir.h"

namespace zenith::fs {
namespace {

using ::zenith::testing::TempDir;

// postmaster.pid as PostgreSQL 15 writes it, with `status` on line 8.
std::string PidFile(const std::string& port, const std::string& status) {
  return "4242\n/data\n1764400000\n" + port + "\n/tmp\nlocalhost\n  5432001    196608\n" + status + "\n";
}

TEST(RemoteCompute, TheUrlIsKnownOnceThePostmasterSaysReady) {
  EXPECT_EQ(ReadyComputeUrl(PidFile("5433", "ready   "), "10.1.2.3"), "postgresql://10.1.2.3:5433");
  EXPECT_EQ(ReadyComputeUrl(PidFile("5433", "ready   "), "fd00::7"), "postgresql://[fd00::7]:5433");
  EXPECT_EQ(ReadyComputeUrl(PidFile("5433", "starting"), "10.1.2.3"), std::nullopt);
  EXPECT_EQ(ReadyComputeUrl(PidFile("5433", "stopping"), "10.1.2.3"), std::nullopt);
  EXPECT_EQ(ReadyComputeUrl(PidFile("54x3", "ready   "), "10.1.2.3"), std::nullopt) << "a port is digits";
  EXPECT_EQ(ReadyComputeUrl("4242\n/data\n", "10.1.2.3"), std::nullopt) << "a pid file being written";
  EXPECT_EQ(ReadyComputeUrl("", "10.1.2.3"), std::nullopt);
  EXPECT_TRUE(ListensOnTcp(PidFile("5433", "ready   ")));
  EXPECT_FALSE(ListensOnTcp("4242\n/data\n1764400000\n5433\n/tmp\n\n  5432001    196608\nready   \n"))
      << "listen_addresses = '': Unix sockets only";
}

TEST(RemoteCompute, ItsSettingsMakeThePageServerASynchronousStandbyAndLeaveWithTheNextMount) {
  TempDir dir("remote-compute");
  const std::string d = dir.path();
  ASSERT_TRUE(WriteFileDurably(d + "/postgresql.auto.conf", "work_mem = '64MB'\n").ok());
  ASSERT_TRUE(WriteFileDurably(d + "/pg_hba.conf", "local all all trust\n").ok());
  ASSERT_TRUE(ApplyMountSettings(d).ok());
  ASSERT_TRUE(ApplyRemoteComputeSettings(d, {"192.0.2.10", "192.0.2.20"}).ok());

  const std::string conf = ReadFileToString(d + "/postgresql.auto.conf").value_or("");
  EXPECT_NE(conf.find("work_mem = '64MB'\n"), std::string::npos);
  EXPECT_NE(conf.find("synchronous_standby_names = 'zenith_pageserver'"), std::string::npos) << conf;
  EXPECT_NE(conf.find("synchronous_commit = 'on'"), std::string::npos);
  EXPECT_NE(conf.find("listen_addresses = 'localhost, 192.0.2.20'"), std::string::npos);
  EXPECT_GT(conf.rfind("wal_keep_size = '1024'"), conf.find("wal_keep_size = '2147483647'"))
      << "the remote mount's bounded WAL comes last, so it wins";
  const std::string hba = ReadFileToString(d + "/pg_hba.conf").value_or("");
  EXPECT_EQ(hba.find("host replication all 192.0.2.10/32 trust"), 0u) << "first: the first matching line counts\n"
                                                                       << hba;
  EXPECT_NE(hba.find("local all all trust\n"), std::string::npos);

  // A snapshot the remote mount uploaded carries these files; the next
  // mount (here a local one) takes the remote lines out again.
  ASSERT_TRUE(ApplyMountSettings(d).ok());
  const std::string conf2 = ReadFileToString(d + "/postgresql.auto.conf").value_or("");
  EXPECT_EQ(conf2.find("synchronous_standby_names"), std::string::npos) << conf2;
  EXPECT_EQ(conf2.find("listen_addresses"), std::string::npos);
  EXPECT_EQ(conf2.find("wal_keep_size = '1024'"), std::string::npos);
  EXPECT_NE(conf2.find("work_mem = '64MB'\n"), std::string::npos);
  EXPECT_EQ(ReadFileToString(d + "/pg_hba.conf").value_or(""), "local all all trust\n");
}

TEST(RemoteCompute, ALoopbackComputeListensOnLocalhostOnly) {
  TempDir dir("remote-compute");
  ASSERT_TRUE(ApplyRemoteComputeSettings(dir.path(), {"127.0.0.1", "127.0.0.1"}).ok());
  const std::string conf = ReadFileToString(dir.path() + "/postgresql.auto.conf").value_or("");
  EXPECT_NE(conf.find("listen_addresses = 'localhost'"), std::string::npos) << conf;
  ASSERT_TRUE(ApplyRemoteComputeSettings(dir.path(), {"fd00::1", "fd00::2"}).ok());
  EXPECT_NE(ReadFileToString(dir.path() + "/pg_hba.conf").value_or("").find("fd00::1/128"), std::string::npos);
}

}  // namespace
}  // namespace zenith::fs
