// Remote mounts (`zenith mount BRANCH DIR --pageserver postgresql://...`):
// a compute on a machine that cannot see the repository. Here the other
// machine is another OS user (tests/run.sh creates it and lets the test user
// run commands as it through sudo) who cannot read the repository: anything
// the mount gets, it gets over the page server's TCP endpoint, as user
// compute with .zenith/compute-password (the owner's password stays on the
// page server's machine), over TLS verified with the repository's CA (a copy
// of .zenith/ca.crt given with --ca, or in ~/.postgresql/root.crt). Its mount
// daemon is its PostgreSQL's synchronous standby and forwards the WAL to the
// page server: a COMMIT that returned is in the repository. Replication is
// the mount's alone: no other OS user, and nobody over TCP, may open a
// replication connection to the compute, and the page server connects to no
// one.
#include <dirent.h>
#include <gtest/gtest.h>
#include <cctype>
#include <climits>
#include <cstdio>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "common/file_util.h"
#include "tests/harness/compute.h"
#include "tests/harness/test_env.h"
#include "tests/harness/wait.h"
#include "tests/harness/zenith_env.h"

namespace zenith::testing {
namespace {

using namespace std::chrono_literals;

std::string RemoteUserName() {
  const char* u = std::getenv("ZENITH_REMOTE_USER");
  return u != nullptr && *u ? u : "zenith-remote";
}

// `zenith`, by an absolute path: the other user runs it from "/".
std::string ZenithProgram() {
  char resolved[PATH_MAX];
  const std::string bin = ZenithBin("zenith");
  return ::realpath(bin.c_str(), resolved) != nullptr ? resolved : bin;
}

bool ProcessExists(pid_t pid) { return ::access(("/proc/" + std::to_string(pid)).c_str(), F_OK) == 0; }

// Every process whose parent is `parent` (any user's), from /proc.
std::vector<pid_t> ChildrenOf(pid_t parent) {
  std::vector<pid_t> out;
  DIR* d = ::opendir("/proc");
  if (d == nullptr) return out;
  while (dirent* e = ::readdir(d)) {
    const pid_t pid = static_cast<pid_t>(std::atoi(e->d_name));
    if (pid <= 0) continue;
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    std::getline(stat, line);
    const size_t paren = line.rfind(')');
    if (paren == std::string::npos) continue;
    std::istringstream rest(line.substr(paren + 2));
    char state;
    pid_t ppid = 0;
    rest >> state >> ppid;
    if (ppid == parent) out.push_back(pid);
  }
  ::closedir(d);
  return out;
}

// The zenith-fs serving `mountpoint`: /proc/mounts names it ("zenith:<pid>").
pid_t FsDaemonOf(const std::string& mountpoint) {
  std::ifstream mounts("/proc/self/mounts");
  std::string source, target, rest;
  pid_t found = 0;
  while (mounts >> source >> target && std::getline(mounts, rest)) {
    if (target == mountpoint && source.rfind("zenith:", 0) == 0) found = std::atoi(source.c_str() + 7);
  }
  return found;
}

class RemoteMount : public ::testing::Test {
 protected:
  RemoteMount() : env_(dir_) {}

  void SetUp() override {
    ASSERT_FALSE(RunningAsRoot()) << "run the tests with tests/run.sh";
    if (!RunCommand({"sudo", "-n", "-u", user_, "true"}, {.cwd = "/"}).ok()) {
      ASSERT_FALSE(InCi()) << "this test needs to run commands as " << user_ << " through sudo (tests/run.sh sets it up)";
      GTEST_SKIP() << "this test needs to run commands as " << user_ << " through sudo; tests/run.sh, run as root, "
                   << "sets that up";
    }
    if (!AsRemote({"test", "-x", ZenithProgram()}).ok()) {
      ASSERT_FALSE(InCi()) << user_ << " cannot run " << ZenithProgram();
      GTEST_SKIP() << user_ << " cannot run " << ZenithProgram() << " (the build directory is not readable)";
    }
    ASSERT_TRUE(env_.MustZenith({"init"}).ok());
    password_ = ReadFileToString(env_.repo() + "/compute-password").value_or("");
    password_ = password_.substr(0, password_.find('\n'));
    ASSERT_FALSE(password_.empty());
    ASSERT_TRUE(env_.MustZenith({"pageserver", "start", "--listen", "127.0.0.1:" + std::to_string(ps_port_)}).ok());
    RunResult tmp = AsRemote({"mktemp", "-d", "/var/tmp/zenith-remote-XXXXXX"});
    ASSERT_TRUE(tmp.ok()) << tmp.Describe();
    remote_dir_ = tmp.out.substr(0, tmp.out.find('\n'));
    // The test connects to the computes through their Unix sockets here
    // (peer authentication: this user as the role of its own name).
    ASSERT_TRUE(AsRemote({"chmod", "711", remote_dir_}).ok());
    // Nothing passes through the filesystem: the other user cannot even
    // list the repository.
    ASSERT_FALSE(AsRemote({"ls", env_.repo()}).ok());
    ASSERT_FALSE(AsRemote({"test", "-r", env_.repo() + "/config"}).ok());
    // What the operator hands the compute's owner: the CA certificate.
    ASSERT_NO_FATAL_FAILURE(GiveRemote(env_.repo() + "/ca.crt", Remote("ca.crt")));
  }

  // Copies `file` (ours) to `to` (the other user's).
  void GiveRemote(const std::string& file, const std::string& to) {
    const std::string text = ReadFileToString(file).value_or("");
    ASSERT_FALSE(text.empty()) << file;
    RunResult r = AsRemote({"bash", "-c", "mkdir -p \"$(dirname " + to + ")\" && cat > " + to + " <<'PEM'\n" + text + "PEM\n"});
    ASSERT_TRUE(r.ok()) << r.Describe();
  }

  void TearDown() override {
    if (remote_dir_.empty()) return;
    const std::vector<std::string> mounts = MountsBelow(remote_dir_);
    for (const auto& dir : mounts) {
      AsRemote({"bash", "-c", "pm=$(head -1 " + dir + "/postmaster.pid 2>/dev/null) && kill -9 $pm"});
    }
    AsRemote({"pkill", "-9", "-f", remote_dir_});
    for (const auto& dir : mounts) AsRemote({"fusermount3", "-u", "-z", dir});
    AsRemote({"rm", "-rf", remote_dir_});
  }

  // The zenith mounts of any user below `dir`.
  static std::vector<std::string> MountsBelow(const std::string& dir) {
    std::ifstream table("/proc/self/mounts");
    std::string source, target, type, rest;
    std::vector<std::string> out;
    while (table >> source >> target >> type && std::getline(table, rest)) {
      if (type == "fuse.zenith" && target.rfind(dir + "/", 0) == 0) out.push_back(target);
    }
    return out;
  }

  // Runs argv as the other user, in "/" (the test's directory is not theirs).
  RunResult AsRemote(std::vector<std::string> argv, std::map<std::string, std::string> env = {},
                     std::chrono::milliseconds timeout = 120s) {
    std::vector<std::string> full = {"sudo", "-n", "-u", user_, "env"};
    for (const auto& [k, v] : env) full.push_back(k + "=" + v);
    full.insert(full.end(), argv.begin(), argv.end());
    return RunCommand(full, {.cwd = "/", .timeout = timeout});
  }
  std::string Remote(const std::string& name) const { return remote_dir_ + "/" + name; }
  std::string Url() const { return "postgresql://compute@127.0.0.1:" + std::to_string(ps_port_); }

  // `zenith mount main DIR --pageserver URL` as the other user, with
  // `password` in PGPASSWORD.
  RunResult MountRemote(const std::string& name, const std::string& password, const std::string& branch = "main") {
    return MountRemoteWith(name, password, Url(), {"--ca", Remote("ca.crt")}, branch);
  }
  RunResult MountRemoteWith(const std::string& name, const std::string& password, const std::string& url,
                            const std::vector<std::string>& extra, const std::string& branch = "main") {
    std::vector<std::string> argv = {ZenithProgram(), "mount", branch, Remote(name), "--pageserver", url, "--scratch",
                                     Remote(name + ".scratch")};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return AsRemote(argv, {{"PGPASSWORD", password}, {"PGPASSFILE", "/dev/null"}, {"HOME", remote_dir_}});
  }
  void StartPostgres(const std::string& name, int port) {
    RunResult r = AsRemote({PgBin("pg_ctl"), "-D", Remote(name), "-o",
                            "-p " + std::to_string(port) + " -k " + remote_dir_, "-l", Remote(name + ".pglog"), "-w",
                            "-t", "120", "start"});
    ASSERT_TRUE(r.ok()) << r.Describe() << AsRemote({"cat", Remote(name + ".pglog")}).out;
  }
  std::string ComputeConnInfo(int port) const {
    return "host=" + remote_dir_ + " port=" + std::to_string(port) + " dbname=postgres connect_timeout=10 user=" +
           CurrentUserName();
  }
  std::string Sql(int port, const std::string& sql) {
    auto conn = PgConnection::Open(ComputeConnInfo(port));
    if (!conn.ok()) return "error: " + conn.status().message();
    auto rows = (*conn)->Query(sql);
    if (!rows.ok()) return "error: " + rows.status().message();
    std::string out;
    for (const auto& row : *rows) {
      for (size_t i = 0; i < row.size(); ++i) out += (i ? "|" : "") + row[i];
      out += "\n";
    }
    return out;
  }
  // kill -9 the compute's postmaster, its backends and the mount's
  // zenith-fs, all at once.
  void KillCompute(const std::string& name) {
    RunResult pm = AsRemote({"head", "-1", Remote(name) + "/postmaster.pid"});
    ASSERT_TRUE(pm.ok()) << pm.Describe();
    const pid_t postmaster = std::atoi(pm.out.c_str());
    const pid_t fs = FsDaemonOf(Remote(name));
    ASSERT_GT(postmaster, 0);
    ASSERT_GT(fs, 0);
    std::vector<pid_t> victims = ChildrenOf(postmaster);
    victims.push_back(postmaster);
    victims.push_back(fs);
    std::vector<std::string> argv = {"kill", "-9"};
    for (pid_t p : victims) argv.push_back(std::to_string(p));
    AsRemote(argv);
    EXPECT_TRUE(WaitUntil([&] { return std::none_of(victims.begin(), victims.end(), ProcessExists); }, 30s));
  }

  // The ids in table ids, as seen on the compute at `port`.
  std::set<long> Ids(int port) {
    std::set<long> out;
    std::istringstream lines(Sql(port, "select id from ids"));
    for (std::string line; std::getline(lines, line);) out.insert(std::atol(line.c_str()));
    return out;
  }

  TempDir dir_{"zenith-remote"};
  ZenithEnv env_;
  const std::string user_ = RemoteUserName();
  // Ports of this test's own (tests run in parallel), below the ephemeral
  // range (32768 and up) that outgoing connections take theirs from.
  const int ps_port_ = 21000 + static_cast<int>(getpid() % 5000);
  const int pg_port_ = 26000 + static_cast<int>(getpid() % 5000);
  std::string password_, remote_dir_;  // password_: the compute's
};

// Clients that insert unique ids and record each once its COMMIT returned.
class Writers {
 public:
  Writers(std::string conninfo, int count) {
    for (int w = 0; w < count; ++w) {
      threads_.emplace_back([this, conninfo, w] { Run(conninfo, w); });
    }
  }
  ~Writers() { Stop(); }
  void Stop() {
    stop_ = true;
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }
  std::set<long> Acknowledged() {
    std::lock_guard lock(mu_);
    return acked_;
  }
  size_t Count() {
    std::lock_guard lock(mu_);
    return acked_.size();
  }

 private:
  void Run(const std::string& conninfo, int w) {
    long next = (w + 1) * 100000000L + (base_.fetch_add(1) * 1000000L);
    while (!stop_) {
      auto conn = PgConnection::Open(conninfo);
      if (!conn.ok()) {
        std::this_thread::sleep_for(100ms);
        continue;
      }
      while (!stop_) {
        const long id = next++;
        if (!(*conn)->Query("insert into ids values (" + std::to_string(id) + ")").ok()) break;
        std::lock_guard lock(mu_);
        acked_.insert(id);
      }
    }
  }
  static inline std::atomic<long> base_{0};
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::set<long> acked_;  // guarded by mu_
  std::vector<std::thread> threads_;
};

std::string Missing(const std::set<long>& acked, const std::set<long>& present) {
  std::string out;
  size_t n = 0;
  for (long id : acked) {
    if (present.contains(id)) continue;
    if (++n <= 5) out += std::to_string(id) + " ";
  }
  return n == 0 ? "" : std::to_string(n) + " acknowledged ids missing, e.g. " + out;
}

TEST_F(RemoteMount, AcknowledgedCommitsSurviveKillNineOfTheComputeAndItsScratch) {
  ASSERT_TRUE(MountRemote("m0", password_).ok());
  ASSERT_NO_FATAL_FAILURE(StartPostgres("m0", pg_port_));
  ASSERT_EQ(Sql(pg_port_, "create table ids (id bigint primary key); select 1"), "1\n");
  std::set<long> acked;
  std::mt19937 rng(static_cast<unsigned>(getpid()));
  for (int round = 0; round < 3; ++round) {
    const std::string name = "m" + std::to_string(round);
    {
      Writers writers(ComputeConnInfo(pg_port_), 2);
      ASSERT_TRUE(WaitUntil([&] { return writers.Count() >= 50; }, 60s)) << "no commits on the remote compute";
      std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 1500));
      ASSERT_NO_FATAL_FAILURE(KillCompute(name));
      writers.Stop();
      const auto got = writers.Acknowledged();
      acked.insert(got.begin(), got.end());
    }
    // The data directory is disposable: its scratch goes, and the next
    // mount is made elsewhere.
    AsRemote({"fusermount3", "-u", "-z", Remote(name)});
    ASSERT_TRUE(AsRemote({"rm", "-rf", Remote(name + ".scratch")}).ok());
    const std::string next = "m" + std::to_string(round + 1);
    RunResult m = MountRemote(next, password_);
    ASSERT_TRUE(m.ok()) << m.Describe();
    ASSERT_NO_FATAL_FAILURE(StartPostgres(next, pg_port_));
    EXPECT_EQ(Missing(acked, Ids(pg_port_)), "") << "after round " << round;
  }
  RunResult amcheck = RunCommand({PgBin("pg_amcheck"), "--install-missing", "--heapallindexed", "-h", remote_dir_, "-p",
                                  std::to_string(pg_port_), "-U", CurrentUserName(), "-d", "postgres"});
  EXPECT_TRUE(amcheck.ok() && amcheck.out.empty()) << amcheck.Describe() << amcheck.out;
  EXPECT_GT(acked.size(), 150u);
}

TEST_F(RemoteMount, CommitsWaitWhileThePageServerIsDownAndNoneIsLost) {
  ASSERT_TRUE(MountRemote("m", password_).ok());
  ASSERT_NO_FATAL_FAILURE(StartPostgres("m", pg_port_));
  ASSERT_EQ(Sql(pg_port_, "create table ids (id bigint primary key); select 1"), "1\n");
  Writers writers(ComputeConnInfo(pg_port_), 2);
  ASSERT_TRUE(WaitUntil([&] { return writers.Count() >= 50; }, 60s));
  KillTree(PageServerPid(env_));
  // Commits in flight when it died may still return; none after that.
  std::this_thread::sleep_for(500ms);
  const size_t stalled = writers.Count();
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(writers.Count(), stalled) << "a COMMIT returned while the page server was down";
  ASSERT_TRUE(env_.MustZenith({"pageserver", "start"}).ok());  // keeps its --listen address
  EXPECT_TRUE(WaitUntil([&] { return writers.Count() > stalled + 50; }, 60s)) << "commits did not resume";
  writers.Stop();
  // Everything acknowledged is in the repository: a local branch has it.
  env_.MustZenith({"branch", "after", "main"});
  ASSERT_TRUE(env_.MustZenith({"mount", "after", dir_.Sub("after")}).ok());
  Compute local(env_, "after", pg_port_ + 1);
  local.Start();
  std::set<long> present;
  std::istringstream lines(local.Query("select id from ids"));
  for (std::string line; std::getline(lines, line);) present.insert(std::atol(line.c_str()));
  EXPECT_EQ(Missing(writers.Acknowledged(), present), "");
}

TEST_F(RemoteMount, ABranchMadeRightAfterACommitSeesIt) {
  ASSERT_TRUE(MountRemote("m", password_).ok());
  ASSERT_NO_FATAL_FAILURE(StartPostgres("m", pg_port_));
  ASSERT_EQ(Sql(pg_port_, "create table ids (id bigint primary key); select 1"), "1\n");
  for (int i = 1; i <= 3; ++i) {
    ASSERT_EQ(Sql(pg_port_, "insert into ids values (" + std::to_string(i) + "); select 1"), "1\n");
    const std::string branch = "b" + std::to_string(i);
    ASSERT_TRUE(env_.MustZenith({"branch", branch, "main"}).ok());
    ASSERT_TRUE(env_.MustZenith({"mount", "--read-only", branch, dir_.Sub(branch)}).ok());
    Compute ro(env_, branch, pg_port_ + i);
    ro.Start();
    EXPECT_EQ(ro.Query("select count(*), max(id) from ids"), std::to_string(i) + "|" + std::to_string(i))
        << "branch " << branch << " misses the commit acknowledged before it was made";
  }
}

TEST_F(RemoteMount, AWrongPasswordOrNoneIsRefusedAndChangesNothing) {
  const std::string before = env_.MustZenith({"branch", "-v"}).out;
  const std::string owners = ReadFileToString(env_.repo() + "/password").value_or("");
  for (const std::string& bad : {password_ + "x", std::string(""), owners.substr(0, owners.find('\n'))}) {
    RunResult r = MountRemote("bad", bad);
    EXPECT_FALSE(r.ok());
    EXPECT_NE(r.err.find("password"), std::string::npos) << r.Describe();
  }
  EXPECT_EQ(env_.MustZenith({"status"}).out.find(Remote("bad")), std::string::npos) << "no mount was registered";
  EXPECT_EQ(env_.MustZenith({"branch", "-v"}).out, before);
  EXPECT_NE(ReadFileToString(env_.repo() + "/pageserver.log").value_or("").find("password authentication failed"),
            std::string::npos);
  // The right one mounts; `zenith umount` there needs no repository either.
  ASSERT_TRUE(MountRemote("good", password_).ok());
  const std::string status = env_.MustZenith({"status"}).out;
  EXPECT_NE(status.find(Remote("good")), std::string::npos) << status;
  EXPECT_NE(status.find("remote"), std::string::npos) << "its PostgreSQL is not this machine's to report\n" << status;
  RunResult umount = AsRemote({ZenithProgram(), "umount", Remote("good")}, {{"HOME", remote_dir_}});
  EXPECT_TRUE(umount.ok()) << umount.Describe();
  EXPECT_TRUE(WaitUntil([&] { return env_.MustZenith({"status"}).out.find(Remote("good")) == std::string::npos; }, 30s));
}

// A stranger: another OS user on "another machine" (source address
// 127.0.0.2) opening `count` TCP connections to `port` that never say a
// word, and opening a new one for each the server closes. perl, as Debian's
// perl-base has it. It prints "held N" once all are open.
std::string StrangerScript(int port, int count) {
  return "use IO::Socket::INET; use IO::Select; $| = 1; my $sel = IO::Select->new;\n"
         "sub one { IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => " + std::to_string(port) +
         ", LocalAddr => '127.0.0.2', Proto => 'tcp', Timeout => 5) }\n"
         "for (1.." + std::to_string(count) + ") { my $s = one() or next; $sel->add($s) }\n"
         "print 'held ', $sel->count, \"\\n\";\n"
         "while (1) { for my $s ($sel->can_read(1)) { my $b; if (!sysread($s, $b, 4096)) {\n"
         "  $sel->remove($s); close $s; my $n = one(); $sel->add($n) if $n } } }\n";
}

TEST_F(RemoteMount, FifteenHundredIdleStrangersStopNeitherTheOwnerNorTheCompute) {
  ASSERT_TRUE(MountRemote("m", password_).ok());
  ASSERT_NO_FATAL_FAILURE(StartPostgres("m", pg_port_));
  ASSERT_EQ(Sql(pg_port_, "create table ids (id bigint primary key); select 1"), "1\n");
  const std::string log = dir_.Sub("stranger.log");
  // remote_dir_ in its arguments: TearDown's pkill finds it too.
  Child stranger = Child::Start({"sudo", "-n", "-u", user_, "bash", "-c",
                                 "ulimit -n $(ulimit -Hn); exec perl -e \"$0\" " + remote_dir_,
                                 StrangerScript(ps_port_, 1500)},
                                log);
  struct StopStranger {  // before `stranger` is reaped: only its own user may kill it
    std::function<void()> stop;
    ~StopStranger() { stop(); }
  } stop_stranger{[this] { AsRemote({"pkill", "-9", "-f", "IO::Socket::INET"}); }};
  ASSERT_TRUE(WaitUntil([&] { return ReadFileToString(log).value_or("").find("held") != std::string::npos; }, 120s))
      << ReadFileToString(log).value_or("");
  EXPECT_NE(ReadFileToString(log).value_or("").find("held 1500"), std::string::npos) << ReadFileToString(log).value_or("");
  for (int i = 1; i <= 5; ++i) {
    const auto start = std::chrono::steady_clock::now();
    ASSERT_EQ(Sql(pg_port_, "insert into ids values (" + std::to_string(i) + "); select 1"), "1\n")
        << "the remote compute's commit " << i;
    ASSERT_TRUE(env_.MustZenith({"branch", "s" + std::to_string(i), "main"}).ok());
    RunResult status = env_.MustZenith({"status"});
    ASSERT_TRUE(status.ok()) << status.Describe();
    EXPECT_NE(status.out.find(Remote("m")), std::string::npos) << status.out;
    EXPECT_LT(std::chrono::steady_clock::now() - start, 20s) << "round " << i;
  }
  // A new remote connection gets in too: a second mount of another branch.
  ASSERT_TRUE(MountRemote("m2", password_, "s5").ok());
  EXPECT_NE(ReadFileToString(env_.repo() + "/pageserver.log").value_or("").find("closed"), std::string::npos);
  EXPECT_NE(ReadFileToString(env_.repo() + "/pageserver.log").value_or("").find("too many not yet authenticated"),
            std::string::npos);
}

// The inodes of the sockets `pid` holds open (from /proc/<pid>/fd).
std::set<std::string> SocketInodes(pid_t pid) {
  std::set<std::string> out;
  const std::string dir = "/proc/" + std::to_string(pid) + "/fd";
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return out;
  while (dirent* e = ::readdir(d)) {
    char target[256] = {};
    const ssize_t n = ::readlink((dir + "/" + e->d_name).c_str(), target, sizeof target - 1);
    const std::string link(target, n > 0 ? static_cast<size_t>(n) : 0);
    if (link.rfind("socket:[", 0) == 0) out.insert(link.substr(8, link.size() - 9));
  }
  ::closedir(d);
  return out;
}

// The TCP connections of `pid` (/proc/net/tcp and tcp6) whose local port
// is not `listen_port`: ones it opened itself. As "local -> remote" lines.
std::vector<std::string> OutboundTcp(pid_t pid, int listen_port) {
  const std::set<std::string> inodes = SocketInodes(pid);
  std::vector<std::string> out;
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(table);
    std::string line;
    std::getline(in, line);  // the header
    while (std::getline(in, line)) {
      std::istringstream f(line);
      std::string slot, local, remote, state, queues, timer, retrans, uid, timeout, inode;
      f >> slot >> local >> remote >> state >> queues >> timer >> retrans >> uid >> timeout >> inode;
      if (!inodes.contains(inode) || state == "0A") continue;  // not its, or listening
      const int port = std::stoi(local.substr(local.find(':') + 1), nullptr, 16);
      if (port != listen_port) out.push_back(local + " -> " + remote);
    }
  }
  return out;
}

TEST_F(RemoteMount, OnlyTheMountReplicatesAndThePageServerConnectsToNoOne) {
  ASSERT_TRUE(MountRemote("m", password_).ok());
  ASSERT_NO_FATAL_FAILURE(StartPostgres("m", pg_port_));
  // A COMMIT returns: the mount's forwarder is the synchronous standby.
  ASSERT_EQ(Sql(pg_port_, "create table t (v int); insert into t values (1); select 1"), "1\n");
  EXPECT_EQ(Sql(pg_port_, "select application_name, sync_state from pg_stat_replication"), "zenith_pageserver|sync\n");

  // This process's OS user (not the mount's) is also the superuser's name.
  // The socket's directory is open to it, as /var/run/postgresql is: it
  // may log in, but replicate neither there nor over TCP.
  ASSERT_TRUE(AsRemote({"chmod", "0755", remote_dir_}).ok());
  const std::string port = std::to_string(pg_port_);
  RunResult login = RunCommand({PgBin("psql"), "-X", "-A", "-t", "-h", remote_dir_, "-p", port, "-U", CurrentUserName(),
                                "-d", "postgres", "-c", "select 1"});
  ASSERT_TRUE(login.ok()) << "the socket is reachable: " << login.Describe();
  for (const std::string& host : {remote_dir_, std::string("127.0.0.1")}) {
    const std::string copy = dir_.Sub("stolen-" + std::to_string(host.size()));
    RunResult backup = RunCommand({PgBin("pg_basebackup"), "-h", host, "-p", port, "-U", CurrentUserName(), "-D", copy,
                                   "-X", "none", "-w"},
                                  {.timeout = 60s});
    EXPECT_FALSE(backup.ok()) << "pg_basebackup through " << host << " was let in";
    EXPECT_TRUE(backup.err.find("rejects replication connection") != std::string::npos ||
                backup.err.find("Peer authentication failed") != std::string::npos)
        << backup.Describe();
    RunResult replication = RunCommand({PgBin("psql"), "-X", "-w", "host=" + host + " port=" + port + " user=" +
                                                                      CurrentUserName() + " replication=true dbname=postgres",
                                        "-c", "IDENTIFY_SYSTEM"});
    EXPECT_FALSE(replication.ok()) << "a replication connection through " << host << " was let in";
  }

  // The WAL comes to the page server; it opened no connection of its own.
  const pid_t ps = PageServerPid(env_);
  ASSERT_GT(ps, 0);
  EXPECT_EQ(OutboundTcp(ps, ps_port_), std::vector<std::string>{});
  EXPECT_EQ(Sql(pg_port_, "insert into t values (2); select count(*) from t"), "2\n");
}

TEST_F(RemoteMount, OnlyAVerifiedTlsPageServerIsUsed) {
  const std::string before = env_.MustZenith({"branch", "-v"}).out;
  // Asking for less than a verified certificate is refused before connecting.
  for (const std::string mode : {"disable", "prefer", "require"}) {
    RunResult r = MountRemoteWith("weak", password_, Url() + "?sslmode=" + mode, {"--ca", Remote("ca.crt")});
    EXPECT_FALSE(r.ok());
    EXPECT_NE(r.err.find("sslmode=" + mode + " is refused for a page server over TCP"), std::string::npos) << r.Describe();
  }
  // A CA that did not sign the page server's certificate: nothing is sent.
  TempDir other_dir("zenith-remote-other");
  ZenithEnv other(other_dir);
  ASSERT_TRUE(other.MustZenith({"init"}).ok());
  ASSERT_TRUE(other.MustZenith({"pageserver", "start", "--listen", "127.0.0.1:" + std::to_string(ps_port_ + 7)}).ok());
  ASSERT_NO_FATAL_FAILURE(GiveRemote(other.repo() + "/ca.crt", Remote("other-ca.crt")));
  other.MustZenith({"pageserver", "stop"});
  RunResult r = MountRemoteWith("wrongca", password_, Url(), {"--ca", Remote("other-ca.crt")});
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.err.find("certificate verify failed"), std::string::npos) << r.Describe();
  // No CA at all (no --ca, no ~/.postgresql/root.crt): libpq cannot verify.
  RunResult none = MountRemoteWith("noca", password_, Url(), {});
  EXPECT_FALSE(none.ok());
  EXPECT_NE(none.err.find("root certificate file"), std::string::npos) << none.Describe();
  EXPECT_EQ(env_.MustZenith({"branch", "-v"}).out, before);
  EXPECT_EQ(env_.MustZenith({"status"}).out.find(Remote("")), std::string::npos) << "no mount was registered";
}

TEST_F(RemoteMount, StartAndStopNeedOnlyThePageServersUrl) {
  // The CA where libpq looks by default, so no --ca is needed.
  ASSERT_NO_FATAL_FAILURE(GiveRemote(env_.repo() + "/ca.crt", Remote(".postgresql/root.crt")));
  const std::map<std::string, std::string> env = {{"PGPASSWORD", password_}, {"HOME", remote_dir_}};
  RunResult start = AsRemote({ZenithProgram(), "start", "main", "--pageserver", Url(), "--", "-l", Remote("pg.log"),
                              "-o", "-p " + std::to_string(pg_port_) + " -k " + remote_dir_},
                             env);
  ASSERT_TRUE(start.ok()) << start.Describe();
  ASSERT_EQ(Sql(pg_port_, "create table t (v text); insert into t values ('from afar'); select 1"), "1\n");
  RunResult stop = AsRemote({ZenithProgram(), "stop", "main", "--pageserver", Url()}, env);
  ASSERT_TRUE(stop.ok()) << stop.Describe();
  EXPECT_NE(stop.out.find("stopped branch main"), std::string::npos) << stop.out;
  // A clean stop: the local mount that follows replays nothing it lacks.
  ASSERT_TRUE(env_.MustZenith({"mount", "main", dir_.Sub("main")}).ok());
  Compute local(env_, "main", pg_port_ + 1);
  local.Start();
  EXPECT_EQ(local.Query("select v from t"), "from afar");
}


// Every byte but letters and digits as %XX, for a URL's user info.
std::string PercentEncoded(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c)) {
      out += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

// A password written into the URL, as users do: the mount works, and the
// daemon that keeps running for the mount's life does not show it in its
// arguments (anyone may read /proc/PID/cmdline), nor do logs or messages.
TEST_F(RemoteMount, APasswordInTheUrlReachesNoProcessArgumentsAndNoMessage) {
  auto url_with = [&](const std::string& password) {
    return "postgresql://compute:" + PercentEncoded(password) + "@127.0.0.1:" + std::to_string(ps_port_);
  };
  const std::map<std::string, std::string> no_password = {{"PGPASSFILE", "/dev/null"}, {"HOME", remote_dir_}};
  RunResult mount = AsRemote({ZenithProgram(), "mount", "main", Remote("m"), "--pageserver", url_with(password_),
                              "--scratch", Remote("m.scratch"), "--ca", Remote("ca.crt")},
                             no_password);
  ASSERT_TRUE(mount.ok()) << mount.Describe();
  const pid_t fs = FsDaemonOf(Remote("m"));
  ASSERT_GT(fs, 0);
  RunResult cmdline = AsRemote({"cat", "/proc/" + std::to_string(fs) + "/cmdline"});
  ASSERT_TRUE(cmdline.ok()) << cmdline.Describe();
  EXPECT_NE(cmdline.out.find("--pageserver"), std::string::npos) << cmdline.out;
  EXPECT_EQ(cmdline.out.find(PercentEncoded(password_)), std::string::npos) << "zenith-fs shows the password";
  EXPECT_EQ(cmdline.out.find(password_), std::string::npos) << "zenith-fs shows the password";
  ASSERT_NO_FATAL_FAILURE(StartPostgres("m", pg_port_));
  EXPECT_EQ(Sql(pg_port_, "create table t (v int); insert into t values (7); select v from t"), "7\n");

  RunResult wrong = AsRemote({ZenithProgram(), "mount", "main", Remote("bad"), "--pageserver",
                              url_with(password_ + "x"), "--scratch", Remote("bad.scratch"), "--ca", Remote("ca.crt")},
                             no_password);
  EXPECT_FALSE(wrong.ok());
  EXPECT_NE(wrong.err.find("password authentication failed"), std::string::npos) << wrong.Describe();
  RunResult stop = AsRemote(
      {ZenithProgram(), "stop", "nosuchbranch", "--pageserver", url_with(password_), "--ca", Remote("ca.crt")},
      no_password);
  EXPECT_FALSE(stop.ok());
  const std::string fs_log = AsRemote({"cat", Remote("m.scratch") + ".log"}).out;
  EXPECT_NE(fs_log.find("mounted"), std::string::npos) << fs_log;
  for (const std::string& shown : {mount.out + mount.err, wrong.out + wrong.err, stop.out + stop.err, fs_log,
                                   ReadFileToString(env_.repo() + "/pageserver.log").value_or("")}) {
    EXPECT_EQ(shown.find(password_), std::string::npos) << shown;
    EXPECT_EQ(shown.find(PercentEncoded(password_)), std::string::npos) << shown;
  }
}

}  // namespace
}  // namespace zenith::testing
