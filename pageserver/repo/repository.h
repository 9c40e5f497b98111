// Repository: one `.zenith` directory: its config, its branches (names of
// timelines) and its timelines, loaded on the first request that names them
// (docs/design.md §3, §7).
//
// Creating a branch writes metadata only, in this order: the timeline's
// directories and metadata (durable), then the ref, created exclusively
// (durable). A crash in between leaves an unreferenced timeline directory,
// never a ref to a missing timeline. Deleting a branch removes its ref
// (durably); garbage collection removes timelines no ref reaches. One page
// server owns a repository (it holds pageserver.lock).
//
// Points: a branch point, a mount's pin and the window are what history
// must keep (history_plan.h). points_mu_ serialises every change to them
// with the decisions of compaction and GC: branch creation and deletion,
// pins, and the commit of a merged layer or a collection (LockPoints()).
//
// Thread-safety: all methods are thread-safe. Lock order: points_mu_, then
// mounts_mu_ or mu_ (never both), then preparing_mu_ (a leaf, guarding the
// branches being prepared); mu_ guards timelines_ and is never held
// across I/O, mounts_mu_ guards mounts_, points_mu_ guards pins_ and branch
// refs.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "pageserver/api/mount_stats.h"
#include "pageserver/api/repo_config.h"
#include "pageserver/api/repo_layout.h"
#include "pageserver/repo/timeline.h"

namespace zenith::pageserver {

struct BranchInfo {
  std::string name;
  TimelineId timeline;
};

// A live mount's starting snapshot, which history keeps exact until the
// session that pinned it ends; with the WAL from its redo until the mount's
// PostgreSQL has recovered (wal: its first checkpoint releases it).
struct PinInfo {
  TimelineId timeline;
  Lsn lsn;
  uint64_t session = 0;
  bool wal = true;
};

struct MountInfo {
  TimelineId timeline;
  std::string branch;
  std::string mountpoint;
  int64_t pid = 0;
  uint64_t session = 0;  // the connection holding the lease (or registration)
  // A read-only mount (AttachReadOnly) shows the timeline at `point` and
  // writes nothing to the repository; a read-write one holds the lease.
  bool read_only = false;
  Lsn point;
  // A read-write lease's secret: another connection of its mount presents
  // it to store snapshots (put_snapshot). Never listed or logged.
  std::string lease_token;
  // What the mount last reported of itself (SetMountStats).
  MountStats stats;
};

// "[A-Za-z0-9._-]+", not "." or "..", not starting with "." (reserved for
// temp files), at most 64 characters, not 32 hex digits (a timeline id).
// InvalidArgument saying so otherwise.
Status ValidateBranchName(std::string_view name);

// "PARENT" or "PARENT@X" (X an LSN); InvalidArgument for a bad LSN.
struct ParentSpec {
  std::string name;
  std::optional<Lsn> at;
};
Result<ParentSpec> ParseParentSpec(std::string_view parent_spec);

class Repository {
 public:
  // Opens the repository whose .zenith directory is `root`.
  static Result<std::unique_ptr<Repository>> Open(const std::string& root);
  ~Repository();

  const RepoLayout& layout() const { return layout_; }
  const RepoConfig& config() const { return config_; }
  // Opens layers that are in the bucket only; null without a remote.
  RemoteLayers* remote_layers() const { return remote_layers_.get(); }

  Result<std::vector<BranchInfo>> ListBranches() const;  // sorted by name
  // A branch name, or a timeline id (32 hex digits). NotFound with a hint.
  Result<std::shared_ptr<Timeline>> FindTimeline(std::string_view name_or_id);
  // The branch naming a timeline, or "" if none does.
  std::string BranchOf(const TimelineId& id) const;

  struct CreatedBranch {
    std::string name;
    TimelineId timeline;
    Lsn lsn;               // the branch point, a record end
    bool at_end_of_wal;    // no LSN was given
  };
  // `parent_spec` is "parent" (fork at its end of WAL) or "parent@X". X
  // must lie in the parent's history window (CheckPointAvailable).
  Result<CreatedBranch> CreateBranch(const std::string& name, std::string_view parent_spec);
  struct ResetResult {
    std::string parent;   // what NAME shows now: PARENT (a branch) at `lsn`
    TimelineId old_timeline, new_timeline;
    Lsn lsn;
    bool at_end_of_wal;
  };
  // `zenith branch reset` (branch_reset.cc): NAME names a new timeline
  // branched from `to_spec` ("PARENT" or "PARENT@X"; "" = NAME's parent at
  // its end of WAL), and, with `keep` non-empty, a new branch `keep` names
  // the old one. Refused (kBusy) while NAME is mounted; nothing changes on
  // any error. Atomic across a crash: see branch_reset.cc.
  Result<ResetResult> ResetBranch(const std::string& name, const std::string& to_spec, const std::string& keep);
  // Completes a reset a crash interrupted (its journal is durable, so the
  // new state is whole). REQUIRES: this process holds the page server lock.
  Status FinishInterruptedReset();
  // Called with the name of each step of a reset once it is durable; a test
  // ends its process there to play a crash. Not thread-safe: set before use.
  void SetResetStepHookForTest(std::function<void(std::string_view)> hook) { reset_step_hook_ = std::move(hook); }

  // Prepared branches (prepared_branch.cc, `zenith branch NEW PARENT --sql
  // FILE`): PrepareBranch writes NEW's timeline and no ref, held for
  // `session` (mountable by its id, kept by GC, its name taken); once the
  // session has stored a snapshot of it and unmounted, PublishBranch makes
  // NEW readable from that snapshot's valid on (Timeline::readable_from)
  // and creates its ref. AbandonPrepared (the session ended first) removes
  // what the session prepared.
  Result<CreatedBranch> PrepareBranch(const std::string& name, std::string_view parent_spec, uint64_t session);
  struct PublishedBranch {
    std::string name;
    TimelineId timeline;
    Lsn readable_from;
  };
  Result<PublishedBranch> PublishBranch(const std::string& name, uint64_t session);
  void AbandonPrepared(uint64_t session);
  // The name a timeline is being prepared under, or "".
  std::string PreparedName(const TimelineId& id) const;

  // `zenith branch detach NAME` (branch_detach.cc): NAME's timeline gets an
  // image of what it read from its ancestors and the WAL it needs from
  // them, then loses its ancestor. Refused while NAME or a branch of it is
  // mounted, for a branch with no ancestor, and (for now) with a remote.
  struct DetachedBranch {
    std::string name;
    TimelineId timeline;
    std::string parent;  // the ancestor's branch (or timeline id) it left
    Lsn image_lsn;       // the snapshot the image is of
    uint64_t image_bytes = 0, wal_bytes = 0;
    double seconds = 0;
  };
  Result<DetachedBranch> DetachBranch(const std::string& name);

  // Removes the branch's name; its timeline goes at the next GC. Refused
  // (kBusy) while it is mounted or has child branches, or is the last one.
  Status DeleteBranch(const std::string& name);
  // OK if history at x of `tl` is kept: x is not before its GC cutoff nor
  // outside its window now. Otherwise InvalidArgument naming the oldest
  // LSN still available. `name` is what to call the branch in messages.
  Status CheckPointAvailable(const Timeline& tl, Lsn x, const std::string& name);

  // A point of a branch's history to read: the timeline whose history it
  // is (an ancestor's, before a branch point) and a record end.
  struct ReadPoint {
    std::shared_ptr<Timeline> timeline;
    Lsn lsn;
  };
  // `spec` is "" (the end of WAL), an LSN (rounded down to a record end) or
  // a time (pg_time.h: the end of the last commit at or before it, as
  // recovery_target_time stops). InvalidArgument for a point outside the
  // history kept (naming the oldest LSN available), beyond the end of WAL,
  // or a spec that is neither; NotFound for a time before every commit.
  Result<ReadPoint> ResolvePoint(const std::string& target, const std::string& spec);

  // The read-write mount lease of a timeline (one at a time). Busy, naming
  // the directory and pid of the holder, if the timeline is mounted;
  // NotFound once its branch was deleted.
  Status Attach(const MountInfo& mount);
  void Detach(const TimelineId& timeline, uint64_t session);
  // Registers a read-only mount (mount.read_only, mount.point set): no
  // lease, any number per timeline, alongside the read-write one; it only
  // keeps the branch from being deleted under it. One per session.
  Status AttachReadOnly(const MountInfo& mount);
  void DetachReadOnly(uint64_t session);
  // Read-write mounts, then read-only ones.
  std::vector<MountInfo> Mounts() const;
  // Keeps `stats` with the mount `session` registered; NotFound
  // when that session holds no mount.
  Status SetMountStats(uint64_t session, const MountStats& stats);

  // Pins `lsn` of `tl` for `session` (again: updates `wal`): NotFound unless
  // a snapshot of the chain has exactly that valid (it was merged away, or
  // never was).
  Status Pin(uint64_t session, const Timeline& tl, Lsn lsn, bool wal = true);
  void Unpin(uint64_t session);  // every pin of the session
  void Unpin(uint64_t session, const TimelineId& timeline, Lsn lsn);
  // REQUIRES: LockPoints() held.
  const std::vector<PinInfo>& PinsLocked() const { return pins_; }
  std::vector<PinInfo> Pins() const;
  std::unique_lock<std::mutex> LockPoints() const { return std::unique_lock(points_mu_); }

  // Every timeline a branch reaches (with their ancestors), loaded, and the
  // ids of the timeline directories none reaches (deleted branches, or a
  // branch whose creation a crash cut short).
  struct Timelines {
    std::vector<std::shared_ptr<Timeline>> live;
    std::vector<TimelineId> orphans;
  };
  Result<Timelines> AllTimelines();
  // Unloads a timeline no branch reaches any more (before its files go).
  void ForgetTimeline(const TimelineId& id);

  size_t loaded_timelines() const;

  // Removes the temp files a crash left in the repository's directory and
  // refs/branches/ (each timeline's own go when it is loaded). Returns
  // their paths. REQUIRES: this process holds the page server lock (another
  // process's writes in progress would look stale).
  Result<std::vector<std::string>> RemoveStaleTempFiles();

 private:
  Repository(RepoLayout layout, RepoConfig config);
  Result<std::shared_ptr<Timeline>> LoadTimeline(const TimelineId& id, int depth);
  Result<std::shared_ptr<Timeline>> GetTimeline(const TimelineId& id);
  Result<TimelineId> ReadRef(const std::string& name) const;
  Status WriteNewTimeline(const TimelineMetadata& meta);
  // Where tl's window starts now (history_plan.h's Horizon()).
  Result<Lsn> WindowStart(const Timeline& tl);
  Status CheckDeletable(const std::string& name, const TimelineId& id);
  // The new timeline of a branch from `parent_spec` (PARENT or PARENT@X),
  // checked against the window, not yet written. REQUIRES: points lock.
  Result<TimelineMetadata> PlanBranchTimeline(Timeline& parent, std::string_view parent_name,
                                              std::optional<Lsn> at);
  // Busy if a mount (read-write or read-only) holds `id`. REQUIRES: mounts_mu_.
  Status CheckNotMountedLocked(const std::string& name, const TimelineId& id) const;
  Status ApplyResetJournal(const std::string& journal_text);
  // AlreadyExists if a branch has `name` or one is being prepared under it.
  // REQUIRES: points lock.
  Status CheckNameFreeLocked(const std::string& name) const;
  std::vector<TimelineId> PreparedTimelines() const;
  Result<DetachedBranch> Detach(const std::string& name, const std::shared_ptr<Timeline>& tl);
  // Busy if a mount reads `tl`: its own, or one of a timeline whose chain
  // runs through it.
  Status CheckNoMountReaches(const std::string& name, const Timeline& tl);
  // Unloads `id` and every loaded timeline whose chain runs through it.
  void ForgetChainsThrough(const TimelineId& id);
  bool Detaching(const TimelineId& id) const;
  bool MountedReadWrite(const TimelineId& id) const;  // takes mounts_mu_

  const RepoLayout layout_;
  const RepoConfig config_;
  // Opens the stubs of layers in the bucket only; null without a remote.
  std::unique_ptr<RemoteLayers> remote_layers_;
  std::function<void(std::string_view)> reset_step_hook_;
  mutable std::mutex points_mu_;
  std::vector<PinInfo> pins_;  // guarded by points_mu_
  mutable std::mutex mu_;
  std::map<TimelineId, std::shared_ptr<Timeline>> timelines_;  // guarded by mu_
  mutable std::mutex mounts_mu_;
  std::map<TimelineId, MountInfo> mounts_;  // guarded by mounts_mu_
  std::map<uint64_t, MountInfo> readonly_mounts_;  // by session; guarded by mounts_mu_
  struct Preparing {
    std::string name;
    TimelineId timeline;
    uint64_t session = 0;
  };
  mutable std::mutex preparing_mu_;  // a leaf: nothing is locked while it is held
  std::vector<Preparing> preparing_;  // guarded by preparing_mu_
  std::set<TimelineId> detaching_;    // guarded by preparing_mu_
};

}  // namespace zenith::pageserver
