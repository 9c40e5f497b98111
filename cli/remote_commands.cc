// zenith mount/start/stop --pageserver URL: a compute on a machine with no
// repository (fs/remote_compute.h; the mounting itself: cli/mounting.h).
// What such a mount keeps locally (its scratch and the daemon's log) lives
// under $XDG_STATE_HOME/zenith (default ~/.local/state/zenith).
#include <cstdio>
#include <cstdlib>
#include <functional>

#include <unistd.h>

#include "cli/commands.h"
#include "cli/mounting.h"
#include "cli/mountpoint.h"
#include "cli/process.h"
#include "cli/repo_context.h"
#include "common/daemon_process.h"
#include "common/file_util.h"
#include "common/str_format.h"
#include "pageserver/api/repo_config.h"

namespace zenith::cli {

namespace {

std::string StateDir() {
  const char* xdg = std::getenv("XDG_STATE_HOME");
  if (xdg != nullptr && *xdg == '/') return std::string(xdg) + "/zenith";
  const char* home = std::getenv("HOME");
  return std::string(home != nullptr && *home ? home : "/tmp") + "/.local/state/zenith";
}

std::string Hash16(const std::string& s) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016zx", std::hash<std::string>{}(s));
  return buf;
}

// One directory per mountpoint: a remount there reuses its scratch.
std::string DefaultScratch(const std::string& mountpoint) {
  return StateDir() + "/mounts/" + BaseName(mountpoint) + "-" + Hash16(mountpoint) + "/scratch";
}

// Where `zenith start --pageserver URL BRANCH` mounts: one per page server
// and branch.
std::string DefaultMountpoint(const std::string& url, const std::string& branch) {
  return StateDir() + "/remote/" + branch + "-" + Hash16(url) + "/data";
}

// The local directory the page server lists for `branch`'s read-write
// mount, if it is a zenith mount of this machine.
std::optional<std::string> MountedHere(const RemotePageServer& server, const std::string& branch) {
  auto client = ConnectRemote(server);
  if (!client.ok()) return std::nullopt;
  auto timeline = TimelineOf(*client, branch);
  auto mounts = client->Mounts();
  if (!timeline.ok() || !mounts.ok()) return std::nullopt;
  const std::string here = pageserver::RemoteMountpointLabel("");
  for (const auto& m : *mounts) {
    if (m.timeline != *timeline || m.read_only || m.mountpoint.rfind(here, 0) != 0) continue;
    const std::string dir = m.mountpoint.substr(here.size());
    if (IsZenithMount(dir)) return dir;
  }
  return std::nullopt;
}

}  // namespace

std::string RemoteCa(const GlobalOptions& g, const std::string& given) {
  if (!given.empty()) return AbsolutePath(given);
  const std::string local = pageserver::RepoLayout{ResolveRepoPath(g.repo)}.ca_cert();
  return ::access(local.c_str(), R_OK) == 0 ? local : "";
}

// The page server `given` names, its password (if the URL holds one) moved
// into this process's environment, where the programs it starts find it.
static Result<RemotePageServer> WithoutPassword(const RemotePageServer& given) {
  ZENITH_ASSIGN_OR_RETURN(std::string url, MovePasswordToEnvironment(given.url));
  return RemotePageServer{url, given.ca};
}

int CmdMountRemote(const RemotePageServer& given, const std::string& branch, const std::string& dir,
                   const std::string& scratch) {
  auto server = WithoutPassword(given);
  if (!server.ok()) return Fail(server.status().message());
  const std::string abs = AbsolutePath(dir);
  const std::string where = scratch.empty() ? DefaultScratch(abs) : AbsolutePath(scratch);
  auto lsn = MountRemote({*server, branch, abs, where});
  if (!lsn.ok()) return Fail(lsn.status().message());
  std::printf("mounted branch %s at %s from the page server (snapshot at %s; local files in %s)\n", branch.c_str(),
              abs.c_str(), lsn->c_str(), where.c_str());
  return kExitOk;
}

int CmdStartRemote(const RemotePageServer& given, const std::string& branch, const std::vector<std::string>& pg_ctl_args) {
  auto server = WithoutPassword(given);
  if (!server.ok()) return Fail(server.status().message());
  std::string dir = MountedHere(*server, branch).value_or("");
  if (dir.empty()) {
    dir = DefaultMountpoint(server->url, branch);
    if (IsZenithMount(dir)) IgnoreError(Unmount(dir, std::nullopt));  // a dead daemon's leftover
    auto lsn = MountRemote({*server, branch, dir, DirName(dir) + "/scratch"});
    if (!lsn.ok()) return Fail(lsn.status().message());
    std::printf("Creating data directory from snapshot at %s...\n", lsn->c_str());
    std::fflush(stdout);
  }
  std::vector<std::string> argv = {PgBinDir() + "/pg_ctl", "-D", dir, "-w", "start"};
  argv.insert(argv.end(), pg_ctl_args.begin(), pg_ctl_args.end());
  auto code = RunForeground(argv);
  if (!code.ok()) return Fail(code.status().message());
  return *code;
}

int CmdStopRemote(const RemotePageServer& given, const std::string& branch) {
  auto server = WithoutPassword(given);
  if (!server.ok()) return Fail(server.status().message());
  auto dir = MountedHere(*server, branch);
  if (!dir) return Fail("branch '" + branch + "' is not mounted on this machine from " + server->url);
  if (RunningPostmaster(*dir)) {
    auto code = RunForeground({PgBinDir() + "/pg_ctl", "-D", *dir, "-m", "fast", "-w", "stop"});
    if (!code.ok() || *code != 0) return Fail("pg_ctl stop failed on " + *dir);
  }
  if (Status st = Unmount(*dir, std::nullopt); !st.ok()) return Fail(st.message());
  std::printf("stopped branch %s and unmounted %s\n", branch.c_str(), dir->c_str());
  return kExitOk;
}

}  // namespace zenith::cli
