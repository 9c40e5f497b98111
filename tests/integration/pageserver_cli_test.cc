// The `zenith` command and the `zenith-pageserver` daemon as a user runs
// them: init (its output, refusing root and an existing repository),
// branch (listing, creating, every kind of bad input leaving the repository
// as it was), pageserver start|stop|status, psql on the page server's
// socket, and many `zenith branch` processes at once.
#include <gtest/gtest.h>
#include <signal.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "common/file_util.h"
#include "common/unique_fd.h"
#include "common/lsn.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/temp_dir.h"
#include "tests/harness/test_env.h"
#include "tests/harness/zenith_env.h"

namespace zenith::testing {
namespace {

constexpr const char* kPort = "64000";  // the default page server port: names the socket in .zenith

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::string line;
  std::istringstream in(text);
  while (std::getline(in, line)) out.push_back(line);
  return out;
}

// psql -A's columns.
std::vector<std::string> Columns(const std::string& line) {
  std::vector<std::string> cols;
  for (size_t pos = 0;;) {
    size_t bar = line.find('|', pos);
    cols.push_back(line.substr(pos, bar == std::string::npos ? std::string::npos : bar - pos));
    if (bar == std::string::npos) return cols;
    pos = bar + 1;
  }
}

// True while process `pid` runs: it exists and is not a zombie (a daemon's
// parent is init, which may reap it late).
bool Runs(const std::string& pid) {
  auto stat = ReadFileToString("/proc/" + pid + "/stat");
  if (!stat.ok()) return false;
  size_t close = stat->rfind(')');
  return close != std::string::npos && close + 2 < stat->size() && (*stat)[close + 2] != 'Z';
}

class PageServerCliTest : public ::testing::Test {
 protected:
  std::string repo() const { return env_.repo(); }
  void Init() { ASSERT_TRUE(env_.MustZenith({"init"}).ok()); }
  void InitAndStart() {
    Init();
    env_.MustZenith({"pageserver", "start"});
  }

  // A page server command through psql on the repository's socket.
  RunResult Psql(const std::string& command) const {
    return RunCommand({PgBin("psql"), "-X", "-A", "-t", "-h", repo(), "-p", kPort, "-d", "zenith", "-c", command});
  }
  // The end of WAL of a branch, from timeline_describe.
  std::string EndOfWal(const std::string& branch) const {
    RunResult r = Psql("timeline_describe " + branch);
    EXPECT_TRUE(r.ok()) << r.Describe();
    auto cols = Columns(r.out.substr(0, r.out.find('\n')));
    EXPECT_EQ(cols.size(), 6u) << r.out;
    return cols.size() == 6 ? cols[4] : "";
  }
  // The timeline a branch names, read from its ref.
  std::string RefOf(const std::string& branch) const {
    auto ref = ReadFileToString(repo() + "/refs/branches/" + branch);
    return ref.ok() ? ref->substr(0, ref->find('\n')) : "";
  }
  // Every name below refs/ and timelines/: what a refused command must leave alone.
  std::vector<std::string> RepoTree() const {
    RunResult r = RunShell("cd '" + repo() + "' && find refs timelines | sort && cat refs/branches/* config");
    EXPECT_TRUE(r.ok()) << r.Describe();
    return Lines(r.out);
  }
  std::string PidFile() const {
    auto pid = ReadFileToString(repo() + "/pageserver.pid");
    return pid.ok() ? *pid : "";
  }

  TempDir dir_{"ps-cli"};
  ZenithEnv env_{dir_};
};

TEST_F(PageServerCliTest, InitPrintsInitdbsOutputThenWhereTheRepositoryIs) {
  RunResult r = env_.MustZenith({"init"});
  EXPECT_NE(r.out.find("creating configuration files ... ok\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("performing post-bootstrap initialization ... ok\n"), std::string::npos) << r.out;
  EXPECT_TRUE(r.out.ends_with("\n\nnew zenith repository was created in .zenith\n")) << r.out;
  EXPECT_EQ(r.out.find("Sync to disk skipped"), std::string::npos) << "the repository is synced; the warning would mislead";
  for (const char* path : {"config", "refs/branches/main", "datadirs"}) {
    EXPECT_TRUE(PathExists(repo() + "/" + path)) << path;
  }
  const std::string main = RefOf("main");
  ASSERT_EQ(main.size(), 32u);
  for (const char* path : {"metadata", "wal/000000010000000000000001", "layers"}) {
    EXPECT_TRUE(PathExists(repo() + "/timelines/" + main + "/" + path)) << path;
  }
  auto leftovers = ListDirectory(dir_.path());
  ASSERT_TRUE(leftovers.ok());
  EXPECT_EQ(*leftovers, std::vector<std::string>{".zenith"}) << "initdb's directory is gone";
  EXPECT_EQ(env_.MustZenith({"branch"}).out, "main\n");
}

TEST_F(PageServerCliTest, InitRefusesAnExistingRepositoryAndLeavesItAlone) {
  Init();
  const auto before = RepoTree();
  RunResult again = env_.Zenith({"init"});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_EQ(again.err, "zenith: a zenith repository already exists in .zenith\n");
  EXPECT_EQ(again.out, "") << "initdb did not run";
  EXPECT_EQ(RepoTree(), before);

  // Any file or directory in the way is refused the same way.
  TempDir other("ps-cli-other");
  ASSERT_TRUE(WriteFileDurably(other.Sub(".zenith"), "not a repository").ok());
  RunResult blocked = RunCommand({ZenithBin("zenith"), "init"}, {.cwd = other.path(), .env = {{"ZENITH_REPO", ""}}});
  EXPECT_EQ(blocked.exit_code, 1);
  EXPECT_NE(blocked.err.find("already exists"), std::string::npos) << blocked.err;
  EXPECT_EQ(ReadFileToString(other.Sub(".zenith")).value(), "not a repository");
}

TEST_F(PageServerCliTest, InitRefusesRoot) {
  if (!RunCommand({"unshare", "-r", "true"}).ok()) GTEST_SKIP() << "no user namespaces to appear as root in";
  // In a user namespace mapping us to root, geteuid() is 0 as for real root.
  RunResult r = RunCommand({"unshare", "-r", ZenithBin("zenith"), "init"}, {.cwd = dir_.path(), .env = {{"ZENITH_REPO", ""}}});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("zenith: cannot run as root"), std::string::npos) << r.Describe();
  EXPECT_FALSE(PathExists(repo()));
  auto names = ListDirectory(dir_.path());
  ASSERT_TRUE(names.ok());
  EXPECT_TRUE(names->empty()) << "nothing was created";
}

TEST_F(PageServerCliTest, InitWithoutInitdbSaysWhereItLookedAndCreatesNothing) {
  RunResult r = RunCommand({ZenithBin("zenith"), "init"},
                           {.cwd = dir_.path(), .env = {{"ZENITH_REPO", ""}, {"ZENITH_PG_BIN", dir_.Sub("nopg")}}});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "zenith: PostgreSQL 15's initdb is not at " + dir_.Sub("nopg") +
                       "/initdb; install postgresql-15 or set ZENITH_PG_BIN\n");
  auto names = ListDirectory(dir_.path());
  ASSERT_TRUE(names.ok());
  EXPECT_TRUE(names->empty());
}

TEST_F(PageServerCliTest, AFailingInitdbLeavesNothingBehind) {
  TempDir fake("ps-cli-fake-pg");
  ASSERT_TRUE(WriteFileDurably(fake.Sub("initdb"), "#!/bin/sh\nmkdir -p \"$2\" && touch \"$2/half\"\necho boom >&2\nexit 4\n",
                               0755).ok());
  RunResult r = RunCommand({ZenithBin("zenith"), "init"},
                           {.cwd = dir_.path(), .env = {{"ZENITH_REPO", ""}, {"ZENITH_PG_BIN", fake.path()}}});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "boom\nzenith: initdb failed with exit code 4\n");
  auto names = ListDirectory(dir_.path());
  ASSERT_TRUE(names.ok());
  EXPECT_TRUE(names->empty()) << "initdb's half-made directory is removed";
}

TEST_F(PageServerCliTest, InitWithRepoElsewhereNamesItsAbsolutePath) {
  RunResult r = env_.Zenith({"--repo", "sub/.zenith", "init"});
  // initdb creates the missing parent; the message names the full path.
  ASSERT_TRUE(r.ok()) << r.Describe();
  EXPECT_TRUE(r.out.ends_with("new zenith repository was created in " + dir_.Sub("sub/.zenith") + "\n")) << r.out;
  RunResult list = env_.Zenith({"--repo", "sub/.zenith", "branch"});
  EXPECT_EQ(list.out, "main\n") << list.Describe();
  env_.Zenith({"--repo", "sub/.zenith", "pageserver", "stop"});
}

TEST_F(PageServerCliTest, BranchesAreCreatedAtTheEndOfWalOrAnLsnAndListedSorted) {
  InitAndStart();
  const std::string end_of_wal = EndOfWal("main");
  ASSERT_TRUE(Lsn::Parse(end_of_wal).has_value()) << end_of_wal;

  EXPECT_EQ(env_.MustZenith({"branch", "experimental", "main"}).out, "branching at end of WAL: " + end_of_wal + "\n");
  EXPECT_EQ(env_.MustZenith({"branch", "old", "experimental@" + end_of_wal}).out, "branching at " + end_of_wal + "\n");
  for (const char* name : {"Zeta", "alpha", "a.b-c_d", "0x", "_"}) env_.MustZenith({"branch", name, "main"});
  EXPECT_EQ(env_.MustZenith({"branch"}).out, "0x\nZeta\n_\na.b-c_d\nalpha\nexperimental\nmain\nold\n");
  std::set<std::string> timelines;
  for (const char* b : {"main", "experimental", "old", "Zeta", "alpha", "a.b-c_d", "0x", "_"}) timelines.insert(RefOf(b));
  EXPECT_EQ(timelines.size(), 8u) << "each branch is its own timeline";
  RunResult old = Psql("timeline_describe old");
  ASSERT_TRUE(old.ok());
  EXPECT_NE(old.out.find("|" + RefOf("experimental") + "|" + end_of_wal + "|"), std::string::npos) << old.out;
}

TEST_F(PageServerCliTest, BadBranchInputIsRefusedClearlyAndChangesNothing) {
  InitAndStart();
  env_.MustZenith({"branch", "taken", "main"});
  const auto before = RepoTree();
  const auto end = Lsn::Parse(EndOfWal("main"));
  ASSERT_TRUE(end.has_value());
  struct Case {
    std::vector<std::string> args;
    std::string error;
  };
  const std::vector<Case> cases = {
      {{"branch", "new", "nosuch"}, "zenith: branch 'nosuch' does not exist; `zenith branch` lists branches\n"},
      {{"branch", "taken", "main"}, "zenith: branch 'taken' already exists\n"},
      {{"branch", "main", "taken"}, "zenith: branch 'main' already exists\n"},
      {{"branch", "a/b", "main"}, "zenith: 'a/b' is not a valid branch name: use 1 to 64 of the characters "
                                  "A-Z a-z 0-9 . _ - (not starting with '.')\n"},
      {{"branch", ".x", "main"}, "is not a valid branch name"},
      {{"branch", "sp ace", "main"}, "is not a valid branch name"},
      {{"branch", "tab\there", "main"}, "is not a valid branch name"},
      {{"branch", "caf\xc3\xa9", "main"}, "is not a valid branch name"},
      {{"branch", std::string(65, 'x'), "main"}, "is not a valid branch name"},
      {{"branch", "00112233445566778899aabbccddeeff", "main"}, "it reads as a timeline id"},
      {{"branch", "new", "main@"}, "zenith: '' is not an LSN; LSNs look like 0/16B3748\n"},
      {{"branch", "new", "main@xyz"}, "zenith: 'xyz' is not an LSN; LSNs look like 0/16B3748\n"},
      {{"branch", "new", "main@0x16B3748"}, "is not an LSN"},
      {{"branch", "new", "main@1/2/3"}, "is not an LSN"},
      {{"branch", "new", "main@-1/0"}, "is not an LSN"},
      {{"branch", "new", "main@" + (*end + 8).ToString()},
       "zenith: LSN " + (*end + 8).ToString() + " is beyond the end of WAL (" + end->ToString() + ")\n"},
      {{"branch", "new", "main@FFFFFFFF/FFFFFFFF"}, "is beyond the end of WAL"},
      {{"branch", "new", "main@0/1"},
       "zenith: LSN 0/1 is before the oldest snapshot of branch 'main'; the oldest LSN still available is " +
           end->ToString() + "\n"},
      {{"branch", "new", "nosuch@0/1"}, "branch 'nosuch' does not exist"},
      {{"branch", "onlyname"}, "zenith: usage: zenith branch NEW PARENT[@LSN], or zenith branch delete NAME\n"},
      {{"branch", "delete"}, "zenith: usage: zenith branch delete NAME\n"},
      {{"branch", "delete", "nosuch"}, "zenith: branch 'nosuch' does not exist; `zenith branch` lists branches\n"},
      {{"branch", "delete", "main"}, "zenith: branch 'main' has child branches (taken); delete them first\n"},
      {{"gc", "--window", "soon"}, "zenith: 'soon' is not a duration; write it like 7d, 12h, 30m or 45s\n"},
  };
  for (const auto& c : cases) {
    RunResult r = env_.Zenith(c.args);
    std::string cmd;
    for (const auto& a : c.args) cmd += " " + a;
    EXPECT_EQ(r.exit_code, 1) << cmd << ": " << r.Describe();
    EXPECT_EQ(r.out, "") << cmd;
    if (c.error.ends_with("\n")) {
      EXPECT_EQ(r.err, c.error) << cmd;
    } else {
      EXPECT_NE(r.err.find(c.error), std::string::npos) << cmd << ": " << r.err;
    }
    EXPECT_EQ(Lines(r.err).size(), 1u) << "one line, no internals: " << r.err;
  }
  EXPECT_EQ(RepoTree(), before);
}

TEST_F(PageServerCliTest, CommandsWithoutARepositorySayHowToMakeOne) {
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"branch"}, {"branch", "x", "main"}, {"pageserver", "start"}, {"pageserver", "status"}}) {
    RunResult r = env_.Zenith(args);
    EXPECT_EQ(r.exit_code, 1) << args[0];
    EXPECT_EQ(r.err, "zenith: no zenith repository in " + repo() + "; create one with `zenith init`\n");
  }
  EXPECT_FALSE(PathExists(repo()));
}

TEST_F(PageServerCliTest, PageServerStartStatusStop) {
  Init();
  RunResult status = env_.Zenith({"pageserver", "status"});
  EXPECT_EQ(status.exit_code, 3);
  EXPECT_EQ(status.out, "page server is not running\n");

  RunResult started = env_.MustZenith({"pageserver", "start"});
  const std::string pid = PidFile();
  ASSERT_FALSE(pid.empty());
  const std::string line = "page server running (pid " + pid + "), socket " + repo() + "/.s.PGSQL.64000\n";
  EXPECT_EQ(started.out, line);
  EXPECT_TRUE(Runs(pid));
  auto comm = ReadFileToString("/proc/" + pid + "/comm");
  EXPECT_EQ(comm.ok() ? *comm : "gone", "zenith-pageserv\n") << "the daemon runs (comm is cut at 15 characters)";
  EXPECT_EQ(env_.MustZenith({"pageserver", "start"}).out, line) << "starting again finds the running one";
  // Then how compaction and GC fare (none has failed here).
  const std::string shown = env_.MustZenith({"pageserver", "status"}).out;
  EXPECT_EQ(shown.substr(0, line.size()), line);
  EXPECT_TRUE(std::regex_search(shown, std::regex("\ncompaction: (not run yet|ok, last run [0-9: -]+ UTC)\n"
                                                  "garbage collection: (not run yet|ok, last run [0-9: -]+ UTC)\n$")))
      << shown;

  RunResult psql = Psql("status");
  ASSERT_TRUE(psql.ok()) << psql.Describe();
  EXPECT_NE(psql.out.find("pid|" + pid + "\n"), std::string::npos) << psql.out;
  EXPECT_NE(psql.out.find("repository|" + repo() + "\n"), std::string::npos) << psql.out;

  // A second daemon for the same repository refuses to serve.
  RunResult second = RunCommand({ZenithBin("zenith-pageserver"), "--repo", repo()});
  EXPECT_EQ(second.exit_code, 3) << second.Describe();
  EXPECT_NE((second.out + second.err).find("a page server is already running for " + repo() + " (pid " + pid + ")"),
            std::string::npos)
      << second.Describe();

  EXPECT_EQ(env_.MustZenith({"pageserver", "stop"}).out, "page server stopped\n");
  EXPECT_FALSE(Runs(pid)) << "the daemon is gone";
  EXPECT_FALSE(PathExists(repo() + "/.s.PGSQL.64000"));
  EXPECT_FALSE(PathExists(repo() + "/pageserver.pid"));
  RunResult stop_again = env_.Zenith({"pageserver", "stop"});
  EXPECT_EQ(stop_again.exit_code, 1);
  EXPECT_EQ(stop_again.err, "zenith: no page server is running for " + repo() + "\n");
  EXPECT_EQ(env_.Zenith({"pageserver", "status"}).exit_code, 3);
}

// History work that cannot read or write a timeline's GC cutoff (a
// directory stands where the file goes: root cannot use it either) fails,
// and both status commands say so until a run succeeds. (Compaction, the
// first half of `zenith gc`, is the one that meets it here.)
TEST_F(PageServerCliTest, FailingHistoryWorkShowsInBothStatusCommandsUntilItSucceeds) {
  InitAndStart();
  const std::string blocker = repo() + "/timelines/" + RefOf("main") + "/gc_cutoff";
  ASSERT_TRUE(MakeDirectories(blocker + "/in-the-way", 0700).ok());
  RunResult gc = env_.Zenith({"gc", "--window", "0s"});
  EXPECT_EQ(gc.exit_code, 1) << gc.Describe();
  EXPECT_NE(gc.err.find("gc_cutoff"), std::string::npos) << gc.Describe();

  RunResult status = env_.MustZenith({"status"});
  EXPECT_TRUE(std::regex_search(status.err, std::regex("^warning: the page server's (compaction|garbage collection) "
                                                       "is failing \\([^\n]*gc_cutoff[^\n]*\\); see zenith pageserver status\n")))
      << status.Describe();
  const std::string ps = env_.MustZenith({"pageserver", "status"}).out;
  EXPECT_TRUE(std::regex_search(ps, std::regex("\n(compaction|garbage collection): FAILING: 1 run in a row since "
                                               "[0-9: -]+ UTC: [^\n]*gc_cutoff")))
      << ps;

  ASSERT_TRUE(RemoveTree(blocker).ok());
  EXPECT_TRUE(env_.MustZenith({"gc", "--window", "0s"}).ok());
  status = env_.MustZenith({"status"});
  EXPECT_EQ(status.err, "") << status.Describe();
  const std::string after = env_.MustZenith({"pageserver", "status"}).out;
  EXPECT_TRUE(std::regex_search(after, std::regex("\ncompaction: ok, last run [0-9: -]+ UTC\n"
                                                  "garbage collection: ok, last run [0-9: -]+ UTC\n$")))
      << after;
}

TEST_F(PageServerCliTest, AKilledPageServerIsReplacedByTheNextCommand) {
  Init();
  env_.MustZenith({"pageserver", "start"});
  const pid_t pid = static_cast<pid_t>(std::stol(PidFile()));
  KillTree(pid);
  ASSERT_TRUE(PathExists(repo() + "/.s.PGSQL.64000")) << "SIGKILL leaves the socket file behind";
  RunResult status = env_.Zenith({"pageserver", "status"});
  EXPECT_EQ(status.exit_code, 3);
  EXPECT_EQ(status.out, "page server is not running\n");
  // `zenith branch` starts a new page server over the stale socket.
  EXPECT_EQ(env_.MustZenith({"branch"}).out, "main\n");
  const std::string new_pid = PidFile();
  EXPECT_NE(new_pid, std::to_string(pid));
  EXPECT_TRUE(Runs(new_pid));
  EXPECT_TRUE(Psql("status").ok());
}

TEST_F(PageServerCliTest, ACommandWaitsOutAPageServerThatStillHoldsTheLock) {
  Init();
  // What a page server on its way out looks like to the next command: the
  // repository's lock is held, and nothing answers on the socket. The command
  // must keep trying to start a server until the lock is free.
  UniqueFd lock(open((repo() + "/pageserver.lock").c_str(), O_RDWR | O_CREAT, 0600));
  ASSERT_TRUE(lock.valid());
  ASSERT_EQ(flock(lock.get(), LOCK_EX), 0);
  std::thread release([&lock] {
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    lock.reset();
  });
  RunResult r = env_.Zenith({"branch", "after", "main"});
  release.join();
  EXPECT_TRUE(r.ok()) << r.Describe();
  EXPECT_EQ(env_.MustZenith({"branch"}).out, "after\nmain\n");
}

TEST_F(PageServerCliTest, ManyBranchProcessesAtOnceLeaveAConsistentRepository) {
  Init();  // no page server runs: the processes race to start one, too
  constexpr int kDistinct = 12, kSameName = 8;
  std::vector<RunResult> distinct(kDistinct), same(kSameName);
  std::vector<std::thread> threads;
  for (int i = 0; i < kDistinct; ++i) {
    threads.emplace_back([&, i] { distinct[i] = env_.Zenith({"branch", "b" + std::to_string(i), "main"}); });
  }
  for (int i = 0; i < kSameName; ++i) threads.emplace_back([&, i] { same[i] = env_.Zenith({"branch", "same", "main"}); });
  for (auto& t : threads) t.join();

  for (const auto& r : distinct) EXPECT_TRUE(r.ok()) << r.Describe();
  int won = 0;
  for (const auto& r : same) {
    if (r.ok()) {
      ++won;
      EXPECT_TRUE(r.out.starts_with("branching at end of WAL: ")) << r.out;
    } else {
      EXPECT_EQ(r.err, "zenith: branch 'same' already exists\n") << r.Describe();
    }
  }
  EXPECT_EQ(won, 1) << "exactly one process creates 'same'";

  std::vector<std::string> want = {"main", "same"};
  for (int i = 0; i < kDistinct; ++i) want.push_back("b" + std::to_string(i));
  std::sort(want.begin(), want.end());
  auto refs = ListDirectory(repo() + "/refs/branches");
  ASSERT_TRUE(refs.ok());
  EXPECT_EQ(*refs, want) << "no temp files among the refs";
  std::set<std::string> referenced;
  for (const auto& b : want) {
    referenced.insert(RefOf(b));
    RunResult d = Psql("timeline_describe " + b);
    EXPECT_TRUE(d.ok()) << b << ": " << d.Describe();  // the ref names a loadable timeline
  }
  auto timelines = ListDirectory(repo() + "/timelines");
  ASSERT_TRUE(timelines.ok());
  EXPECT_EQ(std::set<std::string>(timelines->begin(), timelines->end()), referenced) << "no timeline without a ref";
  for (const auto& id : referenced) {
    EXPECT_EQ(ListDirectory(repo() + "/timelines/" + id).value(), (std::vector<std::string>{"layers", "metadata", "wal"}));
  }
  std::string listing;
  for (const auto& b : want) listing += b + "\n";
  EXPECT_EQ(env_.MustZenith({"branch"}).out, listing);
  auto log = ReadFileToString(repo() + "/pageserver.log");
  ASSERT_TRUE(log.ok());
  size_t serving = 0;
  for (size_t pos = log->find(" serving "); pos != std::string::npos; pos = log->find(" serving ", pos + 1)) ++serving;
  EXPECT_EQ(serving, 1u) << "of the page servers the processes started, one serves:\n" << *log;
}

}  // namespace
}  // namespace zenith::testing
