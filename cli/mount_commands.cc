// zenith mount, umount, start, stop, status (the mounting itself:
// cli/mounting.h).
#include <cstdio>

#include "cli/commands.h"
#include "cli/format.h"
#include "cli/json_output.h"
#include "cli/mounting.h"
#include "cli/mountpoint.h"
#include "cli/process.h"
#include "cli/remote_status.h"
#include "common/daemon_process.h"

namespace zenith::cli {

namespace {

// A line on stderr for each kind of background history work that keeps
// failing: the repository grows until someone looks.
void WarnIfHistoryFails(pageserver::RepoClient& client) {
  auto status = client.DescribeServer();
  if (!status.ok()) return;
  auto warn = [](const char* what, const std::optional<pageserver::BackgroundRun>& run) {
    if (run && run->failing_runs > 0) {
      std::fprintf(stderr, "warning: the page server's %s is failing (%s); see zenith pageserver status\n", what,
                   run->problem.c_str());
    }
  };
  warn("compaction", status->compaction);
  warn("garbage collection", status->gc);
}

// A line on stderr while uploads to the remote fail, or once this page
// server was superseded: the bucket falls behind until someone looks.
void WarnIfRemoteFails(const RepoContext& repo) {
  if (auto warning = RemoteWarning(repo)) std::fprintf(stderr, "warning: %s\n", warning->c_str());
}

}  // namespace

int CmdMount(const GlobalOptions& g, const std::string& branch, const std::string& dir) {
  auto s = Connect(g);
  if (!s.ok()) return Fail(s.status().message());
  const std::string abs = AbsolutePath(dir);
  auto lsn = Mount(*s, branch, abs);
  if (!lsn.ok()) return Fail(lsn.status().message());
  std::printf("mounted branch %s at %s (snapshot at %s)\n", branch.c_str(), abs.c_str(), lsn->c_str());
  return kExitOk;
}

int CmdMountReadOnly(const GlobalOptions& g, const std::string& target, const std::string& dir) {
  auto r = ConnectAndResolve(g, target);
  if (!r.ok()) return Fail(r.status().message());
  const std::string abs = AbsolutePath(dir);
  if (Status m = MountReadOnly(r->session, r->branch, r->point, abs); !m.ok()) return Fail(m.message());
  std::printf("mounted branch %s read-only at %s, at %s\n", r->branch.c_str(), r->point.lsn.ToString().c_str(),
              abs.c_str());
  return kExitOk;
}

int CmdUmount(const GlobalOptions& g, const std::string& dir) {
  const std::string abs = AbsolutePath(dir);
  auto s = Connect(g);  // none for a remote mount: the mount table names its daemon
  std::optional<pid_t> daemon;
  if (s.ok()) daemon = DaemonOf(s->client, abs);
  Status st = Unmount(abs, daemon);
  if (st.ok() && s.ok()) st = WaitUnlisted(s->client, abs);  // the branch can be mounted again at once
  if (!st.ok()) return Fail(st.message());
  std::printf("unmounted %s\n", abs.c_str());
  return kExitOk;
}

int CmdStart(const GlobalOptions& g, const std::string& branch, const std::vector<std::string>& pg_ctl_args) {
  auto s = Connect(g);
  if (!s.ok()) return Fail(s.status().message());
  auto timeline = TimelineOf(s->client, branch);
  if (!timeline.ok()) return Fail(timeline.status().message());
  std::string dir;
  auto mounts = s->client.Mounts();
  if (!mounts.ok()) return Fail(mounts.status().message());
  for (const auto& m : *mounts) {
    if (m.timeline == *timeline && !m.read_only) dir = m.mountpoint;
  }
  if (dir.empty()) {
    dir = s->repo.layout.default_mountpoint(*timeline);
    if (IsZenithMount(dir)) IgnoreError(Unmount(dir, std::nullopt));  // a dead daemon's leftover
    auto lsn = Mount(*s, branch, dir);
    if (!lsn.ok()) return Fail(lsn.status().message());
    std::printf("Creating data directory from snapshot at %s...\n", lsn->c_str());
    std::fflush(stdout);
  }
  std::vector<std::string> argv = {s->repo.config.pg_bin_dir + "/pg_ctl", "-D", dir, "-w", "start"};
  argv.insert(argv.end(), pg_ctl_args.begin(), pg_ctl_args.end());
  auto code = RunForeground(argv);
  if (!code.ok()) return Fail(code.status().message());
  return *code;
}

int CmdStop(const GlobalOptions& g, const std::string& branch) {
  auto s = Connect(g);
  if (!s.ok()) return Fail(s.status().message());
  auto timeline = TimelineOf(s->client, branch);
  if (!timeline.ok()) return Fail(timeline.status().message());
  auto mounts = s->client.Mounts();
  if (!mounts.ok()) return Fail(mounts.status().message());
  for (const auto& m : *mounts) {
    if (m.timeline != *timeline || m.read_only) continue;
    // The page server lists what its client said: pg_ctl runs only on the
    // zenith mount that client's daemon serves, never on another cluster.
    if (Status mine = CheckMountOf(m.mountpoint, m.pid); !mine.ok()) {
      return Fail("will not stop branch " + branch + ": " + mine.message());
    }
    if (RunningPostmaster(m.mountpoint)) {
      auto code = RunForeground({s->repo.config.pg_bin_dir + "/pg_ctl", "-D", m.mountpoint, "-m", "fast", "-w", "stop"});
      if (!code.ok() || *code != 0) return Fail("pg_ctl stop failed on " + m.mountpoint);
    }
    Status st = Unmount(m.mountpoint, m.pid);
    if (st.ok()) st = WaitUnlisted(s->client, m.mountpoint);
    if (!st.ok()) return Fail(st.message());
    std::printf("stopped branch %s and unmounted %s\n", branch.c_str(), m.mountpoint.c_str());
    return kExitOk;
  }
  return Fail("branch '" + branch + "' is not mounted");
}

int CmdStatus(const GlobalOptions& g, bool json) {
  auto s = Connect(g);
  if (!s.ok()) return Fail(s.status().message());
  auto mounts = s->client.Mounts();
  if (!mounts.ok()) return Fail(mounts.status().message());
  if (json) {
    PrintJson(MountsJson(*mounts, [](const std::string& dir) { return RunningPostmaster(dir); }));
    WarnIfHistoryFails(s->client);  // on stderr: stdout holds the document alone
    WarnIfRemoteFails(s->repo);
    return kExitOk;
  }
  std::printf("%-20s %-8s %-20s %-22s %s\n", "BRANCH", "PID", "POSTGRES", "MODE", "DIRECTORY");
  for (const auto& m : *mounts) {
    auto pm = RunningPostmaster(m.mountpoint);
    std::string pg = pm ? "running (pid " + std::to_string(*pm) + ")" : "stopped";
    if (m.mountpoint.rfind('/', 0) != 0) pg = "remote";  // HOST:DIR: another machine's
    std::string mode = m.read_only ? "read-only at " + m.point.ToString() : "read-write";
    std::printf("%-20s %-8d %-20s %-22s %s\n", m.branch.c_str(), m.pid, pg.c_str(), mode.c_str(), m.mountpoint.c_str());
  }
  WarnIfHistoryFails(s->client);
  WarnIfRemoteFails(s->repo);
  return kExitOk;
}

}  // namespace zenith::cli
