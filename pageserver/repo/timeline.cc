#include "pageserver/repo/timeline.h"

#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/file_util.h"
#include "pageserver/repo/remote_layers.h"
#include "common/pg_time.h"
#include "common/wal_directory.h"
#include "pageserver/layers/layer_format.h"
#include "pageserver/layers/layer_writer.h"

namespace zenith::pageserver {

std::string TimelineMetadata::ToJson() const {
  nlohmann::json j = {{"timeline_id", id.ToString()}};
  if (ancestor) {
    j["ancestor_timeline_id"] = ancestor->ToString();
    j["ancestor_lsn"] = ancestor_lsn.ToString();
  }
  return j.dump(2) + "\n";
}

Result<TimelineMetadata> TimelineMetadata::FromJson(const std::string& text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("timeline_id") || !j["timeline_id"].is_string()) {
    return Corruption("timeline metadata is not valid JSON with a timeline_id");
  }
  TimelineMetadata m;
  auto id = TimelineId::Parse(j["timeline_id"].get<std::string>());
  if (!id) return Corruption("timeline metadata has a malformed timeline_id");
  m.id = *id;
  if (j.contains("ancestor_timeline_id")) {
    auto anc = j["ancestor_timeline_id"].is_string() ? TimelineId::Parse(j["ancestor_timeline_id"].get<std::string>())
                                                      : std::nullopt;
    auto lsn = j.contains("ancestor_lsn") && j["ancestor_lsn"].is_string()
                   ? Lsn::Parse(j["ancestor_lsn"].get<std::string>())
                   : std::nullopt;
    if (!anc || !lsn) return Corruption("timeline metadata has a malformed ancestor");
    m.ancestor = *anc;
    m.ancestor_lsn = *lsn;
  }
  return m;
}

Timeline::Timeline(const RepoLayout& layout, TimelineMetadata meta, std::shared_ptr<Timeline> ancestor,
                   uint64_t system_id)
    : meta_(std::move(meta)),
      ancestor_(std::move(ancestor)),
      system_id_(system_id),
      wal_dir_(layout.wal_dir(meta_.id)),
      layers_dir_(layout.layers_dir(meta_.id)),
      cutoff_path_(layout.timeline_dir(meta_.id) + "/gc_cutoff"),
      readable_from_path_(layout.readable_from(meta_.id)),
      own_wal_(MakeWalDirectoryReader(wal_dir_, kPgTimeLineId)) {}

namespace {

// Whether `y` replaces `x` (see the file comment). Ranges of one timeline's
// layers, past and present, nest or are disjoint: merges join consecutive
// ranges, images repeat one. So a version-1 layer, whose start is not
// recorded, is replaced by any newer-format layer whose range holds its
// valid.
bool Replaces(const LayerFile& y, const LayerFile& x) {
  if (&x == &y || y.version() == layer_format::kVersion1) return false;
  const Lsn xv = x.lsns().valid, yv = y.lsns().valid, ys = y.meta().start;
  if (!(ys < xv && xv <= yv)) return false;
  if (x.version() == layer_format::kVersion1) return true;
  const Lsn xs = x.meta().start;
  if (xs < ys) return false;
  if (xs != ys || xv != yv) return true;
  return y.meta().image && !x.meta().image;  // the same range: the image wins
}

// The LSN a small file holds (its first line); nullopt if there is no file.
Result<std::optional<Lsn>> ReadLsnFile(const std::string& path) {
  auto text = ReadFileToString(path);
  if (!text.ok()) {
    if (text.status().code() == StatusCode::kNotFound) return std::optional<Lsn>();
    return text.status();
  }
  auto lsn = Lsn::Parse(std::string_view(*text).substr(0, text->find('\n')));
  if (!lsn) return Corruption("\"" + path + "\" does not hold an LSN");
  return std::optional<Lsn>(*lsn);
}

}  // namespace

Result<std::shared_ptr<Timeline>> Timeline::Load(const RepoLayout& layout, const TimelineMetadata& meta,
                                                 std::shared_ptr<Timeline> ancestor, uint64_t system_id,
                                                 RemoteLayers* remote) {
  std::shared_ptr<Timeline> tl(new Timeline(layout, meta, std::move(ancestor), system_id));
  ZENITH_RETURN_IF_ERROR(tl->LoadLayers(remote));
  ZENITH_ASSIGN_OR_RETURN(auto cutoff, ReadLsnFile(tl->cutoff_path_));
  tl->gc_cutoff_ = cutoff.value_or(Lsn(0));
  ZENITH_ASSIGN_OR_RETURN(tl->readable_from_, ReadLsnFile(tl->readable_from_path_));
  return tl;
}

Status Timeline::RemoveStaleTempFiles() const {
  for (const std::string& dir : {layers_dir_, wal_dir_, DirName(cutoff_path_)}) {
    ZENITH_ASSIGN_OR_RETURN(auto removed, zenith::RemoveStaleTempFiles(dir));
    for (const auto& path : removed) spdlog::info("removed {}, an unfinished file a crash or a failure left", path);
  }
  return Status::Ok();
}

Status Timeline::LoadLayers(RemoteLayers* remote) {
  ZENITH_RETURN_IF_ERROR(RemoveStaleTempFiles());
  ZENITH_ASSIGN_OR_RETURN(auto names, ListDirectory(layers_dir_));
  std::vector<std::shared_ptr<LayerFile>> found;
  for (const auto& name : names) {
    std::string path = layers_dir_ + "/" + name;
    if (!IsLayerFileName(name)) continue;
    ZENITH_ASSIGN_OR_RETURN(auto layer, OpenLayerOrStub(path, id(), remote));
    if (layer->timeline_id() != id()) return Corruption("layer \"" + path + "\" belongs to another timeline");
    found.push_back(std::move(layer));
  }
  std::vector<std::shared_ptr<LayerFile>> kept, replaced;
  for (const auto& x : found) {
    bool gone = std::any_of(found.begin(), found.end(), [&](const auto& y) { return Replaces(*y, *x); });
    (gone ? replaced : kept).push_back(x);
  }
  std::sort(kept.begin(), kept.end(), [](const auto& a, const auto& b) { return a->lsns().valid < b->lsns().valid; });
  Lsn below = meta_.ancestor ? meta_.ancestor_lsn : Lsn(0);
  for (const auto& layer : kept) {
    if (layer->version() == layer_format::kVersion1) layer->AssumeStart(below);
    below = layer->lsns().valid;
    layers_.push_back(layer);
  }
  if (!replaced.empty()) {
    // What replaced them may have been renamed just before a crash: make
    // that durable before the replaced files go.
    ZENITH_RETURN_IF_ERROR(FsyncDirectory(layers_dir_));
    for (const auto& layer : replaced) {
      spdlog::info("removing {}: a merged layer or image that replaces it is in place", layer->path());
      IgnoreError(RemoveFile(layer->path()));  // if it stays, the next load removes it
    }
  }
  return Status::Ok();
}

std::vector<std::shared_ptr<const LayerFile>> Timeline::OwnLayers() const {
  std::shared_lock lock(mu_);
  return layers_;
}

bool Timeline::CollectVisible(Lsn lsn, std::vector<std::shared_ptr<const LayerFile>>* out) const {
  {
    std::shared_lock lock(mu_);
    for (auto it = layers_.rbegin(); it != layers_.rend(); ++it) {
      if ((*it)->lsns().valid > lsn) continue;
      out->push_back(*it);
      if ((*it)->complete()) return true;
    }
  }
  return ancestor_ && ancestor_->CollectVisible(std::min(lsn, meta_.ancestor_lsn), out);
}

std::shared_ptr<const SnapshotView> Timeline::ViewAt(Lsn lsn) const {
  std::vector<std::shared_ptr<const LayerFile>> layers;
  CollectVisible(lsn, &layers);
  return std::make_shared<const SnapshotView>(lsn, std::move(layers));
}

Lsn Timeline::InitialWalBoundary() const {
  std::shared_lock lock(mu_);
  if (!layers_.empty()) return layers_.back()->lsns().checkpoint;
  return meta_.ancestor ? meta_.ancestor_lsn : Lsn::Invalid();
}

WalReadFn Timeline::MakeWalReader() const {
  if (!ancestor_) return own_wal_;
  WalReadFn own = own_wal_, anc = ancestor_->MakeWalReader();
  Lsn x = meta_.ancestor_lsn;
  // Bytes before the branch point are the ancestor's; from it on, ours.
  return [own, anc, x](Lsn pos, std::span<uint8_t> buf) -> Result<size_t> {
    if (pos >= x) return own(pos, buf);
    size_t before = static_cast<size_t>(std::min<uint64_t>(buf.size(), x - pos));
    ZENITH_ASSIGN_OR_RETURN(size_t got, anc(pos, buf.first(before)));
    if (got < before || before == buf.size()) return got;
    ZENITH_ASSIGN_OR_RETURN(size_t more, own(x, buf.subspan(before)));
    return before + more;
  };
}

Result<Lsn> Timeline::EndOfWal() {
  std::lock_guard lock(wal_mu_);
  if (!wal_end_.valid()) wal_end_ = InitialWalBoundary();
  if (!wal_end_.valid()) return Corruption("timeline " + id().ToString() + " has no snapshot to start reading WAL from");
  ZENITH_ASSIGN_OR_RETURN(Lsn end, FindEndOfWal(MakeWalReader(), wal_end_, system_id_));
  wal_end_ = end;
  return end;
}

namespace {

// Wakes a waiter when a file in `dir` is written or created: a local
// compute appends WAL to wal/ directly, telling nobody. Without inotify (a
// limit reached), waiting falls back to looking every 10 ms.
class DirectoryWatch {
 public:
  explicit DirectoryWatch(const std::string& dir) {
    fd_.reset(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
    if (fd_.valid() && ::inotify_add_watch(fd_.get(), dir.c_str(), IN_MODIFY | IN_CREATE | IN_MOVED_TO) < 0) fd_.reset();
  }
  // Waits for a change, at most `limit`.
  void Wait(std::chrono::milliseconds limit) {
    if (!fd_.valid()) {
      std::this_thread::sleep_for(std::min(limit, std::chrono::milliseconds(10)));
      return;
    }
    pollfd p{fd_.get(), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(limit.count())) <= 0) return;
    char events[4096];
    while (::read(fd_.get(), events, sizeof events) > 0) {
    }
  }

 private:
  UniqueFd fd_;
};

}  // namespace

Status Timeline::WaitForWal(Lsn lsn, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  DirectoryWatch watch(wal_dir_);  // before the first look: no append goes unseen
  for (;;) {
    ZENITH_ASSIGN_OR_RETURN(Lsn end, EndOfWal());
    if (end >= lsn) return Status::Ok();
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return Timeout("LSN " + lsn.ToString() + " is beyond the end of WAL " + end.ToString() + " of timeline " +
                     id().ToString() + " (waited " + std::to_string(timeout.count()) + " ms)");
    }
    // Capped: a record can end in a write the watch reported just before
    // the look above.
    watch.Wait(std::min(left, std::chrono::milliseconds(100)));
  }
}

Result<Lsn> Timeline::RoundDownToRecordEnd(Lsn x) {
  ZENITH_ASSIGN_OR_RETURN(Lsn end, EndOfWal());
  if (x > end) return InvalidArgument("LSN " + x.ToString() + " is beyond the end of WAL (" + end.ToString() + ")");
  auto view = ViewAt(x);
  if (view->newest() == nullptr) {
    auto oldest = OldestSnapshot();
    return InvalidArgument("LSN " + x.ToString() + " is before the oldest snapshot (valid at " +
                           (oldest ? oldest->ToString() : "none") + ")");
  }
  Lsn last = view->newest()->lsns().checkpoint;
  WalReader reader(MakeWalReader(), system_id_, last);
  for (;;) {
    ZENITH_ASSIGN_OR_RETURN(auto rec, reader.Next());
    if (!rec || rec->end_lsn > x) break;
    last = rec->end_lsn;
  }
  return last;
}

Result<Lsn> Timeline::LastCommitAtOrBefore(int64_t time) {
  const std::optional<Lsn> oldest = OldestSnapshot();
  auto view = oldest ? ViewAt(*oldest) : nullptr;
  if (!view || view->newest() == nullptr) return NotFound("timeline " + id().ToString() + " has no snapshot");
  ZENITH_ASSIGN_OR_RETURN(Lsn end, EndOfWal());
  WalReader reader(MakeWalReader(), system_id_, view->newest()->lsns().checkpoint);
  std::optional<Lsn> last;
  std::optional<int64_t> first_time;
  for (;;) {
    ZENITH_ASSIGN_OR_RETURN(const WalRecord* rec, reader.ReadRecord());
    if (rec == nullptr || rec->end_lsn > end) break;
    const std::optional<int64_t> t = rec->commit_time();
    if (!t) continue;
    if (!first_time) first_time = *t;
    if (*t > time) break;
    last = rec->end_lsn;
  }
  if (last) return *last;
  if (!first_time) return NotFound("no transaction has committed in the history kept");
  return NotFound("the oldest commit in the history kept was at " + FormatPgTimestamp(*first_time));
}

std::optional<Lsn> Timeline::OldestSnapshot() const {
  std::optional<Lsn> oldest;
  if (ancestor_) oldest = ancestor_->OldestSnapshot();
  if (oldest && *oldest > meta_.ancestor_lsn) oldest.reset();
  std::shared_lock lock(mu_);
  if (!oldest && !layers_.empty()) oldest = layers_.front()->lsns().valid;
  return oldest;
}

Result<std::string> Timeline::ReadAncestorSegment(uint64_t segno) const {
  Lsn start(segno * uint64_t{kWalSegmentSize});
  std::string seg(kWalSegmentSize, '\0');
  uint64_t needed = std::min<uint64_t>(kWalSegmentSize, meta_.ancestor_lsn - start);
  auto buf = std::span(reinterpret_cast<uint8_t*>(seg.data()), needed);
  ZENITH_ASSIGN_OR_RETURN(size_t got, ancestor_->MakeWalReader()(start, buf));
  if (got < needed) {
    return NotFound("WAL of the ancestor of timeline " + id().ToString() + " is missing: segment " +
                    WalSegmentFileName(kPgTimeLineId, segno) + " has only " + std::to_string(got) + " of " +
                    std::to_string(needed) + " bytes before the branch point");
  }
  return seg;
}

Status Timeline::PrepareWal(Lsn from) {
  if (!ancestor_ || from > meta_.ancestor_lsn) return Status::Ok();
  std::vector<std::string> copied;
  Status s = CopyAncestorSegments(from, &copied);
  if (s.ok()) return s;
  // All or nothing: a mount that could not start leaves wal/ as it was
  // (and a full disk gets its space back).
  for (const std::string& path : copied) IgnoreError(RemoveFile(path));
  if (!copied.empty()) IgnoreError(FsyncDirectory(wal_dir_));
  return s.WithContext("could not prepare the WAL of timeline " + id().ToString());
}

Status Timeline::CopyAncestorSegments(Lsn from, std::vector<std::string>* copied) {
  for (uint64_t segno = from.segment_number(); segno <= meta_.ancestor_lsn.segment_number(); ++segno) {
    std::string path = wal_dir_ + "/" + WalSegmentFileName(kPgTimeLineId, segno);
    if (PathExists(path)) continue;
    ZENITH_ASSIGN_OR_RETURN(std::string seg, ReadAncestorSegment(segno));
    ZENITH_RETURN_IF_ERROR(WriteFileDurably(path, seg, 0600));
    copied->push_back(path);
    spdlog::info("timeline {}: copied WAL segment {} from its ancestor", id().ToString(), path);
  }
  return Status::Ok();
}

Result<std::shared_ptr<const LayerFile>> Timeline::CommitLayer(LayerWriter& writer, const SnapshotLsns& lsns) {
  std::lock_guard commit(commit_mu_);
  if (!(lsns.redo <= lsns.checkpoint && lsns.checkpoint <= lsns.valid)) {
    return InvalidArgument("snapshot LSNs out of order: redo " + lsns.redo.ToString() + ", checkpoint " +
                           lsns.checkpoint.ToString() + ", valid " + lsns.valid.ToString());
  }
  ZENITH_ASSIGN_OR_RETURN(Lsn end, EndOfWal());
  if (lsns.valid > end) {
    return InvalidArgument("snapshot valid at " + lsns.valid.ToString() + " is beyond the end of WAL " + end.ToString());
  }
  {
    std::shared_lock lock(mu_);
    if (!layers_.empty() && lsns.valid <= layers_.back()->lsns().valid) {
      return InvalidArgument("snapshot at " + lsns.valid.ToString() + " is not newer than the latest one (" +
                             layers_.back()->lsns().valid.ToString() + ")");
    }
  }
  if (meta_.ancestor && lsns.redo < meta_.ancestor_lsn) {
    return InvalidArgument("snapshot redo " + lsns.redo.ToString() + " is before the branch point " +
                           meta_.ancestor_lsn.ToString());
  }
  Lsn start = meta_.ancestor ? meta_.ancestor_lsn : Lsn(0);
  {
    std::shared_lock lock(mu_);
    if (!layers_.empty()) start = layers_.back()->lsns().valid;
  }
  ZENITH_ASSIGN_OR_RETURN(std::string path, writer.Finish(LayerMeta(lsns, start, false, std::time(nullptr))));
  ZENITH_ASSIGN_OR_RETURN(std::shared_ptr<const LayerFile> layer, LayerFile::Open(path));
  std::unique_lock lock(mu_);
  layers_.push_back(layer);
  return layer;
}

Status Timeline::ReplaceLayers(const std::vector<std::shared_ptr<const LayerFile>>& run,
                               std::shared_ptr<const LayerFile> replacement) {
  std::unique_lock lock(mu_);
  auto first = std::find(layers_.begin(), layers_.end(), run.empty() ? nullptr : run.front());
  if (run.empty() || first == layers_.end() || static_cast<size_t>(layers_.end() - first) < run.size() ||
      !std::equal(run.begin(), run.end(), first)) {
    return Busy("the layers of timeline " + id().ToString() + " changed while they were being merged");
  }
  first = layers_.erase(first, first + static_cast<std::ptrdiff_t>(run.size()));
  layers_.insert(first, std::move(replacement));
  return Status::Ok();
}

Status Timeline::EvictLayer(const std::shared_ptr<const LayerFile>& local, std::shared_ptr<const LayerFile> remote,
                            const RemoteLayerStub& stub) {
  std::unique_lock lock(mu_);
  auto it = std::find(layers_.begin(), layers_.end(), local);
  if (it == layers_.end()) return Busy("layer \"" + local->path() + "\" is no longer one of timeline " + id().ToString() + "'s");
  ZENITH_RETURN_IF_ERROR(WriteRemoteLayerStub(local->path(), stub));
  *it = std::move(remote);
  return Status::Ok();
}

Status Timeline::HydrateLayer(const std::shared_ptr<const LayerFile>& remote, const std::string& file,
                              const RemoteLayerStub& stub) {
  std::unique_lock lock(mu_);
  auto it = std::find(layers_.begin(), layers_.end(), remote);
  if (it == layers_.end()) return Busy("layer \"" + remote->path() + "\" is no longer one of timeline " + id().ToString() + "'s");
  ZENITH_RETURN_IF_ERROR(RenameFile(file, remote->path()));
  Status st = FsyncDirectory(layers_dir_);
  auto local = st.ok() ? LayerFile::Open(remote->path()) : Result<std::shared_ptr<LayerFile>>(st);
  if (!local.ok()) {
    IgnoreError(WriteRemoteLayerStub(remote->path(), stub));
    return local.status();
  }
  if ((*local)->version() == 1) (*local)->AssumeStart(remote->meta().start);
  *it = std::move(*local);
  return Status::Ok();
}

void Timeline::ForgetLayers(const std::vector<std::shared_ptr<const LayerFile>>& victims) {
  std::unique_lock lock(mu_);
  std::erase_if(layers_, [&](const auto& l) {
    return l != layers_.back() && std::find(victims.begin(), victims.end(), l) != victims.end();
  });
}

std::vector<PlanLayer> Timeline::PlanLayers(std::vector<std::shared_ptr<const LayerFile>>* layers) const {
  *layers = OwnLayers();
  std::vector<PlanLayer> out;
  for (const auto& l : *layers) {
    const LayerMeta& m = l->meta();
    out.push_back({m.start, m.lsns.redo, m.lsns.valid, l->complete(), m.created_at, l->file_size()});
  }
  return out;
}

Lsn Timeline::KnownEndOfWal() {
  std::lock_guard lock(wal_mu_);
  return wal_end_;
}

Lsn Timeline::gc_cutoff() const {
  std::lock_guard lock(cutoff_mu_);
  return gc_cutoff_;
}

Status Timeline::AdvanceGcCutoff(Lsn cutoff) {
  std::lock_guard lock(cutoff_mu_);
  if (cutoff <= gc_cutoff_) return Status::Ok();
  ZENITH_RETURN_IF_ERROR(WriteFileDurably(cutoff_path_, cutoff.ToString() + "\n"));
  gc_cutoff_ = cutoff;
  return Status::Ok();
}

std::optional<Lsn> Timeline::readable_from() const {
  std::lock_guard lock(cutoff_mu_);
  return readable_from_;
}

Status Timeline::SetReadableFrom(Lsn lsn) {
  std::lock_guard lock(cutoff_mu_);
  ZENITH_RETURN_IF_ERROR(WriteFileDurably(readable_from_path_, lsn.ToString() + "\n", 0644));
  readable_from_ = lsn;
  return Status::Ok();
}

}  // namespace zenith::pageserver
