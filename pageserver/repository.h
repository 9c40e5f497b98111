// Repository: one `.zenith` directory: its config, its branches (names of
// timelines) and its timelines, loaded on the first request that names them
// (DESIGN.md section 3).
//
// Creating a branch writes metadata only, in this order: the timeline's
// directories and metadata (durable), then the ref, created exclusively
// (durable). A crash in between leaves an unreferenced timeline directory,
// never a ref to a missing timeline. One page server owns a repository (it
// holds pageserver.lock), and within it mu_ serialises branch creation, so
// concurrent `zenith branch` runs cannot corrupt it.
//
// Thread-safety: all methods are thread-safe. mu_ guards timelines_ and
// branch creation; mounts_mu_ guards mounts_. Never both at once.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "pageserver/repo_config.h"
#include "pageserver/repo_layout.h"
#include "pageserver/timeline.h"

namespace zenith::pageserver {

struct BranchInfo {
  std::string name;
  TimelineId timeline;
};

struct MountInfo {
  TimelineId timeline;
  std::string branch;
  std::string mountpoint;
  int64_t pid = 0;
  uint64_t session = 0;  // the connection holding the lease
};

// "[A-Za-z0-9._-]+", not "." or "..", not starting with "." (reserved for
// temp files), at most 64 characters, not 32 hex digits (a timeline id).
// InvalidArgument saying so otherwise.
Status ValidateBranchName(std::string_view name);

class Repository {
 public:
  // Opens the repository whose .zenith directory is `root`.
  static Result<std::unique_ptr<Repository>> Open(const std::string& root);

  const RepoLayout& layout() const { return layout_; }
  const RepoConfig& config() const { return config_; }

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
  // `parent_spec` is "parent" (fork at its end of WAL) or "parent@X".
  Result<CreatedBranch> CreateBranch(const std::string& name, std::string_view parent_spec);

  // The read-write mount lease of a timeline (one at a time). Busy, naming
  // the directory and pid of the holder, if the timeline is mounted.
  Status Attach(const MountInfo& mount);
  void Detach(const TimelineId& timeline, uint64_t session);
  std::vector<MountInfo> Mounts() const;

  size_t loaded_timelines() const;

 private:
  Repository(RepoLayout layout, RepoConfig config) : layout_(std::move(layout)), config_(std::move(config)) {}
  Result<std::shared_ptr<Timeline>> LoadTimelineLocked(const TimelineId& id, int depth);
  Result<std::shared_ptr<Timeline>> GetTimeline(const TimelineId& id);
  Result<TimelineId> ReadRef(const std::string& name) const;
  Status WriteNewTimeline(const TimelineMetadata& meta);

  const RepoLayout layout_;
  const RepoConfig config_;
  mutable std::mutex mu_;
  std::map<TimelineId, std::shared_ptr<Timeline>> timelines_;  // guarded by mu_
  mutable std::mutex mounts_mu_;
  std::map<TimelineId, MountInfo> mounts_;  // guarded by mounts_mu_
};

}  // namespace zenith::pageserver
