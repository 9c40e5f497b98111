// Spawn (common/spawn.h): the child gets exactly the descriptors asked for,
// no blocked or ignored signal of the parent's, its working directory and
// environment; a missing program is an error naming it.
#include "common/spawn.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "common/daemon_process.h"
#include "common/file_util.h"
#include "common/unique_fd.h"
#include "tests/harness/temp_dir.h"

namespace zenith {
namespace {

// Runs `script` with bash, stdout into a pipe; returns what it printed.
std::string Output(SpawnOptions options, const std::string& script) {
  if (options.argv.empty()) options.argv = {"/bin/bash", "-c", script};
  int fds[2];
  EXPECT_EQ(pipe2(fds, O_CLOEXEC), 0);
  UniqueFd read_end(fds[0]), write_end(fds[1]);
  options.stdout_fd = write_end.get();
  auto pid = Spawn(options);
  EXPECT_TRUE(pid.ok()) << pid.status().ToString();
  write_end.reset();
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = read(read_end.get(), buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
  int status = 0;
  if (pid.ok()) waitpid(*pid, &status, 0);
  EXPECT_EQ(ExitCodeOf(status), 0) << out;
  return out;
}

TEST(SpawnTest, TheChildKeepsOnlyItsStandardDescriptorsAndThosePassed) {
  int leaked = open("/dev/null", O_RDONLY);  // no O_CLOEXEC: fork+exec would hand it on
  ASSERT_GE(leaked, 3);
  UniqueFd guard(leaked);
  // ls lists its own descriptors: the standard ones, the directory it reads
  // (the lowest free number), and nothing of ours.
  SpawnOptions ls;
  ls.argv = {"/bin/ls", "/proc/self/fd"};
  EXPECT_EQ(Output(ls, ""), "0\n1\n2\n3\n");

  int pipe_fds[2];
  ASSERT_EQ(pipe2(pipe_fds, O_CLOEXEC), 0);
  UniqueFd pass_read(pipe_fds[0]), pass_write(pipe_fds[1]);
  ls.pass_fds = {pass_write.get()};
  EXPECT_EQ(Output(ls, ""), "0\n1\n2\n3\n4\n") << "3 is the pipe";
  SpawnOptions options;
  options.pass_fds = {pass_write.get()};
  Output(options, "echo ready >&3");
  pass_write.reset();
  char buf[16] = {};
  EXPECT_EQ(read(pass_read.get(), buf, sizeof buf), 6);
  EXPECT_EQ(std::string(buf), "ready\n");
}

TEST(SpawnTest, TheChildStartsWithNoBlockedOrIgnoredSignal) {
  sigset_t term, old;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &term, &old);
  auto old_pipe = signal(SIGPIPE, SIG_IGN);
  // grep reads its own status: no shell in between, which blocks SIGTERM
  // for a moment of its own while it forks a pipeline.
  SpawnOptions grep;
  grep.argv = {"/bin/grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status"};
  const std::string status = Output(grep, "");
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  signal(SIGPIPE, old_pipe);
  auto mask = [&](const char* field) { return std::stoull(status.substr(status.find(field) + 8, 16), nullptr, 16); };
  EXPECT_EQ(mask("SigBlk:\t") & (1ull << (SIGTERM - 1)), 0u) << status;
  EXPECT_EQ(mask("SigIgn:\t") & (1ull << (SIGPIPE - 1)), 0u) << status;
}

TEST(SpawnTest, WorkingDirectoryEnvironmentAndSessionAreTheChildsOwn) {
  SpawnOptions options;
  options.cwd = "/usr";
  options.env = {{"ZENITH_SPAWN_TEST", "yes"}};
  options.new_session = true;
  EXPECT_EQ(Output(options, "echo $PWD $ZENITH_SPAWN_TEST $(( $(ps -o sid= -p $$) == $$ ))"), "/usr yes 1\n");
}

TEST(SpawnTest, AMissingProgramIsAnErrorNamingIt) {
  SpawnOptions options;
  options.argv = {"/no/such/program"};
  auto pid = Spawn(options);
  ASSERT_FALSE(pid.ok());
  EXPECT_NE(pid.status().message().find("/no/such/program"), std::string::npos) << pid.status().message();
  options.argv = {"no-such-program-anywhere"};
  options.search_path = true;
  EXPECT_FALSE(Spawn(options).ok());
}

TEST(DaemonProcessTest, ThePostmasterIsTheLivePidInItsPidFile) {
  testing::TempDir dir("postmaster");
  EXPECT_EQ(RunningPostmaster(dir.path()), std::nullopt) << "no pid file";
  const std::string pidfile = dir.path() + "/postmaster.pid";
  ASSERT_TRUE(WriteFileDurably(pidfile, std::to_string(getpid()) + "\n" + dir.path() + "\n").ok());
  EXPECT_EQ(RunningPostmaster(dir.path()), getpid());
  for (const char* bad : {"", "garbage\n", "-1\n", "0\n"}) {
    ASSERT_TRUE(WriteFileDurably(pidfile, bad).ok());
    EXPECT_EQ(RunningPostmaster(dir.path()), std::nullopt) << bad;
  }
  // A pid no process has: pid_max is at most 2^22.
  ASSERT_TRUE(WriteFileDurably(pidfile, "4194305\n").ok());
  EXPECT_EQ(RunningPostmaster(dir.path()), std::nullopt);
}

}  // namespace
}  // namespace zenith
