// Repository::ResetBranch: `zenith branch reset NAME [--to PARENT[@X]]
// [--keep OLDNAME]` (docs/design.md §7).
//
// On disk a reset changes one ref (NAME) or two (NAME, and OLDNAME made),
// which no single rename covers. So it writes, in this order, each step
// durable before the next:
//   1. the new timeline (directories, metadata), unreferenced;
//   2. the journal, branch-reset.json: NAME, the new and the old timeline,
//      OLDNAME: from here on the reset is decided;
//   3. OLDNAME's ref (with --keep), then NAME's ref, each replaced by a
//      rename;
//   4. the journal's removal.
// A crash before 2 leaves the repository as it was (and an unreferenced
// timeline, which GC removes); a crash after 2 is completed when the page
// server starts again (FinishInterruptedReset, before it serves anyone), as
// every step of 3 may be redone. Nobody reads refs but the page server, and
// it holds mounts_mu_ across 2-4, so no mount attaches in between.
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "common/file_util.h"
#include "common/str_format.h"
#include "pageserver/repo/repository.h"

namespace zenith::pageserver {

namespace {

struct ResetJournal {
  std::string branch, keep;
  TimelineId new_timeline, old_timeline;

  std::string ToJson() const {
    return nlohmann::json{{"branch", branch},
                          {"new_timeline", new_timeline.ToString()},
                          {"old_timeline", old_timeline.ToString()},
                          {"keep", keep}}
               .dump() +
           "\n";
  }
  static Result<ResetJournal> FromJson(const std::string& text) {
    auto j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return Corruption("the branch reset journal is not JSON");
    ResetJournal r;
    auto text_of = [&](const char* key) { return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : ""; };
    r.branch = text_of("branch");
    r.keep = text_of("keep");
    auto fresh = TimelineId::Parse(text_of("new_timeline"));
    auto old = TimelineId::Parse(text_of("old_timeline"));
    if (!fresh || !old || !ValidateBranchName(r.branch).ok() || (!r.keep.empty() && !ValidateBranchName(r.keep).ok())) {
      return Corruption("the branch reset journal lacks a branch or timeline: " + text);
    }
    r.new_timeline = *fresh;
    r.old_timeline = *old;
    return r;
  }
};

}  // namespace

Status Repository::CheckNotMountedLocked(const std::string& name, const TimelineId& id) const {
  const MountInfo* mounted = nullptr;
  if (auto it = mounts_.find(id); it != mounts_.end()) mounted = &it->second;
  for (const auto& [session, m] : readonly_mounts_) {
    if (!mounted && m.timeline == id) mounted = &m;
  }
  if (!mounted) return Status::Ok();
  return Busy("branch '" + name + "' is mounted" + (mounted->read_only ? " read-only" : "") + " at " +
              mounted->mountpoint + " (zenith-fs pid " + std::to_string(mounted->pid) +
              "); unmount it first with `zenith umount " + mounted->mountpoint + "`");
}

// Steps 3 and 4 of a reset (above); each may be redone.
Status Repository::ApplyResetJournal(const std::string& journal_text) {
  ZENITH_ASSIGN_OR_RETURN(ResetJournal r, ResetJournal::FromJson(journal_text));
  if (!PathExists(layout_.metadata(r.new_timeline))) {
    return Corruption("the branch reset journal names timeline " + r.new_timeline.ToString() + ", which does not exist");
  }
  if (!r.keep.empty()) {
    ZENITH_RETURN_IF_ERROR(WriteFileDurably(layout_.branch_ref(r.keep), r.old_timeline.ToString() + "\n", 0644));
    if (reset_step_hook_) reset_step_hook_("keep");
  }
  ZENITH_RETURN_IF_ERROR(WriteFileDurably(layout_.branch_ref(r.branch), r.new_timeline.ToString() + "\n", 0644));
  if (reset_step_hook_) reset_step_hook_("ref");
  ZENITH_RETURN_IF_ERROR(RemoveFile(layout_.reset_journal()));
  return FsyncDirectory(layout_.root);
}

Status Repository::FinishInterruptedReset() {
  if (!PathExists(layout_.reset_journal())) return Status::Ok();
  ZENITH_ASSIGN_OR_RETURN(std::string text, ReadFileToString(layout_.reset_journal()));
  ZENITH_RETURN_IF_ERROR(ApplyResetJournal(text).WithContext("could not finish the interrupted branch reset"));
  spdlog::info("finished a branch reset a crash interrupted: {}", WithoutTrailingSpace(text));
  return Status::Ok();
}

namespace {

// What `reset NAME` goes back to without --to: NAME's parent by name.
Result<std::string> DefaultResetTarget(const std::string& name, const Timeline& current, const Repository& repo) {
  if (!current.ancestor()) {
    return InvalidArgument("branch '" + name + "' has no parent to reset to; name one with --to BRANCH[@LSN]");
  }
  std::string parent = repo.BranchOf(current.ancestor()->id());
  if (parent.empty()) {
    return InvalidArgument("branch '" + name + "' was made from timeline " + current.ancestor()->id().ToString() +
                           ", which no branch names any more; name one with --to BRANCH[@LSN]");
  }
  return parent;
}

}  // namespace

Result<Repository::ResetResult> Repository::ResetBranch(const std::string& name, const std::string& to_spec,
                                                         const std::string& keep) {
  if (!ValidateBranchName(name).ok() || !PathExists(layout_.branch_ref(name))) {
    return NotFound("branch '" + name + "' does not exist; `zenith branch` lists branches");
  }
  if (!keep.empty()) {
    ZENITH_RETURN_IF_ERROR(ValidateBranchName(keep));
    if (keep == name) return InvalidArgument("--keep needs a new name for the old state, not '" + name + "' itself");
  }
  ZENITH_ASSIGN_OR_RETURN(auto current, FindTimeline(name));
  std::string target = to_spec;
  if (target.empty()) {
    ZENITH_ASSIGN_OR_RETURN(target, DefaultResetTarget(name, *current, *this));
  }
  ZENITH_ASSIGN_OR_RETURN(ParentSpec spec, ParseParentSpec(target));
  ZENITH_ASSIGN_OR_RETURN(auto parent, FindTimeline(spec.name));
  auto points = LockPoints();  // one change of refs at a time, and no GC decision meanwhile
  ZENITH_ASSIGN_OR_RETURN(TimelineId now, ReadRef(name));
  if (now != current->id()) return Busy("branch '" + name + "' changed meanwhile; try again");
  if (!keep.empty() && PathExists(layout_.branch_ref(keep))) return AlreadyExists("branch '" + keep + "' already exists");
  ZENITH_ASSIGN_OR_RETURN(TimelineMetadata meta, PlanBranchTimeline(*parent, spec.name, spec.at));
  ResetJournal journal{name, keep, meta.id, current->id()};
  std::lock_guard mounts(mounts_mu_);  // no attach while the refs change
  ZENITH_RETURN_IF_ERROR(CheckNotMountedLocked(name, current->id()));
  Status s = WriteNewTimeline(meta);
  if (s.ok() && reset_step_hook_) reset_step_hook_("timeline");
  if (s.ok()) s = WriteFileDurably(layout_.reset_journal(), journal.ToJson(), 0644);
  if (!s.ok()) {
    IgnoreError(RemoveTree(layout_.timeline_dir(meta.id)));
    return s.WithContext("branch '" + name + "' was not reset");
  }
  if (reset_step_hook_) reset_step_hook_("journal");
  if (s = ApplyResetJournal(journal.ToJson()); !s.ok()) {
    // Back to the old refs; the journal goes last, so a crash meanwhile is
    // completed at the next start instead.
    if (!keep.empty()) IgnoreError(RemoveFile(layout_.branch_ref(keep)));
    IgnoreError(WriteFileDurably(layout_.branch_ref(name), current->id().ToString() + "\n", 0644));
    IgnoreError(RemoveFile(layout_.reset_journal()));
    return s.WithContext("branch '" + name + "' was not reset");
  }
  spdlog::info("reset branch {} to {} at {} (timeline {}, was {}{})", name, spec.name, meta.ancestor_lsn.ToString(),
               meta.id.ToString(), current->id().ToString(), keep.empty() ? "" : ", kept as " + keep);
  return ResetResult{spec.name, current->id(), meta.id, meta.ancestor_lsn, !spec.at.has_value()};
}

}  // namespace zenith::pageserver
