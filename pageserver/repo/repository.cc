#include "pageserver/repo/repository.h"

#include <spdlog/spdlog.h>

#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <set>

#include "common/duration.h"
#include "common/file_util.h"
#include "pageserver/repo/remote_layers.h"
#include "common/pg_time.h"
#include "common/str_format.h"

namespace zenith::pageserver {

namespace {

constexpr int kMaxAncestorDepth = 1000;

}  // namespace

Status ValidateBranchName(std::string_view name) {
  auto ok_char = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-'; };
  if (name.empty() || name.size() > 64 || name.front() == '.' || !std::all_of(name.begin(), name.end(), ok_char)) {
    return InvalidArgument("'" + std::string(name) +
                           "' is not a valid branch name: use 1 to 64 of the characters A-Z a-z 0-9 . _ - "
                           "(not starting with '.')");
  }
  // Commands take a branch name or a timeline id: a name that reads as an
  // id could never be named.
  if (TimelineId::Parse(name)) {
    return InvalidArgument("'" + std::string(name) + "' is not a valid branch name: it reads as a timeline id");
  }
  return Status::Ok();
}

Repository::Repository(RepoLayout layout, RepoConfig config)
    : layout_(std::move(layout)), config_(std::move(config)) {
  if (!config_.remote.url.empty()) remote_layers_ = std::make_unique<RemoteLayers>(config_.remote);
}

Repository::~Repository() = default;

Result<std::unique_ptr<Repository>> Repository::Open(const std::string& root) {
  RepoLayout layout{root};
  if (!PathExists(layout.config())) {
    return NotFound("no zenith repository at \"" + root + "\"; create one with `zenith init`");
  }
  ZENITH_ASSIGN_OR_RETURN(RepoConfig config, RepoConfig::Load(layout.config()));
  return std::unique_ptr<Repository>(new Repository(std::move(layout), std::move(config)));
}

Result<std::vector<BranchInfo>> Repository::ListBranches() const {
  ZENITH_ASSIGN_OR_RETURN(auto names, ListDirectory(layout_.branches_dir()));
  std::vector<BranchInfo> out;
  for (const auto& name : names) {
    if (!ValidateBranchName(name).ok()) continue;  // temp files of a ref being created
    ZENITH_ASSIGN_OR_RETURN(TimelineId id, ReadRef(name));
    out.push_back({name, id});
  }
  return out;
}

Result<TimelineId> Repository::ReadRef(const std::string& name) const {
  ZENITH_ASSIGN_OR_RETURN(std::string text, ReadFileToString(layout_.branch_ref(name)));
  auto id = TimelineId::Parse(WithoutTrailingSpace(text));
  if (!id) return Corruption("branch ref \"" + layout_.branch_ref(name) + "\" does not hold a timeline id");
  return *id;
}

std::string Repository::BranchOf(const TimelineId& id) const {
  auto branches = ListBranches();
  if (!branches.ok()) return "";
  for (const auto& b : *branches) {
    if (b.timeline == id) return b.name;
  }
  return "";
}

Result<std::shared_ptr<Timeline>> Repository::FindTimeline(std::string_view name_or_id) {
  if (auto id = TimelineId::Parse(name_or_id)) return GetTimeline(*id);
  if (!ValidateBranchName(name_or_id).ok() || !PathExists(layout_.branch_ref(std::string(name_or_id)))) {
    return NotFound("branch '" + std::string(name_or_id) + "' does not exist; `zenith branch` lists branches");
  }
  ZENITH_ASSIGN_OR_RETURN(TimelineId id, ReadRef(std::string(name_or_id)));
  return GetTimeline(id);
}

Result<std::shared_ptr<Timeline>> Repository::GetTimeline(const TimelineId& id) { return LoadTimeline(id, 0); }

// Loads without mu_ (opening a timeline's layers is I/O): two requests for a
// timeline not loaded yet may both load it; the first to finish is kept.
Result<std::shared_ptr<Timeline>> Repository::LoadTimeline(const TimelineId& id, int depth) {
  {
    std::lock_guard lock(mu_);
    if (auto it = timelines_.find(id); it != timelines_.end()) return it->second;
  }
  if (depth > kMaxAncestorDepth) return Corruption("timeline ancestry is cyclic or too deep at " + id.ToString());
  auto text = ReadFileToString(layout_.metadata(id));
  if (!text.ok()) {
    if (text.status().code() == StatusCode::kNotFound) return NotFound("timeline " + id.ToString() + " does not exist");
    return text.status();
  }
  auto meta = TimelineMetadata::FromJson(*text);
  if (!meta.ok()) return meta.status().WithContext("\"" + layout_.metadata(id) + "\"");
  if (meta->id != id) return Corruption("\"" + layout_.metadata(id) + "\" names another timeline");
  std::shared_ptr<Timeline> ancestor;
  if (meta->ancestor) {
    ZENITH_ASSIGN_OR_RETURN(ancestor, LoadTimeline(*meta->ancestor, depth + 1));
  }
  ZENITH_ASSIGN_OR_RETURN(auto tl, Timeline::Load(layout_, *meta, std::move(ancestor), config_.system_id,
                                                          remote_layers_.get()));
  std::lock_guard lock(mu_);
  auto [it, inserted] = timelines_.emplace(id, tl);
  if (inserted) spdlog::info("loaded timeline {} ({} layers)", id.ToString(), tl->OwnLayers().size());
  return it->second;
}

Status Repository::WriteNewTimeline(const TimelineMetadata& meta) {
  const std::string dir = layout_.timeline_dir(meta.id);
  ZENITH_RETURN_IF_ERROR(MakeDirectoryDurably(dir));
  ZENITH_RETURN_IF_ERROR(MakeDirectoryDurably(layout_.wal_dir(meta.id)));
  ZENITH_RETURN_IF_ERROR(MakeDirectoryDurably(layout_.layers_dir(meta.id)));
  return WriteFileDurably(layout_.metadata(meta.id), meta.ToJson());
}

Result<ParentSpec> ParseParentSpec(std::string_view parent_spec) {
  ParentSpec out{std::string(parent_spec), std::nullopt};
  if (size_t atpos = parent_spec.rfind('@'); atpos != std::string_view::npos) {
    out.name = std::string(parent_spec.substr(0, atpos));
    std::string_view lsn_text = parent_spec.substr(atpos + 1);
    out.at = Lsn::Parse(lsn_text);
    if (!out.at) return InvalidArgument("'" + std::string(lsn_text) + "' is not an LSN; LSNs look like 0/16B3748");
  }
  return out;
}

Result<TimelineMetadata> Repository::PlanBranchTimeline(Timeline& parent, std::string_view parent_name,
                                                        std::optional<Lsn> at) {
  Lsn x;
  if (at) {
    ZENITH_RETURN_IF_ERROR(CheckPointAvailable(parent, *at, std::string(parent_name)));
    ZENITH_ASSIGN_OR_RETURN(x, parent.RoundDownToRecordEnd(*at));
  } else {
    ZENITH_ASSIGN_OR_RETURN(x, parent.EndOfWal());
  }
  ZENITH_ASSIGN_OR_RETURN(TimelineId id, TimelineId::Generate());
  return TimelineMetadata{id, parent.id(), x};
}

Result<Repository::CreatedBranch> Repository::CreateBranch(const std::string& name, std::string_view parent_spec) {
  ZENITH_RETURN_IF_ERROR(ValidateBranchName(name));
  ZENITH_ASSIGN_OR_RETURN(ParentSpec spec, ParseParentSpec(parent_spec));
  const std::string& parent_name = spec.name;
  const std::optional<Lsn>& at = spec.at;
  ZENITH_ASSIGN_OR_RETURN(auto parent, FindTimeline(parent_name));
  auto points = LockPoints();  // one branch creation at a time, and no GC decision meanwhile
  ZENITH_RETURN_IF_ERROR(CheckNameFreeLocked(name));
  ZENITH_ASSIGN_OR_RETURN(TimelineMetadata meta, PlanBranchTimeline(*parent, parent_name, at));
  const TimelineId id = meta.id;
  const Lsn x = meta.ancestor_lsn;
  Status written = WriteNewTimeline(meta);
  if (written.ok()) written = CreateFileDurablyExclusive(layout_.branch_ref(name), id.ToString() + "\n", 0644);
  if (!written.ok()) {
    // Nothing may stay of a branch whose creation failed (a crash in
    // between leaves an unreferenced timeline, which GC removes).
    IgnoreError(RemoveTree(layout_.timeline_dir(id)));
    if (written.code() == StatusCode::kAlreadyExists) return AlreadyExists("branch '" + name + "' already exists");
    return written.WithContext("branch '" + name + "' was not created");
  }
  spdlog::info("created branch {} (timeline {}) at {} of {}", name, id.ToString(), x.ToString(), parent->id().ToString());
  return CreatedBranch{name, id, x, !at.has_value()};
}

Result<Lsn> Repository::WindowStart(const Timeline& tl) {
  PlanTimeline plan;
  std::vector<std::shared_ptr<const LayerFile>> layers;
  plan.layers = tl.PlanLayers(&layers);
  plan.parent = tl.ancestor() ? 0 : -1;  // Horizon only asks whether there is one
  plan.branch_lsn = tl.ancestor_lsn();
  ZENITH_ASSIGN_OR_RETURN(plan.end_of_wal, const_cast<Timeline&>(tl).EndOfWal());
  plan.gc_cutoff = tl.gc_cutoff();
  const HistoryConfig& h = config_.history;
  return Horizon(plan, {h.window_seconds, h.window_wal_bytes}, std::time(nullptr));
}

Status Repository::CheckPointAvailable(const Timeline& tl, Lsn x, const std::string& name) {
  const Timeline* owner = &tl;  // whose history x is
  for (;; owner = owner->ancestor().get()) {
    // A prepared branch hides what came before it, its parent's data included.
    if (auto from = owner->readable_from(); from && x < *from) {
      const std::string branch = BranchOf(owner->id());
      return InvalidArgument("LSN " + x.ToString() + " is before the first readable point of branch '" +
                             (branch.empty() ? name : branch) + "', " +
                             from->ToString() + ": it was prepared with --sql, and nothing of it before that is readable");
    }
    if (!owner->ancestor() || x >= owner->ancestor_lsn()) break;
  }
  ZENITH_ASSIGN_OR_RETURN(Lsn window, WindowStart(*owner));
  const Lsn snapshot = owner->OldestSnapshot().value_or(Lsn());
  const Lsn oldest = std::max(window, snapshot);
  if (x >= oldest) return Status::Ok();
  const std::string available = "; the oldest LSN still available is " + oldest.ToString();
  if (oldest == snapshot) {
    return InvalidArgument("LSN " + x.ToString() + " is before the oldest snapshot of branch '" + name + "'" + available);
  }
  std::string kept = FormatDuration(config_.history.window_seconds);
  if (config_.history.window_wal_bytes > 0) kept += " or " + std::to_string(config_.history.window_wal_bytes) + " bytes of WAL";
  return InvalidArgument("LSN " + x.ToString() + " is outside the history kept for branch '" + name + "' (the last " +
                         kept + ", less what `zenith gc --window` removed)" + available);
}

Result<Repository::ReadPoint> Repository::ResolvePoint(const std::string& target, const std::string& spec) {
  ZENITH_ASSIGN_OR_RETURN(auto tl, FindTimeline(target));
  if (spec.empty()) {
    ZENITH_ASSIGN_OR_RETURN(Lsn end, tl->EndOfWal());
    return ReadPoint{tl, end};
  }
  Lsn x;
  if (auto lsn = Lsn::Parse(spec)) {
    x = *lsn;
  } else if (auto time = ParsePgTimestamp(spec)) {
    auto found = tl->LastCommitAtOrBefore(*time);
    if (!found.ok()) {
      return Status(found.status().code(), "no commit at or before " + spec + " on branch '" + target + "': " +
                                               found.status().message());
    }
    x = *found;
  } else {
    return InvalidArgument("'" + spec + "' is neither an LSN (like 0/16B3748) nor a time (like '2026-11-29 10:00:00+00')");
  }
  auto points = LockPoints();  // no GC decision while the point is checked
  ZENITH_RETURN_IF_ERROR(CheckPointAvailable(*tl, x, target));
  std::shared_ptr<Timeline> owner = tl;
  while (owner->ancestor() && x < owner->ancestor_lsn()) owner = owner->ancestor();
  ZENITH_ASSIGN_OR_RETURN(Lsn lsn, owner->RoundDownToRecordEnd(x));
  return ReadPoint{owner, lsn};
}

Status Repository::CheckDeletable(const std::string& name, const TimelineId& id) {
  ZENITH_ASSIGN_OR_RETURN(auto branches, ListBranches());
  if (branches.size() == 1) {
    return Busy("branch '" + name + "' is the only branch; a repository keeps at least one");
  }
  std::vector<std::string> descendants;
  for (const auto& b : branches) {
    if (b.timeline == id) continue;
    ZENITH_ASSIGN_OR_RETURN(auto tl, GetTimeline(b.timeline));
    for (auto a = tl->ancestor(); a; a = a->ancestor()) {
      if (a->id() == id) {
        descendants.push_back(b.name);
        break;
      }
    }
  }
  if (!descendants.empty()) {
    std::string list;
    for (const auto& d : descendants) list += (list.empty() ? "" : ", ") + d;
    return Busy("branch '" + name + "' has child branches (" + list + "); delete them first");
  }
  return Status::Ok();
}

Status Repository::DeleteBranch(const std::string& name) {
  if (!ValidateBranchName(name).ok() || !PathExists(layout_.branch_ref(name))) {
    return NotFound("branch '" + name + "' does not exist; `zenith branch` lists branches");
  }
  auto points = LockPoints();
  ZENITH_ASSIGN_OR_RETURN(TimelineId id, ReadRef(name));
  ZENITH_RETURN_IF_ERROR(CheckDeletable(name, id));
  std::lock_guard mounts(mounts_mu_);  // no attach while the ref goes
  ZENITH_RETURN_IF_ERROR(CheckNotMountedLocked(name, id));
  ZENITH_RETURN_IF_ERROR(RemoveFile(layout_.branch_ref(name)));
  ZENITH_RETURN_IF_ERROR(FsyncDirectory(layout_.branches_dir()));
  spdlog::info("deleted branch {} (timeline {}); garbage collection removes its files", name, id.ToString());
  return Status::Ok();
}

Status Repository::Attach(const MountInfo& mount) {
  std::lock_guard lock(mounts_mu_);
  if (auto it = mounts_.find(mount.timeline); it != mounts_.end()) {
    const MountInfo& held = it->second;
    return Busy("branch '" + held.branch + "' is already mounted read-write at " + held.mountpoint +
                " (zenith-fs pid " + std::to_string(held.pid) + "); unmount it first with `zenith umount " +
                held.mountpoint + "`");
  }
  if (BranchOf(mount.timeline).empty() && PreparedName(mount.timeline).empty()) {
    return NotFound("no branch names timeline " + mount.timeline.ToString() + " (it was deleted)");
  }
  if (Detaching(mount.timeline)) return Busy("branch '" + mount.branch + "' is being detached; mount it when that is done");
  mounts_[mount.timeline] = mount;
  return Status::Ok();
}

void Repository::Detach(const TimelineId& timeline, uint64_t session) {
  std::lock_guard lock(mounts_mu_);
  auto it = mounts_.find(timeline);
  if (it != mounts_.end() && it->second.session == session) mounts_.erase(it);
}

Status Repository::AttachReadOnly(const MountInfo& mount) {
  std::lock_guard lock(mounts_mu_);
  if (BranchOf(mount.timeline).empty()) {
    return NotFound("no branch names timeline " + mount.timeline.ToString() + " (it was deleted)");
  }
  if (Detaching(mount.timeline)) return Busy("branch '" + mount.branch + "' is being detached; mount it when that is done");
  if (!readonly_mounts_.emplace(mount.session, mount).second) {
    return Busy("this connection already registered a read-only mount");
  }
  return Status::Ok();
}

void Repository::DetachReadOnly(uint64_t session) {
  std::lock_guard lock(mounts_mu_);
  readonly_mounts_.erase(session);
}

std::vector<MountInfo> Repository::Mounts() const {
  std::lock_guard lock(mounts_mu_);
  std::vector<MountInfo> out;
  for (const auto& [id, m] : mounts_) out.push_back(m);
  for (const auto& [session, m] : readonly_mounts_) out.push_back(m);
  return out;
}

Status Repository::SetMountStats(uint64_t session, const MountStats& stats) {
  std::lock_guard lock(mounts_mu_);
  if (auto it = readonly_mounts_.find(session); it != readonly_mounts_.end()) {
    it->second.stats = stats;
    return Status::Ok();
  }
  for (auto& [id, m] : mounts_) {
    if (m.session == session) {
      m.stats = stats;
      return Status::Ok();
    }
  }
  return NotFound("mount_stats: this connection holds no mount (attach or attach_readonly first)");
}

Status Repository::Pin(uint64_t session, const Timeline& tl, Lsn lsn, bool wal) {
  auto points = LockPoints();
  const LayerFile* newest = tl.ViewAt(lsn)->newest();
  if (newest == nullptr || newest->lsns().valid != lsn) {
    return NotFound("no snapshot of timeline " + tl.id().ToString() + " is valid at " + lsn.ToString() +
                    " (compaction merged it, or there never was one); mount again");
  }
  for (PinInfo& p : pins_) {
    if (p.session == session && p.timeline == tl.id() && p.lsn == lsn) {
      p.wal = wal;
      return Status::Ok();
    }
  }
  pins_.push_back({tl.id(), lsn, session, wal});
  return Status::Ok();
}

std::vector<PinInfo> Repository::Pins() const {
  auto points = LockPoints();
  return pins_;
}

void Repository::Unpin(uint64_t session) {
  auto points = LockPoints();
  std::erase_if(pins_, [&](const PinInfo& p) { return p.session == session; });
}

void Repository::Unpin(uint64_t session, const TimelineId& timeline, Lsn lsn) {
  auto points = LockPoints();
  std::erase_if(pins_, [&](const PinInfo& p) { return p.session == session && p.timeline == timeline && p.lsn == lsn; });
}

Result<Repository::Timelines> Repository::AllTimelines() {
  ZENITH_ASSIGN_OR_RETURN(auto branches, ListBranches());
  Timelines out;
  std::set<TimelineId> seen;
  for (const auto& b : branches) {
    ZENITH_ASSIGN_OR_RETURN(auto tl, GetTimeline(b.timeline));
    for (auto t = tl; t && seen.insert(t->id()).second; t = t->ancestor()) out.live.push_back(t);
  }
  // A branch being prepared is not named yet, and must stay.
  for (const TimelineId& id : PreparedTimelines()) {
    ZENITH_ASSIGN_OR_RETURN(auto tl, GetTimeline(id));
    for (auto t = tl; t && seen.insert(t->id()).second; t = t->ancestor()) out.live.push_back(t);
  }
  ZENITH_ASSIGN_OR_RETURN(auto names, ListDirectory(layout_.timelines_dir()));
  for (const auto& name : names) {
    auto id = TimelineId::Parse(name);
    if (id && !seen.count(*id) && !MountedReadWrite(*id)) out.orphans.push_back(*id);
  }
  return out;
}

void Repository::ForgetTimeline(const TimelineId& id) {
  std::lock_guard lock(mu_);
  timelines_.erase(id);
}

Result<std::vector<std::string>> Repository::RemoveStaleTempFiles() {
  std::vector<std::string> removed;
  for (const std::string& dir : {layout_.root, layout_.branches_dir()}) {
    ZENITH_ASSIGN_OR_RETURN(auto some, zenith::RemoveStaleTempFiles(dir));
    removed.insert(removed.end(), some.begin(), some.end());
  }
  for (const auto& path : removed) spdlog::info("removed {}, an unfinished file a crash left", path);
  return removed;
}

size_t Repository::loaded_timelines() const {
  std::lock_guard lock(mu_);
  return timelines_.size();
}

}  // namespace zenith::pageserver
