// Who may connect to a branch of a new repository: `zenith init` gives the
// cluster what Debian's pg_createcluster gives one (peer on the Unix socket,
// scram-sha-256 on TCP), so another OS user on the compute's machine is not
// its superuser; `zenith init --auth trust` is a sandbox anyone may enter.
// The other OS user is the one the remote-mount tests use (tests/run.sh).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "common/file_util.h"
#include "tests/harness/compute.h"
#include "tests/harness/test_env.h"
#include "tests/harness/zenith_env.h"

namespace zenith::testing {
namespace {

std::string OtherUserName() {
  const char* u = std::getenv("ZENITH_REMOTE_USER");
  return u != nullptr && *u ? u : "zenith-remote";
}

class InitAuth : public ::testing::Test {
 protected:
  InitAuth() : env_(dir_) {}
  void SetUp() override {
    ASSERT_FALSE(RunningAsRoot()) << "run the tests with tests/run.sh";
    if (!RunCommand({"sudo", "-n", "-u", other_, "true"}, {.cwd = "/"}).ok()) {
      ASSERT_FALSE(InCi()) << "this test needs to run psql as " << other_ << " through sudo (tests/run.sh sets it up)";
      GTEST_SKIP() << "cannot run commands as " << other_ << " through sudo; tests/run.sh, run as root, sets that up";
    }
    // The other user may reach the compute's socket (as on any machine:
    // /var/run/postgresql is open to all); what lets it in is pg_hba.conf.
    ASSERT_EQ(::chmod(dir_.path().c_str(), 0711), 0);
  }

  // `zenith init` with `args`, then PostgreSQL on branch main, listening on
  // 127.0.0.1 and on a Unix socket in the test's directory.
  void InitAndStart(std::vector<std::string> args) {
    args.insert(args.begin(), "init");
    ASSERT_TRUE(env_.MustZenith(args).ok());
    ASSERT_TRUE(env_.MustZenith({"mount", "main", dir_.Sub("main")}).ok());
    Status started = compute_.pg().Start({"listen_addresses=127.0.0.1"});
    ASSERT_TRUE(started.ok()) << started.message();
  }

  // psql as this OS user and role over TCP, with no password anywhere.
  RunResult PsqlOverTcp() {
    return RunCommand({PgBin("psql"), "-X", "-A", "-t", "-w", "-h", "127.0.0.1", "-p", std::to_string(port_), "-U",
                       CurrentUserName(), "-d", "postgres", "-c", "select 42"},
                      {.env = {{"PGPASSFILE", "/dev/null"}, {"PGCONNECT_TIMEOUT", "10"}}});
  }
  // psql over the Unix socket as the repository owner's role, run by
  // `os_user` (this user or the other one).
  RunResult PsqlOverSocketAs(const std::string& os_user) {
    std::vector<std::string> argv = {"env", "PGPASSFILE=/dev/null", PgBin("psql"), "-X", "-A", "-t", "-w",
                                     "-h",  dir_.path(),            "-p",         std::to_string(port_),
                                     "-U",  CurrentUserName(),      "-d",         "postgres", "-c", "select 42"};
    if (os_user != CurrentUserName()) argv.insert(argv.begin(), {"sudo", "-n", "-u", os_user});
    return RunCommand(argv, {.cwd = "/"});
  }

  TempDir dir_{"zenith-init-auth"};
  ZenithEnv env_;
  const std::string other_ = OtherUserName();
  const int port_ = 31000 + static_cast<int>(getpid() % 1500);  // below the ephemeral range
  Compute compute_{env_, "main", port_};
};

TEST_F(InitAuth, ANewBranchLetsOnlyItsOwnerInOverTheSocketAndNobodyWithoutAPasswordOverTcp) {
  ASSERT_NO_FATAL_FAILURE(InitAndStart({}));
  RunResult owner = PsqlOverSocketAs(CurrentUserName());
  EXPECT_TRUE(owner.ok()) << owner.Describe();
  EXPECT_EQ(owner.out, "42\n");

  RunResult tcp = PsqlOverTcp();
  EXPECT_FALSE(tcp.ok()) << "a TCP connection without a password got in:\n" << tcp.out;
  EXPECT_NE(tcp.err.find("no password supplied"), std::string::npos) << tcp.Describe();

  RunResult other = PsqlOverSocketAs(other_);
  EXPECT_FALSE(other.ok()) << other_ << " got in as " << CurrentUserName() << ":\n" << other.out;
  EXPECT_NE(other.err.find("Peer authentication failed"), std::string::npos) << other.Describe();
}

TEST_F(InitAuth, AuthTrustMakesASandboxAnyLocalUserMayEnter) {
  ASSERT_NO_FATAL_FAILURE(InitAndStart({"--auth", "trust"}));
  RunResult tcp = PsqlOverTcp();
  EXPECT_TRUE(tcp.ok()) << tcp.Describe();
  EXPECT_EQ(tcp.out, "42\n");
  RunResult other = PsqlOverSocketAs(other_);
  EXPECT_TRUE(other.ok()) << other.Describe();
  EXPECT_EQ(other.out, "42\n");
}

TEST_F(InitAuth, AnUnknownMethodOrOneWithAnImportIsRefusedAndCreatesNothing) {
  for (const std::vector<std::string>& args : {std::vector<std::string>{"init", "--auth", "md5"},
                                                {"init", "--auth", "trust", "--from-datadir", dir_.path()},
                                                {"init", "--auth", "trust", "--from", "host=/nonexistent"}}) {
    RunResult r = env_.Zenith(args);
    EXPECT_FALSE(r.ok()) << args.back();
    EXPECT_NE(r.err.find("--auth"), std::string::npos) << r.Describe();
    EXPECT_FALSE(PathExists(env_.repo())) << args.back();
  }
}

}  // namespace
}  // namespace zenith::testing
