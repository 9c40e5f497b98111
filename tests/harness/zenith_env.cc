#include "tests/harness/zenith_env.h"

#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <gtest/gtest.h>
#include <sstream>
#include <thread>

#include "common/file_util.h"

#include "tests/harness/test_env.h"
#include "tests/harness/wait.h"

namespace zenith::testing {

namespace {

struct ProcInfo {
  pid_t pid, ppid;
  uid_t uid;
  std::string comm;
};

std::vector<ProcInfo> AllProcesses() {
  std::vector<ProcInfo> out;
  DIR* proc = opendir("/proc");
  if (!proc) return out;
  while (dirent* e = readdir(proc)) {
    pid_t pid = static_cast<pid_t>(std::atol(e->d_name));
    if (pid <= 0) continue;
    std::ifstream stat("/proc/" + std::string(e->d_name) + "/stat");
    std::string line;
    if (!std::getline(stat, line)) continue;
    size_t open = line.find('('), close = line.rfind(')');
    if (open == std::string::npos || close == std::string::npos) continue;
    ProcInfo p{pid, 0, 0, line.substr(open + 1, close - open - 1)};
    std::istringstream rest(line.substr(close + 2));
    char state;
    rest >> state >> p.ppid;
    std::ifstream status("/proc/" + std::string(e->d_name) + "/status");
    while (std::getline(status, line)) {
      if (line.rfind("Uid:", 0) == 0) p.uid = static_cast<uid_t>(std::atol(line.c_str() + 4));
    }
    out.push_back(p);
  }
  closedir(proc);
  return out;
}

}  // namespace

ZenithEnv::ZenithEnv(const TempDir& dir) : dir_(dir.path()) {}

ZenithEnv::~ZenithEnv() {
  RunResult status = Zenith({"status"});
  std::istringstream lines(status.out);
  std::string line;
  std::getline(lines, line);  // header
  while (std::getline(lines, line)) {
    std::string mountpoint = line.substr(line.rfind(' ') + 1);
    if (pid_t pm = PostmasterOf(mountpoint)) KillTree(pm);
    Zenith({"umount", mountpoint});
  }
  Zenith({"pageserver", "stop"});
  UnmountFuseBelow(dir_);
}

RunResult ZenithEnv::Zenith(const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {ZenithBin("zenith")};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv, {.cwd = dir_, .env = env_});
}

Child ZenithEnv::StartZenith(const std::vector<std::string>& args, const std::string& log_path) const {
  std::vector<std::string> argv = {ZenithBin("zenith")};
  argv.insert(argv.end(), args.begin(), args.end());
  return Child::Start(argv, log_path, {.cwd = dir_, .env = env_});
}

void ZenithEnv::EditConfig(const std::function<void(nlohmann::json&)>& edit) const {
  const std::string path = repo() + "/config";
  auto text = ReadFileToString(path);
  ASSERT_TRUE(text.ok()) << text.status().ToString();
  nlohmann::json config = nlohmann::json::parse(*text);
  edit(config);
  Status written = WriteFileDurably(path, config.dump(2));
  ASSERT_TRUE(written.ok()) << written.ToString();
}

RunResult ZenithEnv::MustZenith(const std::vector<std::string>& args) const {
  RunResult r = Zenith(args);
  std::string cmd = "zenith";
  for (const auto& a : args) cmd += " " + a;
  EXPECT_TRUE(r.ok()) << cmd << ": " << r.Describe();
  return r;
}

std::vector<pid_t> ProcessesNamed(const std::string& name) {
  std::vector<pid_t> out;
  for (const auto& p : AllProcesses()) {
    if (p.uid == getuid() && p.comm == name) out.push_back(p.pid);
  }
  return out;
}

std::vector<pid_t> ProcessesWithArgument(const std::string& arg) {
  std::vector<pid_t> out;
  for (const auto& p : AllProcesses()) {
    if (p.uid != getuid()) continue;
    std::ifstream cmdline("/proc/" + std::to_string(p.pid) + "/cmdline");
    std::string a;
    while (std::getline(cmdline, a, '\0')) {
      if (a == arg) {
        out.push_back(p.pid);
        break;
      }
    }
  }
  return out;
}

void WaitGone(const std::vector<pid_t>& pids) {
  WaitUntil([&] { return std::none_of(pids.begin(), pids.end(), [](pid_t pid) { return kill(pid, 0) == 0; }); },
            std::chrono::seconds(30));
}

void KillTree(pid_t root) {
  std::vector<pid_t> victims = {root};
  auto procs = AllProcesses();
  for (size_t i = 0; i < victims.size(); ++i) {
    for (const auto& p : procs) {
      if (p.ppid == victims[i]) victims.push_back(p.pid);
    }
  }
  for (pid_t pid : victims) kill(pid, SIGKILL);
  WaitGone(victims);
}

pid_t PostmasterOf(const std::string& datadir) {
  std::ifstream pidfile(datadir + "/postmaster.pid");
  long pid = 0;
  if (!(pidfile >> pid) || pid <= 0 || kill(static_cast<pid_t>(pid), 0) != 0) return 0;
  return static_cast<pid_t>(pid);
}

}  // namespace zenith::testing
