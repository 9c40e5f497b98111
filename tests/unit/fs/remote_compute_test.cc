// fs/remote_compute.h: a remote mount's settings, their removal by every
// later mount, and reading a compute's socket from its postmaster.pid.
#include "fs/remote_compute.h"

#include <gtest/gtest.h>

#include "common/file_util.h"
#include "fs/scratch_setup.h"
#include "tests/harness/temp_dir.h"

namespace zenith::fs {
namespace {

using ::zenith::testing::TempDir;

// postmaster.pid as PostgreSQL 15 writes it, with `status` on line 8.
std::string PidFile(const std::string& port, const std::string& socket_dir, const std::string& status) {
  return "4242\n/data\n1764400000\n" + port + "\n" + socket_dir + "\nlocalhost\n  5432001    196608\n" + status + "\n";
}

TEST(RemoteCompute, TheSocketIsKnownOnceThePostmasterSaysReady) {
  EXPECT_EQ(ReadyComputeSocket(PidFile("5433", "/tmp/s", "ready   ")), (ComputeSocket{"/tmp/s", 5433}));
  EXPECT_EQ(ReadyComputeSocket(PidFile("5433", "/tmp/s", "starting")), std::nullopt);
  EXPECT_EQ(ReadyComputeSocket(PidFile("5433", "/tmp/s", "stopping")), std::nullopt);
  EXPECT_EQ(ReadyComputeSocket(PidFile("54x3", "/tmp/s", "ready   ")), std::nullopt) << "a port is digits";
  EXPECT_EQ(ReadyComputeSocket(PidFile("5433", "", "ready   ")), std::nullopt) << "no Unix socket";
  EXPECT_EQ(ReadyComputeSocket("4242\n/data\n"), std::nullopt) << "a pid file being written";
  EXPECT_EQ(ReadyComputeSocket(""), std::nullopt);
}

TEST(RemoteCompute, OnlyTheMountsUserReplicatesAndOnlyOverTheSocketAndTheLinesLeaveWithTheNextMount) {
  TempDir dir("remote-compute");
  const std::string d = dir.path();
  ASSERT_TRUE(WriteFileDurably(d + "/postgresql.auto.conf", "work_mem = '64MB'\n").ok());
  ASSERT_TRUE(WriteFileDurably(d + "/pg_hba.conf", "local all all trust\nhost replication all 127.0.0.1/32 trust\n").ok());
  ASSERT_TRUE(WriteFileDurably(d + "/pg_ident.conf", "# MAPNAME SYSTEM-USERNAME PG-USERNAME\n").ok());
  ASSERT_TRUE(ApplyMountSettings(d).ok());
  ASSERT_TRUE(ApplyRemoteComputeSettings(d, {"compute-os", "boss"}).ok());

  const std::string conf = ReadFileToString(d + "/postgresql.auto.conf").value_or("");
  EXPECT_NE(conf.find("work_mem = '64MB'\n"), std::string::npos);
  EXPECT_NE(conf.find("synchronous_standby_names = 'zenith_pageserver'"), std::string::npos) << conf;
  EXPECT_NE(conf.find("synchronous_commit = 'on'"), std::string::npos);
  EXPECT_EQ(conf.find("listen_addresses"), std::string::npos) << "the cluster's own listen_addresses stays";
  EXPECT_GT(conf.rfind("wal_keep_size = '1024'"), conf.find("wal_keep_size = '2147483647'"))
      << "the remote mount's bounded WAL comes last, so it wins";
  const std::string hba = ReadFileToString(d + "/pg_hba.conf").value_or("");
  const std::string mark = "  # zenith: remote mount\n";
  EXPECT_EQ(hba, "local replication \"boss\" peer map=zenith_mount" + mark + "local replication all reject" + mark +
                     "host replication all all reject" + mark + "local all \"boss\" peer map=zenith_login" + mark +
                     "local all all trust\nhost replication all 127.0.0.1/32 trust\n")
      << "first: the first matching line counts";
  EXPECT_EQ(ReadFileToString(d + "/pg_ident.conf").value_or(""),
            "# MAPNAME SYSTEM-USERNAME PG-USERNAME\nzenith_mount \"compute-os\" \"boss\"" + mark +
                "zenith_login \"compute-os\" \"boss\"" + mark + "zenith_login \"boss\" \"boss\"" + mark);

  // A snapshot the remote mount uploaded carries these files; the next
  // mount (here a local one) takes the remote lines out again.
  ASSERT_TRUE(ApplyMountSettings(d).ok());
  const std::string conf2 = ReadFileToString(d + "/postgresql.auto.conf").value_or("");
  EXPECT_EQ(conf2.find("synchronous_standby_names"), std::string::npos) << conf2;
  EXPECT_EQ(conf2.find("wal_keep_size = '1024'"), std::string::npos);
  EXPECT_NE(conf2.find("work_mem = '64MB'\n"), std::string::npos);
  EXPECT_EQ(ReadFileToString(d + "/pg_hba.conf").value_or(""),
            "local all all trust\nhost replication all 127.0.0.1/32 trust\n");
  EXPECT_EQ(ReadFileToString(d + "/pg_ident.conf").value_or(""), "# MAPNAME SYSTEM-USERNAME PG-USERNAME\n");
}

TEST(RemoteCompute, ANameThatPgHbaCannotHoldIsRefusedAndNothingIsWritten) {
  TempDir dir("remote-compute");
  ASSERT_TRUE(WriteFileDurably(dir.path() + "/pg_hba.conf", "local all all trust\n").ok());
  for (const RemoteComputeAuth& bad : {RemoteComputeAuth{"os", "a\"b"}, RemoteComputeAuth{"os", "x\nhost all all all trust"},
                                       RemoteComputeAuth{"/.*", "boss"}, RemoteComputeAuth{"os", ""}}) {
    Status s = ApplyRemoteComputeSettings(dir.path(), bad);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
  }
  EXPECT_EQ(ReadFileToString(dir.path() + "/pg_hba.conf").value_or(""), "local all all trust\n");
  EXPECT_FALSE(ReadFileToString(dir.path() + "/postgresql.auto.conf").ok());
}

}  // namespace
}  // namespace zenith::fs
