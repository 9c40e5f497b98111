// `zenith branch detach NAME` (docs/design.md §7): NAME's timeline stops
// depending on its ancestors. What it read from them is its own afterwards:
//
// 1. an image of the ancestor's view at the branch point (every page of the
//    snapshot S that a read below the branch point reached, merged from its
//    chain: layer_merge.h), written into NAME's layers/ as a complete layer
//    covering (0, valid(S)], durable. NAME's reads now stop at it, and read
//    exactly what they did: the image is the same pages.
// 2. the WAL from redo(S) to the branch point, copied into NAME's wal/
//    (Timeline::PrepareWal): what a point of NAME before its first own
//    snapshot replays from S.
// 3. NAME's metadata, rewritten without an ancestor (temp file, rename):
//    the commit point.
//
// A crash before (3) leaves NAME as it was, with an image and WAL it does
// not need yet (a complete layer of its own reads the same pages; a detach
// run again finds them and goes on); after (3) NAME is detached. Its
// history from valid(S) on is unchanged; points before S, reached through
// the ancestor before, are no longer NAME's.
#include <spdlog/spdlog.h>

#include <chrono>
#include <filesystem>

#include "common/file_util.h"
#include "pageserver/layers/layer_merge.h"
#include "pageserver/repo/repository.h"

namespace zenith::pageserver {

namespace {

// The image a detach wrote before a crash cut it short: a layer of the
// timeline's own that starts below its branch point.
std::shared_ptr<const LayerFile> LeftoverImage(const Timeline& tl) {
  for (const auto& layer : tl.OwnLayers()) {
    if (layer->complete() && layer->meta().start < tl.ancestor_lsn()) return layer;
  }
  return nullptr;
}

uint64_t WalBytes(const std::string& dir) {
  uint64_t bytes = 0;
  for (const auto& name : ListDirectory(dir).value_or(std::vector<std::string>{})) {
    std::error_code ec;
    const auto size = std::filesystem::file_size(dir + "/" + name, ec);
    if (!ec) bytes += size;
  }
  return bytes;
}

}  // namespace

Status Repository::CheckNoMountReaches(const std::string& name, const Timeline& tl) {
  std::vector<TimelineId> mounted;
  {
    std::lock_guard lock(mounts_mu_);
    for (const auto& [id, m] : mounts_) mounted.push_back(id);
    for (const auto& [session, m] : readonly_mounts_) mounted.push_back(m.timeline);
  }
  for (const TimelineId& id : mounted) {
    auto m = GetTimeline(id);
    if (!m.ok()) continue;
    for (auto t = *m; t; t = t->ancestor()) {
      if (t->id() != tl.id()) continue;
      std::lock_guard lock(mounts_mu_);
      return CheckNotMountedLocked(id == tl.id() ? name : "a branch of " + name, id);
    }
  }
  return Status::Ok();
}

Result<Repository::DetachedBranch> Repository::DetachBranch(const std::string& name) {
  const auto started = std::chrono::steady_clock::now();
  ZENITH_RETURN_IF_ERROR(ValidateBranchName(name));
  ZENITH_ASSIGN_OR_RETURN(auto tl, FindTimeline(name));
  if (!tl->ancestor()) return InvalidArgument("branch '" + name + "' has no ancestor: it depends on no other branch");
  ZENITH_RETURN_IF_ERROR(CheckNoMountReaches(name, *tl));
  {
    std::lock_guard lock(preparing_mu_);
    if (!detaching_.insert(tl->id()).second) return Busy("branch '" + name + "' is being detached already");
  }
  Result<DetachedBranch> done = Detach(name, tl);
  {
    std::lock_guard lock(preparing_mu_);
    detaching_.erase(tl->id());
  }
  if (done.ok()) {
    done->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    spdlog::info("detached branch {} (timeline {}) from {}: image at {} ({} bytes), {} bytes of WAL, {:.2f} s", name,
                 tl->id().ToString(), done->parent, done->image_lsn.ToString(), done->image_bytes, done->wal_bytes,
                 done->seconds);
  }
  return done;
}

Result<Repository::DetachedBranch> Repository::Detach(const std::string& name, const std::shared_ptr<Timeline>& tl) {
  const auto ancestor = tl->ancestor();
  DetachedBranch out{name, tl->id(), BranchOf(ancestor->id()), {}, 0, 0, 0};
  if (out.parent.empty()) out.parent = ancestor->id().ToString();
  std::shared_ptr<const LayerFile> image = LeftoverImage(*tl);
  if (image == nullptr) {
    auto view = ancestor->ViewAt(tl->ancestor_lsn());
    if (view->newest() == nullptr || !view->layers().back()->complete()) {
      return Corruption("the ancestor of branch '" + name + "' has no complete snapshot at its branch point");
    }
    const LayerFile& s = *view->newest();
    const LayerMeta meta(s.lsns(), Lsn(0), /*img=*/true, s.meta().created_at);
    ZENITH_ASSIGN_OR_RETURN(std::string path, WriteMergedLayer(view->layers(), tl->layers_dir(), tl->id(), meta));
    ZENITH_ASSIGN_OR_RETURN(image, LayerFile::Open(path));
  }
  out.image_lsn = image->lsns().valid;
  out.image_bytes = image->file_size();
  const uint64_t wal_before = WalBytes(tl->wal_dir());
  ZENITH_RETURN_IF_ERROR(tl->PrepareWal(image->lsns().redo));
  const uint64_t wal_after = WalBytes(tl->wal_dir());
  out.wal_bytes = wal_after > wal_before ? wal_after - wal_before : 0;
  ZENITH_RETURN_IF_ERROR(WriteFileDurably(layout_.metadata(tl->id()), TimelineMetadata{tl->id(), {}, {}}.ToJson()));
  // Loaded again from disk on their next use: it, and every timeline
  // whose chain runs through it.
  ForgetChainsThrough(tl->id());
  return out;
}

void Repository::ForgetChainsThrough(const TimelineId& id) {
  std::lock_guard lock(mu_);
  for (auto it = timelines_.begin(); it != timelines_.end();) {
    bool through = false;
    for (auto t = it->second; t && !through; t = t->ancestor()) through = t->id() == id;
    it = through ? timelines_.erase(it) : std::next(it);
  }
}

}  // namespace zenith::pageserver
