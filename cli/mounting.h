// Mounting and unmounting for the CLI's commands (mount, start, stop,
// export): zenith-fs is started as a daemon and the call returns once it
// reports on its readiness pipe ("--ready-fd"): one line, "ok <snapshot
// LSN>" or "error <message>". A daemon that never gets ready is stopped,
// and its half-made mount taken down.
//
// Thread-safety: one thread (spawns and waits for processes).
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

#include "cli/commands.h"
#include "cli/repo_context.h"
#include "common/status.h"
#include "pageserver/client/repo_client.h"

namespace zenith::cli {

// The repository and a connection to its page server (started if needed).
struct Session {
  RepoContext repo;
  pageserver::RepoClient client;
};
Result<Session> Connect(const GlobalOptions& g);

Result<pageserver::TimelineId> TimelineOf(pageserver::RepoClient& client, const std::string& branch);

// Mounts `branch` read-write at `dir` (an absolute path; made if missing,
// else it must be empty). The LSN of the snapshot it starts from.
Result<std::string> Mount(Session& s, const std::string& branch, const std::string& dir);

// A read-write mount from the page server at `url` (postgresql://...),
// with no repository here: zenith-fs keeps the mount's files and WAL in
// `scratch` (made if missing) and logs to scratch + ".log". The LSN of the
// snapshot it starts from.
struct RemoteMount {
  RemotePageServer server;
  std::string branch, dir, scratch;
};
// A connection to a remote page server: TLS verified with server.ca, and
// channel binding (pageserver/client/tls_conninfo.h).
Result<pageserver::RepoClient> ConnectRemote(const RemotePageServer& server);
Result<std::string> MountRemote(const RemoteMount& m);

// "BRANCH", "BRANCH@LSN" or "BRANCH@TIME", split; InvalidArgument for a
// bare "BRANCH@".
struct PointTarget {
  std::string branch, spec;  // spec "" = the end of WAL
};
Result<PointTarget> ParsePointTarget(const std::string& target);

// A point of a branch's history as a command names it (ParsePointTarget),
// resolved on a new session (RepoClient::ResolvePoint): where `zenith
// mount --read-only` and `zenith export` start. Errors say what was wrong
// with the target, the branch or the point, or the connection.
struct ResolvedPoint {
  Session session;
  std::string branch;
  pageserver::ReadPoint point;
};
Result<ResolvedPoint> ConnectAndResolve(const GlobalOptions& g, const std::string& target);

// Mounts `branch` read-only at `point` (from RepoClient::ResolvePoint) at
// `dir`.
Status MountReadOnly(Session& s, const std::string& branch, const pageserver::ReadPoint& point,
                     const std::string& dir);

// Unmounts `dir` (refused while PostgreSQL runs on it) and waits for its
// daemon (`daemon`, else the one the mount table names) to finish and exit.
Status Unmount(const std::string& dir, std::optional<pid_t> daemon);

// The zenith-fs serving `dir`, from the page server's list of mounts.
std::optional<pid_t> DaemonOf(pageserver::RepoClient& client, const std::string& dir);

// Returns once the page server no longer lists a mount at `dir`: after
// Unmount, its daemon has exited but the page server may not have seen its
// connection close yet, and a new mount of the branch would be refused.
Status WaitUnlisted(pageserver::RepoClient& client, const std::string& dir);

}  // namespace zenith::cli
