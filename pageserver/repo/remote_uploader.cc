#include "pageserver/repo/remote_uploader.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <ctime>
#include <fcntl.h>

#include <nlohmann/json.hpp>

#include "common/file_util.h"
#include "pageserver/layers/layer_format.h"
#include "pageserver/layers/layer_writer.h"
#include "pageserver/metrics/remote_metrics.h"
#include "pageserver/repo/remote_layers.h"
#include "pageserver/s3/remote_repository.h"
#include "pageserver/s3/s3_client.h"

namespace zenith::pageserver {

namespace {

int Depth(const Timeline& tl) {
  int d = 0;
  for (auto a = tl.ancestor(); a; a = a->ancestor()) ++d;
  return d;
}

// The start of the oldest segment in `wal_dir`, if any.
std::optional<uint64_t> OldestSegment(const std::string& wal_dir) {
  std::optional<uint64_t> oldest;
  for (const auto& name : ListDirectory(wal_dir).value_or(std::vector<std::string>{})) {
    auto seg = ParseWalSegmentFileName(name);
    if (seg && seg->tli == kPgTimeLineId && (!oldest || seg->segno < *oldest)) oldest = seg->segno;
  }
  return oldest;
}

// Bytes [start, end) of the local segment holding them.
Result<std::string> ReadWal(const std::string& wal_dir, Lsn start, Lsn end) {
  const std::string path = wal_dir + "/" + WalSegmentFileName(kPgTimeLineId, start.segment_number());
  ZENITH_ASSIGN_OR_RETURN(UniqueFd fd, OpenFile(path, O_RDONLY));
  std::string bytes(end - start, '\0');
  ZENITH_ASSIGN_OR_RETURN(size_t got, PreadFull(fd.get(), {reinterpret_cast<uint8_t*>(bytes.data()), bytes.size()},
                                                start.segment_offset(), path));
  if (got != bytes.size()) return Corruption("\"" + path + "\" ends before " + end.ToString());
  return bytes;
}

}  // namespace

RemoteUploader::RemoteUploader(Repository& repo, s3::S3Url url, uint64_t generation,
                               std::unique_ptr<s3::ObjectStore> store)
    : repo_(repo),
      url_(std::move(url)),
      generation_(generation),
      store_(std::move(store)),
      hydrator_(repo_, url_, *store_, [this] { return !superseded_.load(); }) {}

void RemoteUploader::Stop() {
  hydrator_.Stop();
  thread_.Stop();
}

void RemoteUploader::Start(std::chrono::milliseconds period) {
  RegisterRemoteMetrics();
  hydrator_.Start();
  thread_.Start(period, "remote upload", [this, period] {
    const auto now = std::chrono::steady_clock::now();
    if (now < retry_at_) return;
    Status st = Pass();
    // While the bucket is away, each failed pass doubles the wait before
    // the next, up to kMaxBackoff: the backlog waits, the bucket is not
    // hammered.
    failed_passes_ = st.ok() ? 0 : std::min(failed_passes_ + 1, 16);
    retry_at_ = now;
    if (failed_passes_ > 0) {
      retry_at_ += std::min<std::chrono::steady_clock::duration>(period * (1 << std::min(failed_passes_ - 1, 10)),
                                                                 kMaxBackoff);
    }
    std::lock_guard lock(mu_);
    if (!st.ok() && st.message() != last_error_.message()) spdlog::warn("remote upload: {}", st.message());
    if (st.ok() && !last_error_.ok()) spdlog::info("remote upload works again");
    last_error_ = st;
  });
}

Status RemoteUploader::LastError() const {
  std::lock_guard lock(mu_);
  return last_error_;
}

// Keys ".../timelines/<id>/layers/<name>-<g>": any generation's copy serves.
Status RemoteUploader::LearnUploadedLayers() {
  const std::string prefix = url_.Key("timelines/");
  ZENITH_ASSIGN_OR_RETURN(auto objects, store_->ListAll(prefix));
  for (const auto& o : objects) {
    std::string_view rest = std::string_view(o.key).substr(prefix.size());
    const size_t slash = rest.find("/layers/");
    const size_t dash = rest.rfind('-');
    if (slash == std::string_view::npos || dash == std::string_view::npos || dash < slash) continue;
    uint64_t g = 0;
    auto [end, ec] = std::from_chars(rest.data() + dash + 1, rest.data() + rest.size(), g);
    if (ec != std::errc() || end != rest.data() + rest.size()) continue;
    const std::string key = std::string(rest.substr(0, slash)) + "/" + std::string(rest.substr(slash + 8, dash - slash - 8));
    if (g <= generation_) layer_generation_.emplace(key, g);
  }
  layers_listed_ = true;
  return Status::Ok();
}

Status RemoteUploader::Learn(const std::string& id, TimelineState& s) {
  ZENITH_ASSIGN_OR_RETURN(auto newest, s3::ReadNewestIndex(*store_, url_, id, generation_));
  if (newest) {
    s.wal_uploaded = newest->index.wal_uploaded;
    s.wal = newest->index.wal;
    if (newest->version.generation == generation_) {
      s.next_seq = newest->version.seq + 1;
      s.published = newest->index;
    }
  }
  s.learned = true;
  return Status::Ok();
}

Status RemoteUploader::UploadLayers(Timeline& tl, TimelineState& s) {
  const std::string id = tl.id().ToString();
  for (const auto& layer : tl.OwnLayers()) {
    const std::string name = BaseName(layer->path());
    if (layer_generation_.count(id + "/" + name) != 0) continue;
    if (layer->remote()) {
      // Its stub is all this disk has: never upload that in its place.
      return Corruption("layer " + id + "/" + name + " is in the bucket only, but the bucket does not list it");
    }
    const std::string key = s3::LayerKey(url_, id, name, generation_);
    s.unpublished.insert(key);
    Status st = store_->PutFile(key, layer->path());
    CountRemoteUpload(RemoteObject::kLayer, st.ok(), layer->file_size());
    if (!st.ok()) return st.WithContext("layer " + id + "/" + name);
    layer_generation_[id + "/" + name] = generation_;
    spdlog::debug("uploaded layer {}/{}", id, name);
  }
  return Status::Ok();
}

Status RemoteUploader::UploadPiece(Timeline& tl, TimelineState& s, Lsn start, Lsn end) {
  ZENITH_ASSIGN_OR_RETURN(std::string bytes, ReadWal(tl.wal_dir(), start, end));
  s3::IndexWalPiece piece{start.segment_number(), start, end, generation_};
  const std::string key = s3::WalPieceKey(url_, tl.id().ToString(), piece);
  s.unpublished.insert(key);
  ZENITH_RETURN_IF_ERROR(PutCounted(RemoteObject::kWal, key, bytes));
  s.wal.push_back(piece);
  s.wal_uploaded = end;
  return Status::Ok();
}

Status RemoteUploader::UploadWal(Timeline& tl, TimelineState& s) {
  ZENITH_ASSIGN_OR_RETURN(s.end_of_wal, tl.EndOfWal());
  const std::optional<uint64_t> oldest = OldestSegment(tl.wal_dir());
  if (!s.wal_uploaded.valid()) {
    // The first sight of this timeline: its own WAL starts at its oldest
    // segment; with none, what it reads so far is its ancestor's.
    s.wal_uploaded = oldest ? Lsn(*oldest * kWalSegmentSize) : s.end_of_wal;
  }
  ZENITH_RETURN_IF_ERROR(BackfillWal(tl, s, oldest).WithContext("WAL of timeline " + tl.id().ToString()));
  while (s.wal_uploaded < s.end_of_wal) {
    Lsn start = s.wal_uploaded;
    // A segment's first piece starts where the segment does: PostgreSQL
    // reads a segment's first page (its long header) before any record in
    // it. A branch seen before it had WAL of its own gets here with its
    // branch point; the part before it is the ancestor's, copied into this
    // timeline's segment when it was prepared (Timeline::PrepareWal).
    if (s.wal.empty() || s.wal.back().segno != start.segment_number()) start = start.segment_start();
    const Lsn end = std::min(s.end_of_wal, start.segment_start() + kWalSegmentSize);
    ZENITH_RETURN_IF_ERROR(UploadPiece(tl, s, start, end).WithContext("WAL of timeline " + tl.id().ToString()));
  }
  return MergeCompleteSegments(tl, s, oldest);
}

// A timeline with no ancestor reads all its WAL from its own: when its
// local WAL starts below the bucket's (a detached branch, whose WAL from
// its image's redo point to its old branch point was its ancestor's), the
// segments below go up too, oldest first, before the index that names them.
Status RemoteUploader::BackfillWal(Timeline& tl, TimelineState& s, std::optional<uint64_t> oldest) {
  if (tl.ancestor() || !oldest) return Status::Ok();
  const Lsn bucket_start = s.wal.empty() ? s.wal_uploaded : s.wal.front().start;
  std::vector<s3::IndexWalPiece> below;
  for (Lsn start(*oldest * kWalSegmentSize); start < bucket_start;) {
    const Lsn end = std::min(bucket_start, start.segment_start() + kWalSegmentSize);
    ZENITH_ASSIGN_OR_RETURN(std::string bytes, ReadWal(tl.wal_dir(), start, end));
    s3::IndexWalPiece piece{start.segment_number(), start, end, generation_};
    const std::string key = s3::WalPieceKey(url_, tl.id().ToString(), piece);
    s.unpublished.insert(key);
    ZENITH_RETURN_IF_ERROR(PutCounted(RemoteObject::kWal, key, bytes));
    below.push_back(piece);
    start = end;
  }
  if (below.empty()) return Status::Ok();
  spdlog::info("timeline {}: uploaded its WAL from {} to {}, which it no longer reads from an ancestor",
               tl.id().ToString(), below.front().start.ToString(), bucket_start.ToString());
  s.wal.insert(s.wal.begin(), below.begin(), below.end());
  return Status::Ok();
}

// A segment of more than kMaxPiecesPerSegment pieces, the last of which
// ends it, goes up whole (from its first piece) and replaces them: the
// index names few objects per segment and an attach gets few. A segment
// filled in fewer passes keeps its pieces: under a heavy load the WAL goes
// up once, not nearly twice (TPC-B at 1,500 TPS writes about 500 MB of WAL
// a minute; it sent 827 MB when every complete segment went up again, 517
// MB since). Pieces of segments older than the oldest on local disk are
// dropped (GC let that WAL go).
Status RemoteUploader::MergeCompleteSegments(Timeline& tl, TimelineState& s, std::optional<uint64_t> oldest) {
  if (oldest) {
    std::erase_if(s.wal, [&](const s3::IndexWalPiece& p) { return p.segno < *oldest; });
  }
  for (size_t i = 0; i < s.wal.size();) {
    size_t j = i;
    while (j + 1 < s.wal.size() && s.wal[j + 1].segno == s.wal[i].segno) ++j;
    const Lsn seg_end = Lsn((s.wal[i].segno + 1) * kWalSegmentSize);
    if (j - i + 1 > kMaxPiecesPerSegment && s.wal[j].end == seg_end) {
      ZENITH_ASSIGN_OR_RETURN(std::string bytes, ReadWal(tl.wal_dir(), s.wal[i].start, seg_end));
      s3::IndexWalPiece whole{s.wal[i].segno, s.wal[i].start, seg_end, generation_};
      const std::string key = s3::WalPieceKey(url_, tl.id().ToString(), whole);
      s.unpublished.insert(key);
      ZENITH_RETURN_IF_ERROR(PutCounted(RemoteObject::kWal, key, bytes));
      s.wal.erase(s.wal.begin() + static_cast<ptrdiff_t>(i) + 1, s.wal.begin() + static_cast<ptrdiff_t>(j) + 1);
      s.wal[i] = whole;
    }
    ++i;
  }
  return Status::Ok();
}

s3::TimelineIndex RemoteUploader::BuildIndex(Timeline& tl, const TimelineState& s) const {
  s3::TimelineIndex index;
  index.timeline = tl.id().ToString();
  if (tl.ancestor()) {
    index.ancestor = tl.ancestor()->id().ToString();
    index.ancestor_lsn = tl.ancestor_lsn();
  }
  index.gc_cutoff = tl.gc_cutoff();
  index.readable_from = tl.readable_from();
  index.wal_uploaded = s.wal_uploaded;
  index.wal = s.wal;
  for (const auto& layer : tl.OwnLayers()) {
    const std::string name = BaseName(layer->path());
    const LayerMeta& m = layer->meta();
    index.layers.push_back({name, layer_generation_.at(index.timeline + "/" + name), layer->file_size(), m.start,
                            m.lsns.redo, m.lsns.checkpoint, m.lsns.valid, m.image});
  }
  return index;
}

void RemoteUploader::CountBacklog(Timeline& tl, TimelineState& s) const {
  s.backlog_layers = s.backlog_bytes = 0;
  s.oldest_behind = Lsn();
  const std::string id = tl.id().ToString();
  for (const auto& layer : tl.OwnLayers()) {
    if (layer_generation_.count(id + "/" + BaseName(layer->path())) != 0) continue;
    ++s.backlog_layers;
    s.backlog_bytes += layer->file_size();
    if (!s.oldest_behind.valid() || layer->meta().start < s.oldest_behind) s.oldest_behind = layer->meta().start;
  }
  if (s.wal_uploaded.valid() && s.wal_uploaded < s.end_of_wal) {
    s.backlog_bytes += s.end_of_wal - s.wal_uploaded;
    if (!s.oldest_behind.valid() || s.wal_uploaded < s.oldest_behind) s.oldest_behind = s.wal_uploaded;
  }
}

Status RemoteUploader::CheckOwner() {
  if (superseded_) return Busy("superseded: generation " + std::to_string(generation_ + 1) + " exists");
  if (owner_checked_) return Status::Ok();
  auto next = store_->Head(s3::GenerationKey(url_, generation_ + 1));
  if (next.ok()) {
    superseded_ = true;
    spdlog::error("superseded: the repository was attached elsewhere as generation {}; this page server no longer "
                  "publishes to {}",
                  generation_ + 1, url_.ToString());
    return CheckOwner();
  }
  if (next.status().code() != StatusCode::kNotFound) return next.status().WithContext("the owner check");
  owner_checked_ = true;
  return Status::Ok();
}

Status RemoteUploader::SyncTimeline(Timeline& tl, TimelineState& s) {
  const std::string id = tl.id().ToString();
  if (!s.learned) ZENITH_RETURN_IF_ERROR(Learn(id, s));
  ZENITH_RETURN_IF_ERROR(UploadLayers(tl, s));
  ZENITH_RETURN_IF_ERROR(UploadWal(tl, s));
  s3::TimelineIndex index = BuildIndex(tl, s);
  if (!s.published || !(*s.published == index)) {
    ZENITH_RETURN_IF_ERROR(CheckOwner());
    ZENITH_RETURN_IF_ERROR(PutCounted(RemoteObject::kIndex, s3::IndexKey(url_, id, generation_, s.next_seq), index.ToJson())
                               .WithContext("the index of timeline " + id));
    spdlog::debug("published index {} of timeline {} (WAL to {})", s.next_seq, id, index.wal_uploaded.ToString());
    std::optional<s3::TimelineIndex> previous = std::move(s.published);
    s.published = std::move(index);
    ++s.next_seq;
    ZENITH_RETURN_IF_ERROR(DeleteReplaced(id, s, previous, s.next_seq - 1));
  }
  if (!s.swept) ZENITH_RETURN_IF_ERROR(SweepTimeline(id, s));
  return Status::Ok();
}

Status RemoteUploader::DeleteKeys(const std::vector<std::string>& keys, const std::string& what) {
  if (keys.empty()) return Status::Ok();
  owner_checked_ = false;  // asked again right before every deletion
  ZENITH_RETURN_IF_ERROR(CheckOwner());
  Status st = store_->DeleteMany(keys);
  CountRemoteDeletes(st.ok() ? keys.size() : 0);
  if (!st.ok()) return st.WithContext("deleting " + what);
  spdlog::debug("deleted {} objects: {}", keys.size(), what);
  return Status::Ok();
}

Status RemoteUploader::DeleteReplaced(const std::string& id, TimelineState& s,
                                      const std::optional<s3::TimelineIndex>& previous, uint64_t seq) {
  const std::set<std::string> kept = s3::NamedKeys(url_, *s.published);
  std::set<std::string> candidates = std::move(s.unpublished);
  s.unpublished.clear();
  if (previous) candidates.merge(s3::NamedKeys(url_, *previous));
  // The older index goes first, then what it alone named: a crash
  // between the two leaks objects no index names (the next start's sweep
  // finds them), never leaves an index naming a missing one.
  // (Those of a crashed pass and of older generations go at the sweep.)
  if (seq >= 2) {
    ZENITH_RETURN_IF_ERROR(DeleteKeys({s3::IndexKey(url_, id, generation_, seq - 1)}, "timeline " + id + "'s older index"));
  }
  std::vector<std::string> keys;
  for (const auto& key : candidates) {
    if (kept.count(key) == 0) keys.push_back(key);
  }
  return DeleteKeys(keys, "what timeline " + id + "'s index no longer names");
}

Status RemoteUploader::SweepTimeline(const std::string& id, TimelineState& s) {
  if (!s.published) return Status::Ok();
  const uint64_t seq = s.next_seq - 1;
  std::set<std::string> kept = s3::NamedKeys(url_, *s.published);
  kept.insert(s3::IndexKey(url_, id, generation_, seq));
  ZENITH_ASSIGN_OR_RETURN(auto objects, store_->ListAll(s3::TimelinePrefix(url_, id)));
  std::vector<std::string> keys;
  for (const auto& o : objects) {
    auto g = s3::KeyGeneration(o.key);
    // A newer generation's object is never ours to delete.
    if (g && *g <= generation_ && kept.count(o.key) == 0) keys.push_back(o.key);
  }
  ZENITH_RETURN_IF_ERROR(DeleteKeys(keys, "what no index of timeline " + id + " names"));
  s.swept = true;
  return Status::Ok();
}

Status RemoteUploader::DeleteGoneTimelines(const std::set<std::string>& live) {
  std::vector<std::string> gone;
  if (!timelines_swept_) {
    ZENITH_ASSIGN_OR_RETURN(gone, s3::ListRemoteTimelines(*store_, url_));
  } else {
    gone.assign(known_live_.begin(), known_live_.end());
  }
  std::erase_if(gone, [&](const std::string& id) { return live.count(id) != 0; });
  for (const auto& id : gone) {
    ZENITH_ASSIGN_OR_RETURN(auto objects, store_->ListAll(s3::TimelinePrefix(url_, id)));
    std::vector<std::string> keys;
    for (const auto& o : objects) {
      auto g = s3::KeyGeneration(o.key);
      if (g && *g <= generation_) keys.push_back(o.key);
    }
    ZENITH_RETURN_IF_ERROR(DeleteKeys(keys, "timeline " + id + ", which no branch reaches"));
    timelines_.erase(id);
  }
  timelines_swept_ = true;
  known_live_ = live;
  return Status::Ok();
}

Status RemoteUploader::SyncRefs() {
  if (!refs_learned_) {
    ZENITH_ASSIGN_OR_RETURN(auto newest, s3::ReadNewestRefs(*store_, url_, generation_));
    if (newest && newest->version.generation == generation_) {
      next_refs_seq_ = newest->version.seq + 1;
      published_refs_ = newest->refs;
    }
    refs_learned_ = true;
  }
  ZENITH_ASSIGN_OR_RETURN(auto branches, repo_.ListBranches());
  s3::Refs refs;
  for (const auto& b : branches) {
    // A branch is named once its timeline's index is in the bucket as it is
    // now: one made (or a prepared one published) after this pass synced
    // the timelines waits for the next pass.
    auto state = timelines_.find(b.timeline.ToString());
    if (state == timelines_.end() || !state->second.published) continue;
    auto tl = repo_.FindTimeline(b.timeline.ToString());
    if (!tl.ok() || (*tl)->readable_from() != state->second.published->readable_from) continue;
    refs.branches[b.name] = b.timeline.ToString();
  }
  if (published_refs_ && *published_refs_ == refs) return Status::Ok();
  ZENITH_RETURN_IF_ERROR(CheckOwner());
  ZENITH_RETURN_IF_ERROR(
      PutCounted(RemoteObject::kRefs, s3::RefsKey(url_, generation_, next_refs_seq_), refs.ToJson()).WithContext("the refs"));
  ++next_refs_seq_;
  published_refs_ = std::move(refs);
  return Status::Ok();
}

Status RemoteUploader::PutCounted(RemoteObject what, const std::string& key, const std::string& bytes) {
  Status st = store_->Put(key, bytes);
  CountRemoteUpload(what, st.ok(), bytes.size());
  return st;
}

Status RemoteUploader::Pass() {
  const auto started = std::chrono::steady_clock::now();
  Status st = PassOverTimelines();
  CountRemotePass(st.ok(), std::chrono::steady_clock::now() - started);
  uint64_t objects = 0, bytes = 0;
  for (const auto& [id, s] : timelines_) {
    objects += s.backlog_layers;
    bytes += s.backlog_bytes;
  }
  SetRemoteBacklog(objects, bytes, superseded_);
  return st;
}

Status RemoteUploader::PassOverTimelines() {
  owner_checked_ = false;
  Status first;
  auto note = [&](Status st) {
    if (first.ok() && !st.ok()) first = std::move(st);
  };
  auto timelines = repo_.AllTimelines();
  if (!timelines.ok()) {
    WriteStatusFile(timelines.status());
    return timelines.status();
  }
  auto live = std::move(timelines->live);
  std::stable_sort(live.begin(), live.end(), [](const auto& a, const auto& b) { return Depth(*a) < Depth(*b); });
  if (!layers_listed_) note(LearnUploadedLayers());
  for (const auto& tl : live) {
    TimelineState& s = timelines_[tl->id().ToString()];
    // A timeline not published leaves the later ones (its descendants) unpublished too: the
    // index of a branch never names an ancestor the bucket does not hold.
    if (first.ok()) note(SyncTimeline(*tl, s));
    CountBacklog(*tl, s);
  }
  if (first.ok()) note(SyncRefs());
  std::set<std::string> ids;
  for (const auto& tl : live) ids.insert(tl->id().ToString());
  if (first.ok()) note(DeleteGoneTimelines(ids));
  if (first.ok() && !superseded_) note(EnforceCacheBound(live));
  WriteStatusFile(first);
  return first;
}

std::vector<RemoteUploader::CacheEntry> RemoteUploader::EvictionCandidates(
    const std::vector<std::shared_ptr<Timeline>>& live, uint64_t* local_bytes) const {
  std::vector<CacheEntry> out;
  *local_bytes = 0;
  for (const auto& tl : live) {
    const std::string id = tl->id().ToString();
    auto state = timelines_.find(id);
    const bool published = state != timelines_.end() && state->second.published.has_value();
    for (const auto& layer : tl->OwnLayers()) {
      if (layer->remote()) continue;
      *local_bytes += layer->file_size();
      const std::string name = BaseName(layer->path());
      // Only a layer the published index names: its object is the
      // bucket's for good (an unpublished one may still be swept).
      if (!published || layer->version() != layer_format::kVersion) continue;
      const auto& named = state->second.published->layers;
      auto it = std::find_if(named.begin(), named.end(), [&](const s3::IndexLayer& l) { return l.name == name; });
      if (it == named.end() || it->size != layer->file_size()) continue;
      out.push_back({tl, layer, RemoteLayerStub{it->generation, it->size}});
    }
  }
  std::sort(out.begin(), out.end(),
            [](const CacheEntry& a, const CacheEntry& b) { return a.layer->last_read() < b.layer->last_read(); });
  return out;
}

Status RemoteUploader::EnforceCacheBound(const std::vector<std::shared_ptr<Timeline>>& live) {
  const uint64_t bound = repo_.config().remote.cache_size;
  uint64_t local = 0;
  std::vector<CacheEntry> candidates = EvictionCandidates(live, &local);
  for (const CacheEntry& c : candidates) {
    if (bound == 0 || local <= bound) break;
    ZENITH_RETURN_IF_ERROR(Evict(c));
    local -= c.layer->file_size();
  }
  cache_local_bytes_ = local;
  SetRemoteCacheBytes(local);
  return Status::Ok();
}

Status RemoteUploader::Evict(const CacheEntry& c) {
  RemoteLayers* remote = repo_.remote_layers();
  if (remote == nullptr) return Internal("a repository with a remote has no remote layers");
  const std::string id = c.timeline->id().ToString(), name = BaseName(c.layer->path());
  // The object must read back as this very layer before the file goes.
  ZENITH_ASSIGN_OR_RETURN(auto read, remote->Open(c.layer->path(), c.timeline->id(), name, c.stub));
  if (read->lsns() != c.layer->lsns() || read->page_count() != c.layer->page_count() ||
      read->relation_count() != c.layer->relation_count() || read->timeline_id() != c.layer->timeline_id()) {
    return Corruption("the bucket's copy of layer " + id + "/" + name + " is not the layer on this disk");
  }
  Status st = c.timeline->EvictLayer(c.layer, std::move(read), c.stub);
  if (st.code() == StatusCode::kBusy) return Status::Ok();  // compaction or GC took it first
  ZENITH_RETURN_IF_ERROR(st.WithContext("evicting layer " + id + "/" + name));
  ++evicted_;
  CountRemoteEviction(c.layer->file_size());
  spdlog::info("evicted layer {}/{} ({} bytes): past the cache size, it is read from the bucket from now on", id, name,
               c.layer->file_size());
  return Status::Ok();
}

void RemoteUploader::WriteStatusFile(const Status& pass) {
  nlohmann::json j = {{"remote", url_.ToString()},
                      {"generation", generation_},
                      {"superseded", superseded_.load()},
                      {"last_error", pass.ok() ? "" : pass.message()},
                      {"time", static_cast<int64_t>(std::time(nullptr))},
                      {"cache", {{"local_bytes", cache_local_bytes_},
                                 {"bound", repo_.config().remote.cache_size},
                                 {"evicted", evicted_},
                                 {"hydrated", hydrator_.hydrated()}}},
                      {"timelines", nlohmann::json::object()}};
  for (const auto& [id, s] : timelines_) {
    j["timelines"][id] = {{"wal_uploaded", s.wal_uploaded.ToString()},
                          {"end_of_wal", s.end_of_wal.ToString()},
                          {"index_seq", s.next_seq - 1},
                          {"backlog_layers", s.backlog_layers},
                          {"backlog_bytes", s.backlog_bytes},
                          {"oldest_behind", s.oldest_behind.valid() ? s.oldest_behind.ToString() : ""}};
  }
  Status st = WriteFileDurably(repo_.layout().remote_status_file(), j.dump(2) + "\n", 0644);
  if (!st.ok()) spdlog::warn("could not write the remote status: {}", st.message());
}

Result<std::unique_ptr<RemoteUploader>> MakeRemoteUploader(Repository& repo) {
  const RemoteConfig& remote = repo.config().remote;
  if (remote.url.empty()) return std::unique_ptr<RemoteUploader>();
  auto url = s3::ParseS3Url(remote.url);
  if (!url.ok()) return url.status().WithContext("the repository's remote");
  auto settings = s3::LoadS3Settings(s3::ProcessEnvironment(), remote.endpoint, remote.region);
  if (!settings.ok()) return settings.status().WithContext("the repository's remote " + remote.url);
  const RepoLayout& layout = repo.layout();
  auto text = ReadFileToString(layout.generation_file());
  if (!text.ok()) return text.status().WithContext("the repository's generation");
  uint64_t generation = 0;
  auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), generation);
  if (ec != std::errc() || generation == 0) {
    return Corruption("\"" + layout.generation_file() + "\" does not hold a generation number");
  }
  auto store = std::make_unique<s3::S3Client>(std::move(settings).value(), url->bucket);
  return std::make_unique<RemoteUploader>(repo, std::move(url).value(), generation, std::move(store));
}

}  // namespace zenith::pageserver
