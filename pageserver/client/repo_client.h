// RepoClient: the page server's commands (page_service.cc) as typed calls,
// for the CLI, zenith-fs and the tests. Each call sends one command and
// checks the reply's shape: a reply with the wrong number of columns or an
// unparsable LSN, id or number is a kProtocol error naming the command,
// never a crash or a silently wrong value.
//
// Arguments named `target` take a branch name or a timeline id, as the
// commands do.
//
// Ownership: owns one connection (PageServerClient).
// Thread-safety: one thread at a time, as PageServerClient.
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/lsn.h"
#include "common/status.h"
#include "pageserver/api/mount_stats.h"
#include "pageserver/api/timeline_id.h"
#include "pageserver/client/page_client.h"

namespace zenith::pageserver {

// How the latest background runs of compaction or GC ended (history.h).
struct BackgroundRun {
  int64_t last_run = 0;       // unix seconds; 0: none yet
  uint64_t failing_runs = 0;  // in a row, up to the latest
  int64_t failing_since = 0;  // unix seconds
  std::string problem;        // the latest run's; "" if none
};

struct ServerStatus {
  pid_t pid = 0;
  std::string version, repository;
  uint64_t system_id = 0, timelines_loaded = 0, mounts = 0;
  // Absent from a server that does not compact or collect.
  std::optional<BackgroundRun> compaction, gc;
};

struct BranchEntry {  // branch_list
  std::string name;
  TimelineId timeline;
  std::optional<TimelineId> ancestor;
  Lsn ancestor_lsn;  // invalid without an ancestor
};

struct CreatedBranch {  // branch_create
  std::string name;
  TimelineId timeline;
  Lsn lsn;
  bool at_end_of_wal = false;
};

struct ResetBranch {  // branch_reset
  std::string name;
  TimelineId timeline, old_timeline;
  std::string parent;  // what the branch now shows, at `lsn`
  Lsn lsn;
  bool at_end_of_wal = false;
};

struct TimelineDescription {  // timeline_describe
  TimelineId timeline;
  std::string branch;  // empty for a timeline no branch names
  std::optional<TimelineId> ancestor;
  Lsn ancestor_lsn, end_of_wal;
  Lsn latest_snapshot;  // valid LSN of the newest snapshot; invalid if none
};

struct SnapshotEntry {  // snapshot_list, oldest first
  TimelineId timeline;
  Lsn redo, checkpoint, valid;
  uint64_t pages = 0;
};

struct LayerFileEntry {  // layer_files, newest first
  std::string path;     // absolute, on the page server's machine
  TimelineId timeline;  // what the file's header must say
  Lsn valid;
};

struct MountEntry {  // mounts
  TimelineId timeline;
  std::string branch, mountpoint;
  pid_t pid = 0;
  std::string pinned;  // "LSN[+wal] ...": what the mount holds
  bool read_only = false;
  Lsn point;  // a read-only mount's point; invalid for a read-write one
};

// How a remote mount names its directory to the page server (`attach`,
// `mounts`): "<host name>:<absolute path>"; a local mount gives the path.
std::string RemoteMountpointLabel(const std::string& dir);

struct ReadPoint {  // point
  TimelineId timeline;  // whose history the point is (an ancestor's, before a branch point)
  Lsn lsn;              // a record end
};

struct RelationChanges {  // changes
  ReadPoint common;  // the newest point both histories share
  struct Fork {
    uint32_t tablespace = 0, database = 0, relfilenode = 0;
    uint8_t fork = 0;     // ForkNumber
    uint32_t blocks = 0;  // distinct blocks changed on either side
  };
  std::vector<Fork> forks;  // sorted by tablespace, database, relfilenode, fork
};

struct DetachedBranch {  // branch_detach
  std::string name;
  TimelineId timeline;
  std::string parent;
  Lsn image_lsn;
  uint64_t image_bytes = 0, wal_bytes = 0;
  double seconds = 0;
};

struct BranchSizes {  // branch_info
  std::string name;
  TimelineId timeline;
  std::string parent;  // empty for the root branch
  Lsn branch_lsn, end_of_wal, oldest_lsn;
  uint64_t logical_size = 0, own_bytes = 0, exclusive_bytes = 0, layers = 0;
};

struct TimelineGc {  // one row of gc
  std::string branch;  // empty for a deleted branch's timeline
  TimelineId timeline;
  Lsn cutoff;
  bool deleted = false;
  uint64_t layers_merged = 0, merges = 0, images = 0, compacted_bytes_removed = 0;
  uint64_t layers_removed = 0, layer_bytes_removed = 0, wal_removed = 0, wal_bytes_removed = 0;
  uint64_t layers_left = 0, layer_bytes_left = 0, wal_left = 0, wal_bytes_left = 0;
};

class RepoClient {
 public:
  explicit RepoClient(std::unique_ptr<PageServerClient> conn) : conn_(std::move(conn)) {}
  static Result<RepoClient> Connect(const std::string& conninfo);

  Result<ServerStatus> DescribeServer();
  Result<std::vector<BranchEntry>> ListBranches();
  // `parent` is PARENT or PARENT@LSN.
  Result<CreatedBranch> CreateBranch(const std::string& name, const std::string& parent);
  // A prepared branch (branch_prepare, branch_publish): its timeline with
  // no name, held by this connection (mount it by the timeline's id); then,
  // once a snapshot of it is stored and it is unmounted, its name, readable
  // from that snapshot on (the LSN returned). Closing the connection before
  // publishing abandons it. `at_end_of_wal` is false in both results.
  Result<CreatedBranch> PrepareBranch(const std::string& name, const std::string& parent);
  Result<Lsn> PublishBranch(const std::string& name);
  Status DeleteBranch(const std::string& name);
  Result<DetachedBranch> DetachBranch(const std::string& name);
  // `to`: PARENT[@LSN], or "" for the branch's parent at its end of WAL;
  // `keep`: a new branch for the old state, or "".
  Result<ResetBranch> ResetBranchTo(const std::string& name, const std::string& to, const std::string& keep);
  Result<std::vector<BranchSizes>> DescribeBranches();
  Result<TimelineDescription> DescribeTimeline(const std::string& target);
  Result<std::vector<SnapshotEntry>> ListSnapshots(const std::string& target);
  Result<std::vector<MountEntry>> Mounts();
  // The layer files of `target`'s view at `lsn`, a snapshot's valid
  // (kNotFound otherwise); only over the Unix socket (kPermissionDenied).
  Result<std::vector<LayerFileEntry>> LayerFiles(const std::string& target, Lsn lsn);

  // Registers this connection as the mount of `target` at `mountpoint`
  // (HOST:PATH over TCP: RemoteMountpointLabel); the lease's token, a
  // secret that lets the mount's other connections store snapshots
  // (put_snapshot) while the lease lasts.
  Result<std::string> Attach(const std::string& target, const std::string& mountpoint, pid_t pid);
  // Pins the snapshot valid at `lsn` for this connection's session; with
  // its WAL from the snapshot's redo when `with_wal`.
  Status Pin(const std::string& target, Lsn lsn, bool with_wal);
  Status Unpin(const std::string& target, Lsn lsn);
  Status PrepareWal(const std::string& target, Lsn redo);
  // Tells the page server this mount's figures (mount_stats.h); it keeps
  // them with the mount this connection registered (Attach or
  // AttachReadOnly) and serves them as metrics. Also the mount's keepalive.
  Status ReportMountStats(const MountStats& stats);
  // The newest snapshot's basebackup tar, pinned for this session when `pin`.
  Result<std::string> Basebackup(const std::string& target, bool pin);
  // The basebackup of the newest snapshot at or before `lsn`, pinned.
  Result<std::string> BasebackupAt(const std::string& target, Lsn lsn);

  // Where reading `target` at `spec` ("" = the end of WAL, an LSN or a
  // time) goes.
  Result<ReadPoint> ResolvePoint(const std::string& target, const std::string& spec);
  // What changed between two points (as ResolvePoint gives them): the
  // blocks the WAL touched since their common point (changed_blocks.h).
  Result<RelationChanges> Changes(const ReadPoint& a, const ReadPoint& b);
  // Registers this connection as a read-only mount of `target` at `lsn`
  // (a record end, as ResolvePoint gives); the timeline whose history it is.
  Result<TimelineId> AttachReadOnly(const std::string& target, Lsn lsn, const std::string& mountpoint, pid_t pid);
  // The WAL of `target` in [from, upto), handed to `sink` in pieces, in
  // order. kProtocol if the server sent other than upto - from bytes.
  Status FetchWal(const std::string& target, Lsn from, Lsn upto,
                  const std::function<Status(std::span<const uint8_t>)>& sink);

  // The secret with which another connection may stream `target`'s WAL
  // (put_wal, pageserver/api/wal_stream_protocol.h) while the lease this
  // connection holds (Attach) lasts.
  Result<std::string> WalToken(const std::string& target);

  // window "" = the configured one.
  Result<std::vector<TimelineGc>> CollectGarbage(const std::string& window);

  // For the streams (put_snapshot, pagestream) that have no typed call.
  PageServerClient& connection() { return *conn_; }

 private:
  // A CopyOut command's target must be one token (it takes no parameters).
  static Status CheckToken(const std::string& target);
  // Everything a CopyOut command sends.
  Result<std::string> CopyOutAll(const std::string& command);

  std::unique_ptr<PageServerClient> conn_;
};

// Writes the WAL of `timeline` in [from's segment start, upto) into segment
// files in `dir` (made if missing): whole 16 MB files, zeros after `upto`,
// so that recovery from them stops exactly at `upto`. Not synced.
Status FetchWalSegments(RepoClient& client, const std::string& timeline, Lsn from, Lsn upto, const std::string& dir);

}  // namespace zenith::pageserver
