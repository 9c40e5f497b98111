// Prepared branches (`zenith branch NEW PARENT --sql FILE`, docs/design.md
// §7): a branch whose first readable point comes after a script ran on it.
//
// 1. PrepareBranch writes NEW's timeline (metadata, durable) and no ref; the
//    preparing connection holds it in memory: it may be mounted by its id,
//    garbage collection keeps it, and no other branch may take the name.
// 2. The CLI runs the script on a read-write mount of it and stops
//    PostgreSQL with a checkpoint: the mount stores a snapshot, then unmounts.
// 3. PublishBranch writes readable_from (the newest snapshot's valid,
//    durable), then the ref, created exclusively: the commit point.
//
// A crash or a closed connection before (3) completes leaves no ref: the
// timeline is unreferenced, and AbandonPrepared (at once) or GC (after a
// crash) removes it. The repository is as before the command, or as after.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/file_util.h"
#include "pageserver/repo/repository.h"

namespace zenith::pageserver {

Status Repository::CheckNameFreeLocked(const std::string& name) const {
  if (PathExists(layout_.branch_ref(name))) return AlreadyExists("branch '" + name + "' already exists");
  std::lock_guard lock(preparing_mu_);
  for (const auto& p : preparing_) {
    if (p.name == name) return AlreadyExists("branch '" + name + "' is being prepared");
  }
  return Status::Ok();
}

std::string Repository::PreparedName(const TimelineId& id) const {
  std::lock_guard lock(preparing_mu_);
  for (const auto& p : preparing_) {
    if (p.timeline == id) return p.name;
  }
  return "";
}

std::vector<TimelineId> Repository::PreparedTimelines() const {
  std::lock_guard lock(preparing_mu_);
  std::vector<TimelineId> out;
  for (const auto& p : preparing_) out.push_back(p.timeline);
  return out;
}

bool Repository::Detaching(const TimelineId& id) const {
  std::lock_guard lock(preparing_mu_);
  return detaching_.count(id) > 0;
}

bool Repository::MountedReadWrite(const TimelineId& id) const {
  std::lock_guard lock(mounts_mu_);
  return mounts_.count(id) > 0;
}

Result<Repository::CreatedBranch> Repository::PrepareBranch(const std::string& name, std::string_view parent_spec,
                                                            uint64_t session) {
  ZENITH_RETURN_IF_ERROR(ValidateBranchName(name));
  ZENITH_ASSIGN_OR_RETURN(ParentSpec spec, ParseParentSpec(parent_spec));
  ZENITH_ASSIGN_OR_RETURN(auto parent, FindTimeline(spec.name));
  auto points = LockPoints();
  ZENITH_RETURN_IF_ERROR(CheckNameFreeLocked(name));
  ZENITH_ASSIGN_OR_RETURN(TimelineMetadata meta, PlanBranchTimeline(*parent, spec.name, spec.at));
  if (Status written = WriteNewTimeline(meta); !written.ok()) {
    IgnoreError(RemoveTree(layout_.timeline_dir(meta.id)));
    return written.WithContext("branch '" + name + "' was not prepared");
  }
  {
    std::lock_guard lock(preparing_mu_);
    preparing_.push_back(Preparing{name, meta.id, session});
  }
  spdlog::info("preparing branch {} (timeline {}) at {} of {}", name, meta.id.ToString(), meta.ancestor_lsn.ToString(),
               parent->id().ToString());
  return CreatedBranch{name, meta.id, meta.ancestor_lsn, !spec.at.has_value()};
}

Result<Repository::PublishedBranch> Repository::PublishBranch(const std::string& name, uint64_t session) {
  auto points = LockPoints();
  std::optional<TimelineId> id;
  {
    std::lock_guard lock(preparing_mu_);
    for (const auto& p : preparing_) {
      if (p.name == name && p.session == session) id = p.timeline;
    }
  }
  if (!id) return NotFound("branch '" + name + "' is not being prepared by this connection");
  if (MountedReadWrite(*id)) return Busy("branch '" + name + "' is still mounted; unmount it before publishing it");
  ZENITH_ASSIGN_OR_RETURN(auto tl, GetTimeline(*id));
  const auto own = tl->OwnLayers();
  if (own.empty()) {
    return InvalidArgument("branch '" + name + "' has no snapshot of its own yet: stop its PostgreSQL with a checkpoint");
  }
  const Lsn readable = own.back()->lsns().valid;
  ZENITH_RETURN_IF_ERROR(tl->SetReadableFrom(readable));
  ZENITH_RETURN_IF_ERROR(CreateFileDurablyExclusive(layout_.branch_ref(name), id->ToString() + "\n", 0644));
  {
    std::lock_guard lock(preparing_mu_);
    std::erase_if(preparing_, [&](const Preparing& p) { return p.timeline == *id; });
  }
  spdlog::info("published prepared branch {} (timeline {}), readable from {}", name, id->ToString(), readable.ToString());
  return PublishedBranch{name, *id, readable};
}

void Repository::AbandonPrepared(uint64_t session) {
  std::vector<Preparing> abandoned;
  {
    std::lock_guard lock(preparing_mu_);
    for (const auto& p : preparing_) {
      if (p.session == session) abandoned.push_back(p);
    }
    std::erase_if(preparing_, [&](const Preparing& p) { return p.session == session; });
  }
  auto points = LockPoints();
  for (const auto& p : abandoned) {
    // A mount still on it (its preparer was killed) keeps it until it goes;
    // then it is unreferenced, and GC removes it.
    if (MountedReadWrite(p.timeline)) continue;
    ForgetTimeline(p.timeline);
    const std::string doomed = layout_.timelines_dir() + "/.deleted-" + p.timeline.ToString();
    if (RenameFile(layout_.timeline_dir(p.timeline), doomed).ok()) IgnoreError(RemoveTree(doomed));
    IgnoreError(RemoveTree(layout_.datadir(p.timeline)));
    spdlog::info("abandoned the preparation of branch {} (timeline {})", p.name, p.timeline.ToString());
  }
}

}  // namespace zenith::pageserver
