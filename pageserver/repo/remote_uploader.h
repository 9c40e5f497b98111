// RemoteUploader: keeps the repository's remote (docs/design.md §12) up to
// date. One pass every wal_upload_interval: per timeline a branch reaches
// (ancestors first), its layers not yet in the bucket (each under the
// immutable key .../layers/<name>-<generation>, multipart when large), its
// WAL from the last uploaded LSN to the end of WAL (one piece per segment
// touched; a segment's pieces become one object once it is complete), then
// a new index naming them, if anything changed; after every timeline's
// index, the refs if the branches changed. An index or refs object is
// published only after everything it names is in the bucket, and only while
// generations/<g+1> does not exist (checked once per pass): once it does,
// this page server is superseded and publishes nothing more.
//
// What the bucket holds is learned at the first pass: the layer keys by
// listing, the WAL position and sequence numbers from the newest index and
// refs of a generation not above ours. Nothing is persisted locally but the
// status file (.zenith/remote-status.json), written after each pass.
//
// Thread-safety: Start and Stop from the owner's thread; passes run on a
// thread of their own (or the caller's, for Pass() in tests, never both).
// LastError and superseded() may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "common/periodic_thread.h"
#include "common/status.h"
#include "pageserver/metrics/remote_metrics.h"
#include "pageserver/repo/layer_hydrator.h"
#include "pageserver/repo/remote_layers.h"
#include "pageserver/repo/repository.h"
#include "pageserver/s3/object_store.h"
#include "pageserver/s3/s3_settings.h"
#include "pageserver/s3/timeline_index.h"

namespace zenith::pageserver {

class RemoteUploader {
 public:
  // `store` is the bucket of `url`; `generation` this page server's claim.
  RemoteUploader(Repository& repo, s3::S3Url url, uint64_t generation, std::unique_ptr<s3::ObjectStore> store);
  ~RemoteUploader() { Stop(); }
  RemoteUploader(const RemoteUploader&) = delete;
  RemoteUploader& operator=(const RemoteUploader&) = delete;

  // Passes every `period`; after a failed pass the wait before the next
  // doubles each time, up to kMaxBackoff, and is back to `period` after a
  // pass that succeeds.
  void Start(std::chrono::milliseconds period);
  void Stop();

  // One pass. A timeline whose upload fails is skipped to the next pass
  // (others go on); the refs wait for every timeline. Returns the first
  // error, or kBusy once superseded; OK when all is up.
  Status Pass();
  Status LastError() const;
  bool superseded() const { return superseded_.load(); }

 private:
  struct TimelineState {
    bool learned = false;
    uint64_t next_seq = 1;
    std::optional<s3::TimelineIndex> published;
    Lsn wal_uploaded;  // invalid until learned or first seen
    std::vector<s3::IndexWalPiece> wal;
    Lsn end_of_wal;
    uint64_t backlog_layers = 0, backlog_bytes = 0;
    Lsn oldest_behind;  // invalid when nothing is behind
    bool swept = false;  // its prefix was cleared of what no index names
    // Keys put since the last index: those it does not name (a layer
    // compaction replaced before it was published) are deleted after it.
    std::set<std::string> unpublished;
  };

  Status LearnUploadedLayers();
  Status Learn(const std::string& id, TimelineState& s);
  Status SyncTimeline(Timeline& tl, TimelineState& s);
  Status UploadLayers(Timeline& tl, TimelineState& s);
  Status UploadWal(Timeline& tl, TimelineState& s);
  // `oldest`: the oldest local segment, listed once per pass.
  Status BackfillWal(Timeline& tl, TimelineState& s, std::optional<uint64_t> oldest);
  Status UploadPiece(Timeline& tl, TimelineState& s, Lsn start, Lsn end);
  Status MergeCompleteSegments(Timeline& tl, TimelineState& s, std::optional<uint64_t> oldest);
  s3::TimelineIndex BuildIndex(Timeline& tl, const TimelineState& s) const;
  void CountBacklog(Timeline& tl, TimelineState& s) const;
  // OK while generations/<g+1> does not exist (asked once per pass).
  Status CheckOwner();
  // Deletion (docs/design.md §12): only after an index not naming the
  // objects is in the bucket, and right after a fresh owner check.
  Status DeleteKeys(const std::vector<std::string>& keys, const std::string& what);
  // What `previous` (if any) named, or was put since it, that `current`
  // (published as seq) does not name, and the index before the previous one.
  Status DeleteReplaced(const std::string& id, TimelineState& s, const std::optional<s3::TimelineIndex>& previous,
                        uint64_t seq);
  // Once per timeline after a start: every object of ours or older under
  // its prefix that its published index does not name.
  Status SweepTimeline(const std::string& id, TimelineState& s);
  // Every object of the timelines no branch reaches any more (after the
  // refs without them are published); at the first pass, of every such
  // timeline in the bucket.
  Status DeleteGoneTimelines(const std::set<std::string>& live);
  // The pass itself; Pass() adds its figures to the metrics.
  Status PassOverTimelines();
  // store_->Put, counted in the metrics (remote_metrics.h).
  Status PutCounted(RemoteObject what, const std::string& key, const std::string& bytes);
  Status SyncRefs();
  void WriteStatusFile(const Status& pass);
  // The local disk as a cache (remote_layers.h): past the config's
  // cache_size, the least recently read local layers that a published index
  // names go back to the bucket, oldest first. After a pass that published
  // everything, and never once superseded (the new owner may delete what a
  // stub would name).
  struct CacheEntry {
    std::shared_ptr<Timeline> timeline;
    std::shared_ptr<const LayerFile> layer;
    RemoteLayerStub stub;
  };
  std::vector<CacheEntry> EvictionCandidates(const std::vector<std::shared_ptr<Timeline>>& live,
                                             uint64_t* local_bytes) const;
  Status EnforceCacheBound(const std::vector<std::shared_ptr<Timeline>>& live);
  Status Evict(const CacheEntry& c);

  Repository& repo_;
  const s3::S3Url url_;
  const uint64_t generation_;
  std::unique_ptr<s3::ObjectStore> store_;
  // Only the pass touches these.
  bool layers_listed_ = false;
  std::map<std::string, uint64_t> layer_generation_;  // "<timeline>/<name>" -> its key's generation
  std::map<std::string, TimelineState> timelines_;
  bool owner_checked_ = false;
  bool refs_learned_ = false;
  uint64_t next_refs_seq_ = 1;
  std::optional<s3::Refs> published_refs_;
  bool timelines_swept_ = false;
  std::set<std::string> known_live_;  // the timelines of the last pass
  std::atomic<bool> superseded_{false};
  uint64_t cache_local_bytes_ = 0;  // layer bytes on this disk after the last pass
  uint64_t evicted_ = 0;            // layers evicted since the start
  // A complete segment of more pieces than this goes up again whole, in
  // their place: a segment that filled slowly, whose WAL is little.
  static constexpr size_t kMaxPiecesPerSegment = 8;
  // Back-off after failed passes (the thread's only).
  static constexpr std::chrono::seconds kMaxBackoff{30};
  int failed_passes_ = 0;
  std::chrono::steady_clock::time_point retry_at_{};
  mutable std::mutex mu_;
  Status last_error_;  // GUARDED_BY(mu_)
  LayerHydrator hydrator_;  // remote layers read often come back whole
  PeriodicThread thread_;
};

// The uploader of a repository with a remote, or nullptr without one. Reads
// the keys from the environment (s3_settings.h) and the generation from
// .zenith/generation; an error says what is missing.
Result<std::unique_ptr<RemoteUploader>> MakeRemoteUploader(Repository& repo);

}  // namespace zenith::pageserver
