#include "cli/mounting.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <thread>

#include "cli/mountpoint.h"
#include "cli/process.h"
#include "common/daemon_process.h"
#include "common/file_util.h"
#include "common/fusermount.h"
#include "pageserver/client/tls_conninfo.h"

namespace zenith::cli {

using pageserver::MountEntry;
using pageserver::RepoClient;
using pageserver::TimelineId;
using Clock = std::chrono::steady_clock;

namespace {

// A daemon that did not become ready is stopped (SIGTERM, then SIGKILL after
// `patience`), and its mount taken down if it got that far: nothing is left
// behind holding the directory or the branch's lease.
void StopUnready(pid_t daemon, const std::string& dir, std::chrono::seconds patience) {
  if (ProcessAlive(daemon)) {
    ::kill(daemon, SIGTERM);
    const auto deadline = Clock::now() + patience;
    while (ProcessAlive(daemon) && Clock::now() < deadline) {
      ReapIfExited(daemon);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (ProcessAlive(daemon)) ::kill(daemon, SIGKILL);
  }
  ReapIfExited(daemon);
  if (IsZenithMount(dir)) IgnoreError(RunForeground({kFusermount, "-u", "-z", dir}).status());
}

// Reads the daemon's readiness line, waiting at most `limit`; the LSN of its
// snapshot on success.
Result<std::string> AwaitReady(UniqueFd pipe, pid_t daemon, const std::string& log, const std::string& dir,
                               std::chrono::seconds limit) {
  std::string line;
  const auto deadline = Clock::now() + limit;
  bool answered = false;
  while (Clock::now() < deadline) {
    pollfd p{pipe.get(), POLLIN, 0};
    if (poll(&p, 1, 200) > 0) {
      char buf[4096];
      ssize_t n = read(pipe.get(), buf, sizeof buf);
      if (n > 0) {
        line.append(buf, static_cast<size_t>(n));
        continue;
      }
      answered = true;  // EOF: the daemon said what it had to say, or died
      break;
    }
  }
  while (!line.empty() && line.back() == '\n') line.pop_back();
  if (line.rfind("ok ", 0) == 0) return line.substr(3);
  StopUnready(daemon, dir, std::chrono::seconds(answered ? 30 : 5));
  if (line.rfind("error ", 0) == 0) return InvalidArgument(line.substr(6));
  if (!answered) return Timeout("zenith-fs did not become ready in time and was stopped; see " + log);
  return Internal("zenith-fs failed to mount; see " + log);
}

// Starts zenith-fs with `args` and waits until it is ready, at most `limit`.
Result<std::string> StartFsDaemon(const std::vector<std::string>& args, const std::string& log, const std::string& dir,
                                  std::chrono::seconds limit) {
  ZENITH_RETURN_IF_ERROR(CheckFusermount(kFusermount, geteuid()));
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return ErrnoStatus("create a pipe", errno);
  UniqueFd read_end(fds[0]), write_end(fds[1]);
  std::vector<std::string> argv = {ExecutableDir() + "/zenith-fs"};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.insert(argv.end(), {"--mountpoint", dir, "--ready-fd", "3", "--log-file", log});
  ZENITH_ASSIGN_OR_RETURN(pid_t daemon, SpawnDaemon(argv, log, write_end.get()));
  write_end.reset();
  return AwaitReady(std::move(read_end), daemon, log, dir, limit);
}

// Starts zenith-fs for the repository with `args` and waits until it is ready.
Result<std::string> StartDaemon(Session& s, std::vector<std::string> args, const std::string& log,
                                const std::string& dir) {
  const pageserver::RepoConfig& config = s.repo.config;
  args.insert(args.begin(), {"--repo", s.repo.layout.root, "--log-level", config.log_level, "--log-max-bytes",
                             std::to_string(config.limits.log_max_bytes), "--log-max-files",
                             std::to_string(config.limits.log_max_files)});
  return StartFsDaemon(args, log, dir, std::chrono::seconds(config.mount_timeout_seconds));
}

Status WaitForDaemonExit(pid_t pid, std::chrono::seconds limit) {
  const auto deadline = Clock::now() + limit;
  while (ProcessAlive(pid)) {
    ReapIfExited(pid);
    if (Clock::now() > deadline) return Timeout("zenith-fs (pid " + std::to_string(pid) + ") did not exit");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return Status::Ok();
}

}  // namespace

Result<Session> Connect(const GlobalOptions& g) {
  ZENITH_ASSIGN_OR_RETURN(RepoContext repo, OpenRepo(ResolveRepoPath(g.repo)));
  ZENITH_ASSIGN_OR_RETURN(RepoClient client, ConnectPageServer(repo));
  return Session{std::move(repo), std::move(client)};
}

Result<TimelineId> TimelineOf(RepoClient& client, const std::string& branch) {
  ZENITH_ASSIGN_OR_RETURN(auto described, client.DescribeTimeline(branch));
  return described.timeline;
}

namespace {

// The branch's timeline, when no read-write mount of it exists anywhere.
Result<TimelineId> UnmountedTimeline(RepoClient& client, const std::string& branch) {
  ZENITH_ASSIGN_OR_RETURN(TimelineId timeline, TimelineOf(client, branch));
  ZENITH_ASSIGN_OR_RETURN(auto mounts, client.Mounts());
  for (const auto& m : mounts) {
    if (m.timeline == timeline && !m.read_only) {
      return Busy("branch '" + branch + "' is already mounted read-write at " + m.mountpoint + " (zenith-fs pid " +
                  std::to_string(m.pid) + "); unmount it first with `zenith umount " + m.mountpoint +
                  "` on its machine");
    }
  }
  return timeline;
}

}  // namespace

Result<std::string> Mount(Session& s, const std::string& branch, const std::string& dir) {
  if (branch.find('@') != std::string::npos) {
    return InvalidArgument("a read-write mount is of a branch's end of WAL; mount '" + branch +
                           "' with --read-only, or make a branch there with `zenith branch NEW " + branch + "`");
  }
  ZENITH_ASSIGN_OR_RETURN(TimelineId timeline, UnmountedTimeline(s.client, branch));
  ZENITH_RETURN_IF_ERROR(PrepareMountpoint(dir));
  ZENITH_RETURN_IF_ERROR(MakeDirectories(s.repo.layout.datadir(timeline), 0700));
  return StartDaemon(s, {"--branch", branch}, s.repo.layout.mount_log(timeline), dir);
}

Result<RepoClient> ConnectRemote(const RemotePageServer& server) {
  ZENITH_ASSIGN_OR_RETURN(std::string conninfo, pageserver::SecurePageServerConnInfo(server.url, server.ca));
  return RepoClient::Connect(conninfo);
}

Result<std::string> MountRemote(const RemoteMount& m) {
  ZENITH_ASSIGN_OR_RETURN(RepoClient client, ConnectRemote(m.server));
  ZENITH_RETURN_IF_ERROR(UnmountedTimeline(client, m.branch).status());
  ZENITH_RETURN_IF_ERROR(PrepareMountpoint(m.dir));
  ZENITH_RETURN_IF_ERROR(MakeDirectories(m.scratch, 0700));
  std::vector<std::string> args = {"--pageserver", m.server.url, "--scratch", m.scratch, "--branch", m.branch};
  if (!m.server.ca.empty()) args.insert(args.end(), {"--ca", AbsolutePath(m.server.ca)});
  return StartFsDaemon(args, m.scratch + ".log", m.dir, std::chrono::seconds(pageserver::RepoConfig{}.mount_timeout_seconds));
}

Status MountReadOnly(Session& s, const std::string& branch, const pageserver::ReadPoint& point,
                     const std::string& dir) {
  ZENITH_RETURN_IF_ERROR(PrepareMountpoint(dir));
  ZENITH_RETURN_IF_ERROR(MakeDirectories(s.repo.layout.datadir(point.timeline), 0700));
  return StartDaemon(s, {"--branch", branch, "--read-only-at", point.lsn.ToString()},
                     s.repo.layout.readonly_log(point.timeline), dir)
      .status();
}

Status Unmount(const std::string& dir, std::optional<pid_t> daemon) {
  struct stat st;
  bool dead = stat(dir.c_str(), &st) != 0 && errno == ENOTCONN;
  if (!IsZenithMount(dir)) return InvalidArgument(dir + " is not a zenith mount");
  const std::optional<pid_t> listed = MountDaemon(dir);
  if (!dead) {
    if (auto pm = RunningPostmaster(dir)) {
      return Busy("PostgreSQL (pid " + std::to_string(*pm) + ") is running on " + dir + "; stop it first with `pg_ctl -D " +
                  dir + " stop` (or `zenith stop <branch>`)");
    }
  }
  std::vector<std::string> argv = {kFusermount, "-u"};
  if (dead) argv.push_back("-z");
  argv.push_back(dir);
  // A mount's prewarming (fs/prewarm.h) lets go of its file within a
  // moment of PostgreSQL stopping: a busy mount is tried again for a while.
  auto failed = [](const Result<Outcome>& r) { return !r.ok() || r->exit_code != 0; };
  Result<Outcome> done = RunCollectingErrors(argv);
  for (int tries = 0; failed(done) && tries < 30; ++tries) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    done = RunCollectingErrors(argv);
  }
  if (failed(done)) {
    std::string why = done.ok() ? done->errors : done.status().message();
    while (!why.empty() && why.back() == '\n') why.pop_back();
    return Busy("could not unmount " + dir + " (is a process using it?)" + (why.empty() ? "" : ": " + why));
  }
  // The daemon uploads what it still owes the page server, then exits.
  if (!daemon) daemon = listed;
  if (daemon) return WaitForDaemonExit(*daemon, std::chrono::seconds(120));
  return Status::Ok();
}

Result<PointTarget> ParsePointTarget(const std::string& target) {
  const size_t at = target.find('@');
  PointTarget t{target.substr(0, at), at == std::string::npos ? "" : target.substr(at + 1)};
  if (at != std::string::npos && t.spec.empty()) {
    return InvalidArgument("'" + target + "': give an LSN or a time after the @");
  }
  return t;
}

Result<ResolvedPoint> ConnectAndResolve(const GlobalOptions& g, const std::string& target) {
  ZENITH_ASSIGN_OR_RETURN(PointTarget parsed, ParsePointTarget(target));
  ZENITH_ASSIGN_OR_RETURN(Session s, Connect(g));
  ZENITH_ASSIGN_OR_RETURN(pageserver::ReadPoint point, s.client.ResolvePoint(parsed.branch, parsed.spec));
  return ResolvedPoint{std::move(s), parsed.branch, point};
}

Status WaitUnlisted(RepoClient& client, const std::string& dir) {
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  while (DaemonOf(client, dir)) {
    if (Clock::now() > deadline) return Timeout("the page server still lists the mount at " + dir);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return Status::Ok();
}

std::optional<pid_t> DaemonOf(RepoClient& client, const std::string& dir) {
  auto mounts = client.Mounts();
  if (!mounts.ok()) return std::nullopt;
  for (const auto& m : *mounts) {
    if (m.mountpoint == dir) return m.pid;
  }
  return std::nullopt;
}

}  // namespace zenith::cli
