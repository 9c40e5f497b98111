// The page server's TCP endpoint (`zenith pageserver start --listen
// HOST:PORT`): TLS with a certificate the repository's CA (.zenith/ca.crt)
// signed, and every connection authenticates with SCRAM-SHA-256(-PLUS) as
// user zenith, with the password `zenith init` made in .zenith/password, or
// as user compute, with .zenith/compute-password, which may only do what a
// mount needs; libpq (psql) is the client. A wrong password or none runs no
// command, a password file others may read stops the page server, and plain
// TCP is refused unless the config allows it by name.
#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>

#include "common/file_util.h"
#include "common/unique_fd.h"
#include "tests/harness/test_env.h"
#include "tests/harness/zenith_env.h"

namespace zenith::testing {
namespace {

using namespace std::chrono_literals;

class TcpAuth : public ::testing::Test {
 protected:
  TcpAuth() : env_(dir_) {}
  void SetUp() override {
    ASSERT_FALSE(RunningAsRoot()) << "run the tests with tests/run.sh";
    ASSERT_TRUE(env_.MustZenith({"init"}).ok());
    auto password = ReadFileToString(env_.repo() + "/password");
    ASSERT_TRUE(password.ok());
    password_ = password->substr(0, password->find('\n'));
    auto compute = ReadFileToString(env_.repo() + "/compute-password");
    ASSERT_TRUE(compute.ok()) << compute.status().ToString();
    compute_password_ = compute->substr(0, compute->find('\n'));
  }
  // psql over TCP as `user` with `password` ("" = none at all), with the
  // libpq settings `ssl` (default: TLS verified with the repository's CA).
  RunResult Psql(const std::string& sql, const std::string& password, const std::string& user = "zenith",
                 const std::string& ssl = "") {
    std::map<std::string, std::string> env = {{"PGPASSFILE", "/dev/null"}, {"PGCONNECT_TIMEOUT", "10"}};
    if (!password.empty()) env["PGPASSWORD"] = password;
    const std::string settings = ssl.empty() ? "sslmode=verify-full sslrootcert=" + env_.repo() + "/ca.crt" : ssl;
    return RunCommand({PgBin("psql"), "-X", "-A", "-t", "-w", "-v", "VERBOSITY=verbose", "-d",
                       "host=127.0.0.1 port=" + std::to_string(port_) + " user=" + user + " dbname=zenith " + settings,
                       "-c", sql},
                      {.env = env});
  }
  RunResult Listen() { return env_.MustZenith({"pageserver", "start", "--listen", "127.0.0.1:" + std::to_string(port_)}); }
  std::string Log() { return ReadFileToString(env_.repo() + "/pageserver.log").value_or(""); }

  TempDir dir_{"tcp-auth"};
  ZenithEnv env_;
  std::string password_, compute_password_;
  // A port of this test's own (tests run in parallel), below the ephemeral
  // range (32768 and up) that outgoing connections take theirs from.
  const int port_ = 15000 + static_cast<int>(getpid() % 5000);
};

TEST_F(TcpAuth, OnlyThePasswordOpensTheTcpEndpoint) {
  struct stat st;
  ASSERT_EQ(::stat((env_.repo() + "/password").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_GE(password_.size(), 24u);
  ASSERT_EQ(::stat((env_.repo() + "/compute-password").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_GE(compute_password_.size(), 24u);
  EXPECT_NE(compute_password_, password_);
  RunResult start = Listen();
  EXPECT_NE(start.out.find("listening on 127.0.0.1:" + std::to_string(port_)), std::string::npos) << start.out;

  RunResult ok = Psql("branch_list", password_);
  EXPECT_TRUE(ok.ok()) << ok.Describe();
  EXPECT_EQ(ok.out.substr(0, 5), "main|");

  RunResult wrong = Psql("branch_create evil main", password_ + "x");
  EXPECT_FALSE(wrong.ok());
  EXPECT_NE(wrong.err.find("password authentication failed for user \"zenith\""), std::string::npos) << wrong.err;
  EXPECT_NE(Log().find("password authentication failed for user \"zenith\""), std::string::npos)
      << "a refused password is logged";
  RunResult none = Psql("branch_create evil main", "");
  EXPECT_FALSE(none.ok());
  EXPECT_NE(none.err.find("password"), std::string::npos) << none.err;
  RunResult other_user = Psql("branch_create evil main", password_, "postgres");
  EXPECT_FALSE(other_user.ok());
  EXPECT_NE(other_user.err.find("password authentication failed"), std::string::npos) << other_user.err;
  EXPECT_EQ(env_.MustZenith({"branch"}).out, "main\n") << "no refused client ran a command";

  // The listen address is kept: a page server started later (by any
  // command) listens there again; a new password counts from then.
  ASSERT_TRUE(WriteFileDurably(env_.repo() + "/password", "a new password\n", 0600).ok());
  EXPECT_TRUE(Psql("status", password_).ok()) << "the running server keeps the password it started with";
  env_.MustZenith({"pageserver", "stop"});
  env_.MustZenith({"branch"});  // starts it again
  EXPECT_FALSE(Psql("status", password_).ok());
  RunResult fresh = Psql("status", "a new password");
  EXPECT_TRUE(fresh.ok()) << fresh.Describe();
}

TEST_F(TcpAuth, TlsWithTheRepositoryCaAndChannelBinding) {
  RunResult start = Listen();
  EXPECT_NE(start.out.find(env_.repo() + "/ca.crt"), std::string::npos) << start.out;
  struct stat st;
  for (const char* key : {"/ca.key", "/server.key"}) {
    ASSERT_EQ(::stat((env_.repo() + key).c_str(), &st), 0) << key;
    EXPECT_EQ(st.st_mode & 0777, 0600u) << key;
  }
  // verify-full checks 127.0.0.1 against the certificate's subjectAltName;
  // channel_binding=require fails unless SCRAM-SHA-256-PLUS was offered and
  // the server proved it holds the certificate's channel.
  RunResult ok = Psql("status", password_, "zenith",
                      "sslmode=verify-full channel_binding=require sslrootcert=" + env_.repo() + "/ca.crt");
  EXPECT_TRUE(ok.ok()) << ok.Describe();
  RunResult local = Psql("status", password_, "zenith",
                         "host=localhost sslmode=verify-full channel_binding=require sslrootcert=" + env_.repo() + "/ca.crt");
  EXPECT_TRUE(local.ok()) << local.Describe();
  EXPECT_NE(Log().find("TLSv1."), std::string::npos) << "the log names the TLS version of a connection";
}

TEST_F(TcpAuth, PlainTcpIsRefusedUnlessAllowedByName) {
  ASSERT_TRUE(Listen().ok());
  RunResult plain = Psql("branch_create evil main", password_, "zenith", "sslmode=disable");
  EXPECT_FALSE(plain.ok());
  EXPECT_NE(plain.err.find("the page server requires TLS: connect with sslmode=verify-full sslrootcert=.zenith/ca.crt"),
            std::string::npos)
      << plain.err;
  EXPECT_EQ(env_.MustZenith({"branch"}).out, "main\n");

  // A config that asks for it by name: plain TCP works, with a warning at start.
  env_.MustZenith({"pageserver", "stop"});
  std::string config = ReadFileToString(env_.repo() + "/config").value();
  config.insert(config.find('{') + 1, "\n  \"allow_plain_tcp\": true,");
  ASSERT_TRUE(WriteFileDurably(env_.repo() + "/config", config, 0644).ok());
  ASSERT_TRUE(Listen().ok());
  RunResult allowed = Psql("status", password_, "zenith", "sslmode=disable");
  EXPECT_TRUE(allowed.ok()) << allowed.Describe();
  EXPECT_NE(Log().find("allow_plain_tcp is set"), std::string::npos);
  EXPECT_TRUE(Psql("status", password_).ok()) << "TLS still works";
}

TEST_F(TcpAuth, AClientTrustingAnotherCaRefusesTheServer) {
  ASSERT_TRUE(Listen().ok());
  // Another repository's CA: what a man in the middle would have.
  TempDir other_dir("tcp-auth-other");
  ZenithEnv other(other_dir);
  ASSERT_TRUE(other.MustZenith({"init"}).ok());
  ASSERT_TRUE(other.MustZenith({"pageserver", "start", "--listen", "127.0.0.1:" + std::to_string(port_ + 5000)}).ok());
  RunResult r = Psql("status", password_, "zenith", "sslmode=verify-ca sslrootcert=" + other.repo() + "/ca.crt");
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.err.find("certificate verify failed"), std::string::npos) << r.err;
  other.MustZenith({"pageserver", "stop"});
}

TEST_F(TcpAuth, AConfiguredCertificateIsUsed) {
  // A certificate of the operator's own: here another repository's, named in the config.
  TempDir other_dir("tcp-auth-cert");
  ZenithEnv other(other_dir);
  ASSERT_TRUE(other.MustZenith({"init"}).ok());
  ASSERT_TRUE(other.MustZenith({"pageserver", "start", "--listen", "127.0.0.1:" + std::to_string(port_ + 5001)}).ok());
  other.MustZenith({"pageserver", "stop"});
  std::string config = ReadFileToString(env_.repo() + "/config").value();
  config.insert(config.find('{') + 1, "\n  \"tls_cert\": \"" + other.repo() + "/server.crt\", \"tls_key\": \"" +
                                          other.repo() + "/server.key\",");
  ASSERT_TRUE(WriteFileDurably(env_.repo() + "/config", config, 0644).ok());
  ASSERT_TRUE(Listen().ok());
  EXPECT_FALSE(PathExists(env_.repo() + "/server.crt")) << "no certificate of its own is made";
  RunResult ok = Psql("status", password_, "zenith", "sslmode=verify-full sslrootcert=" + other.repo() + "/ca.crt");
  EXPECT_TRUE(ok.ok()) << ok.Describe();
}

TEST_F(TcpAuth, BadListenAddressesAreRefused) {
  for (const char* bad : {"localhost:6400", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:99999", "1.2.3:80"}) {
    RunResult r = env_.Zenith({"pageserver", "start", "--listen", bad});
    EXPECT_EQ(r.exit_code, 1) << bad << ": " << r.Describe();
    EXPECT_NE(r.err.find("is not an address to listen on"), std::string::npos) << r.err;
  }
  EXPECT_EQ(ReadFileToString(env_.repo() + "/config").value().find("\"listen\": \"1"), std::string::npos)
      << "a refused address is not kept";
}

// A compute machine holds the compute password: with it, nothing that
// removes or changes branches or history runs (SQLSTATE 42501), and what a
// mount asks first does.
TEST_F(TcpAuth, TheComputePasswordCannotDeleteBranchesOrCollectGarbage) {
  ASSERT_TRUE(Listen().ok());
  env_.MustZenith({"branch", "dev", "main"});
  const std::string branches = env_.MustZenith({"branch", "-v"}).out;
  for (const char* command : {"branch_delete dev", "branch_delete main", "gc 0s", "gc", "compact", "branch_create evil main",
                              "branch_list", "branch_info"}) {
    RunResult r = Psql(command, compute_password_, "compute");
    EXPECT_FALSE(r.ok()) << command;
    EXPECT_NE(r.err.find("42501"), std::string::npos) << command << ": " << r.err;
    EXPECT_NE(r.err.find("permission denied for role compute"), std::string::npos) << command << ": " << r.err;
  }
  EXPECT_EQ(env_.MustZenith({"branch", "-v"}).out, branches) << "no branch made, deleted or collected";

  for (const char* command : {"status", "timeline_describe main", "point main"}) {
    RunResult r = Psql(command, compute_password_, "compute");
    EXPECT_TRUE(r.ok()) << command << ": " << r.Describe();
  }
  // The owner's password may do everything, there too.
  RunResult owner = Psql("branch_delete dev", password_);
  EXPECT_TRUE(owner.ok()) << owner.Describe();
  EXPECT_EQ(env_.MustZenith({"branch"}).out, "main\n");
}

// As PostgreSQL: one message for a user that does not exist and for a wrong
// password, so the endpoint does not tell which users exist.
TEST_F(TcpAuth, AWrongUserAndAWrongPasswordFailAlike) {
  ASSERT_TRUE(Listen().ok());
  auto failure = [&](const std::string& user, const std::string& password) {
    RunResult r = Psql("status", password, user);
    EXPECT_FALSE(r.ok()) << user;
    std::string err = r.err;
    const std::string quoted = "\"" + user + "\"";
    if (size_t at = err.find(quoted); at != std::string::npos) err.replace(at, quoted.size(), "\"USER\"");
    return err;
  };
  const std::string wrong_password = failure("zenith", password_ + "x");
  EXPECT_NE(wrong_password.find("password authentication failed for user \"USER\""), std::string::npos)
      << wrong_password;
  EXPECT_EQ(failure("postgres", password_), wrong_password) << "an unknown user, the right password";
  EXPECT_EQ(failure("nosuchuser", "whatever"), wrong_password);
  EXPECT_EQ(failure("compute", password_), wrong_password) << "the owner's password is not the compute's";
  EXPECT_EQ(failure("zenith", compute_password_), wrong_password) << "nor the other way round";
  EXPECT_EQ(failure("compute", compute_password_ + "x"), wrong_password);
}

// A TCP connection to the page server that says nothing; true when the
// server closes it within `timeout`.
bool SilentConnectionIsClosed(int port, std::chrono::milliseconds timeout, UniqueFd* keep) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return true;
  pollfd pfd = {fd.get(), POLLIN, 0};
  bool closed = ::poll(&pfd, 1, static_cast<int>(timeout.count())) > 0;
  *keep = std::move(fd);
  return closed;
}

TEST_F(TcpAuth, TheConfiguredLimitsHoldAndTheLogIsEscapedAndRotated) {
  std::string config = ReadFileToString(env_.repo() + "/config").value();
  config.insert(config.find('{') + 1,
                "\n  \"limits\": {\"max_unauthenticated_per_address\": 2, \"log_max_bytes\": 4096, "
                "\"log_max_files\": 2},");
  ASSERT_TRUE(WriteFileDurably(env_.repo() + "/config", config, 0644).ok());
  ASSERT_TRUE(Listen().ok());
  UniqueFd a, b, c;
  EXPECT_FALSE(SilentConnectionIsClosed(port_, 300ms, &a));
  EXPECT_FALSE(SilentConnectionIsClosed(port_, 300ms, &b));
  EXPECT_TRUE(SilentConnectionIsClosed(port_, 2s, &c)) << "a third from one address is closed at once";
  EXPECT_EQ(env_.MustZenith({"branch"}).out, "main\n") << "the owner's socket is not counted with them";
  a.reset();
  b.reset();
  // A user name that would forge a log line is logged escaped.
  RunResult forged = RunCommand({PgBin("psql"), "-X", "-w", "-d",
                                 "host=127.0.0.1 port=" + std::to_string(port_) + " dbname=zenith sslmode=verify-full "
                                 "sslrootcert=" + env_.repo() + "/ca.crt", "-c", "status"},
                                {.env = {{"PGUSER", "eve\n2026-01-01 00:00:00.000 [1] info: forged"},
                                         {"PGPASSWORD", "x"}, {"PGPASSFILE", "/dev/null"}}});
  EXPECT_FALSE(forged.ok());
  const std::string all_logs = Log() + ReadFileToString(env_.repo() + "/pageserver.log.1").value_or("");
  EXPECT_NE(all_logs.find("eve\\n2026-01-01"), std::string::npos) << all_logs;
  EXPECT_EQ(all_logs.find("\n2026-01-01 00:00:00.000 [1] info: forged"), std::string::npos);
  // Enough connections to fill the log a few times over: it is rotated, and bounded.
  const size_t at = config.find("\"port\": ");
  ASSERT_NE(at, std::string::npos) << config;
  const std::string socket_port = std::to_string(std::atoi(config.c_str() + at + 8));
  RunResult many = RunShell("for i in $(seq 80); do " + PgBin("psql") + " -X -w -h " + env_.repo() + " -p " +
                            socket_port + " -d zenith -c status >/dev/null || exit 1; done");
  ASSERT_TRUE(many.ok()) << many.Describe();
  struct stat st;
  for (const std::string name : {"pageserver.log", "pageserver.log.1", "pageserver.log.2"}) {
    ASSERT_EQ(::stat((env_.repo() + "/" + name).c_str(), &st), 0) << name;
    EXPECT_LT(st.st_size, 4096 + 1024) << name;
  }
  EXPECT_NE(::stat((env_.repo() + "/pageserver.log.3").c_str(), &st), 0) << "only log_max_files old logs are kept";
  EXPECT_TRUE(env_.MustZenith({"status"}).ok());
}

// As ssh refuses a private key others can read: the page server does not
// start, and says which file and what to do.
TEST_F(TcpAuth, APasswordFileOthersMayReadStopsThePageServer) {
  for (const std::string name : {"password", "compute-password"}) {
    const std::string path = env_.repo() + "/" + name;
    ASSERT_EQ(::chmod(path.c_str(), 0640), 0);
    RunResult start = env_.Zenith({"pageserver", "start", "--listen", "127.0.0.1:" + std::to_string(port_)});
    EXPECT_NE(start.exit_code, 0) << name << ": " << start.Describe();
    const std::string log = Log();
    EXPECT_NE(log.find("permissions 0640 for password file " + path + " are too open"), std::string::npos)
        << name << ":\n" << log;
    EXPECT_NE(log.find("chmod 600 " + path), std::string::npos) << log;
    EXPECT_FALSE(Psql("status", password_).ok()) << "no page server listens";
    ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  }
  ASSERT_TRUE(Listen().ok());
  EXPECT_TRUE(Psql("status", password_).ok());
  EXPECT_TRUE(Psql("status", compute_password_, "compute").ok());
}

// A repository made before the compute role has no compute password: the
// page server makes one when it starts rather than failing.
TEST_F(TcpAuth, ARepositoryWithoutAComputePasswordGetsOneAtStart) {
  const std::string path = env_.repo() + "/compute-password";
  ASSERT_EQ(::unlink(path.c_str()), 0);
  ASSERT_TRUE(Listen().ok());
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto made = ReadFileToString(path);
  ASSERT_TRUE(made.ok());
  const std::string password = made->substr(0, made->find('\n'));
  EXPECT_GE(password.size(), 24u);
  RunResult r = Psql("status", password, "compute");
  EXPECT_TRUE(r.ok()) << r.Describe();
  EXPECT_TRUE(Psql("status", password_).ok()) << "the owner's password is as it was";
}

}  // namespace
}  // namespace zenith::testing
