// Timeline: one line of history in a repository: its WAL directory, its
// snapshot layers, and (for a branch) its ancestor timeline and the LSN it
// was forked at (docs/design.md §3, §5, §7).
//
// On disk: timelines/<id>/metadata (JSON, written once at creation),
// wal/ (segments PostgreSQL appends; the truth), layers/ (immutable files
// added atomically by LayerWriter), gc_cutoff (the oldest LSN garbage
// collection still keeps history for; absent until the first collection),
// readable_from (a prepared branch's first readable point; absent for others).
//
// The layers of a timeline cover consecutive ranges (start, valid]: each
// snapshot starts where the one below it ends. Compaction replaces a run of
// them with one merged layer covering their union, or one of them with an
// image of the same range (history.h); the replacement is durable before
// the replaced files are removed. A crash in between leaves both: Load
// keeps the layer whose range contains the other's (an image over a delta
// of the same range) and removes the rest, after making sure the one kept
// is durable. A temp layer left by a crash is removed at load too.
//
// Thread-safety: all methods are thread-safe. mu_ guards layers_;
// wal_mu_ guards wal_end_; cutoff_mu_ guards gc_cutoff_ and readable_from_. Lock order: a
// timeline's locks are never held while calling into its ancestor, except
// for reads of immutable fields.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "common/lsn.h"
#include "common/status.h"
#include "common/wal_reader.h"
#include "pageserver/api/repo_layout.h"
#include "pageserver/api/timeline_id.h"
#include "pageserver/layers/layer_file.h"
#include "pageserver/layers/layer_writer.h"
#include "pageserver/layers/snapshot_view.h"
#include "pageserver/repo/history_plan.h"

namespace zenith::pageserver {

struct TimelineMetadata {
  TimelineId id;
  std::optional<TimelineId> ancestor;
  Lsn ancestor_lsn;  // valid only with an ancestor

  std::string ToJson() const;
  static Result<TimelineMetadata> FromJson(const std::string& text);
};

class RemoteLayers;
struct RemoteLayerStub;

class Timeline {
 public:
  // Opens every layer in layers/ (validating each; a remote layer's stub
  // through `remote`, remote_layers.h) and removes temp files (in layers/,
  // wal/ and the timeline's directory) and replaced layers a crash left
  // there. `ancestor` must be loaded already (or null); `remote` (or null)
  // must outlive the timeline.
  static Result<std::shared_ptr<Timeline>> Load(const RepoLayout& layout, const TimelineMetadata& meta,
                                                std::shared_ptr<Timeline> ancestor, uint64_t system_id,
                                                RemoteLayers* remote = nullptr);

  const TimelineId& id() const { return meta_.id; }
  const std::shared_ptr<Timeline>& ancestor() const { return ancestor_; }
  Lsn ancestor_lsn() const { return meta_.ancestor_lsn; }
  const std::string& wal_dir() const { return wal_dir_; }
  const std::string& layers_dir() const { return layers_dir_; }

  // This timeline's own layers, oldest first.
  std::vector<std::shared_ptr<const LayerFile>> OwnLayers() const;
  // The layers visible at lsn along the chain (see snapshot_view.h), down
  // to the first complete one: nothing below it can change a read.
  std::shared_ptr<const SnapshotView> ViewAt(Lsn lsn) const;

  // End of WAL: the end of the last complete, valid record, reading this
  // timeline's WAL (its ancestor's before the branch point). Incremental:
  // each call reads only what was appended since the last one.
  Result<Lsn> EndOfWal();
  // Returns once EndOfWal() >= lsn; Timeout after `timeout`. Woken by
  // writes to wal/ (inotify), not by polling.
  Status WaitForWal(Lsn lsn, std::chrono::milliseconds timeout);
  // A reader of this timeline's WAL as a compute on it sees it.
  WalReadFn MakeWalReader() const;
  // The end of the last record ending at or before x (x itself if x is one);
  // InvalidArgument if x is past the end of WAL or before the oldest
  // snapshot visible here.
  Result<Lsn> RoundDownToRecordEnd(Lsn x);

  // The valid of the oldest snapshot visible along the chain, if any.
  std::optional<Lsn> OldestSnapshot() const;

  // Where a recovery to `time` (PostgreSQL's TimestampTz) stops, as
  // recovery_target_time does: the end of the last commit record before the
  // first commit later than `time`, reading the WAL from the oldest
  // snapshot visible here. NotFound, naming the first commit's time, if no
  // commit that old is left. Reads WAL: its cost grows with the history
  // kept.
  Result<Lsn> LastCommitAtOrBefore(int64_t time);

  // Makes wal/ hold every segment from `from` up to the branch point
  // (docs/design.md §8, step 4): a missing segment is copied from
  // the ancestor chain, the branch point's segment zeroed after it.
  // Segments already present are left alone. The only copying a branch
  // ever causes; bounded by the WAL since the snapshot. On an error (the
  // ancestor's WAL missing, a failed write) the segments this call copied
  // are removed again and the error names the timeline and the file.
  Status PrepareWal(Lsn from);

  // Makes a layer built by `writer` (created in layers_dir()) durable and
  // visible. Validated first, so a rejected layer never reaches the disk:
  // InvalidArgument unless redo <= checkpoint <= valid <= end of WAL and
  // valid is newer than every layer of this timeline. Commits of one
  // timeline are serialised.
  // Its start is the valid of the newest layer (the branch point, or 0,
  // for the first one), its time now.
  Result<std::shared_ptr<const LayerFile>> CommitLayer(LayerWriter& writer, const SnapshotLsns& lsns);

  // Puts `replacement` in place of `run` (consecutive own layers, oldest
  // first, whose union of ranges is the replacement's) in memory. kBusy if
  // the layers changed meanwhile (nothing is changed then). REQUIRES: the
  // replacement is durable. The caller removes the files of `run` after.
  Status ReplaceLayers(const std::vector<std::shared_ptr<const LayerFile>>& run,
                       std::shared_ptr<const LayerFile> replacement);
  // The local disk as a cache (remote_layers.h): puts `remote` (the same
  // layer, read from the bucket) in place of `local` (one of its own local
  // layers, named by a published index), and writes `stub` over local's
  // file, both under the layers' lock. Readers holding a view keep what
  // they map until they drop it. kBusy if `local` is not one of its layers
  // any more (compaction or GC took it meanwhile); nothing changes then.
  Status EvictLayer(const std::shared_ptr<const LayerFile>& local, std::shared_ptr<const LayerFile> remote,
                    const RemoteLayerStub& stub);
  // The other way (layer_hydrator.h): renames `file` (the layer `remote`
  // stands for, downloaded whole and checked) over remote's stub and puts
  // the local layer in its place, under the layers' lock. kBusy if
  // `remote` is not one of its layers any more; nothing changes then. If
  // the renamed file does not open, `stub` is written back.
  Status HydrateLayer(const std::shared_ptr<const LayerFile>& remote, const std::string& file,
                      const RemoteLayerStub& stub);
  // Drops `victims` (own layers, never the newest) from memory; the caller
  // removes their files. Readers holding a view keep what they map.
  void ForgetLayers(const std::vector<std::shared_ptr<const LayerFile>>& victims);

  // The planner's view of this timeline's own layers (history_plan.h),
  // oldest first, with `layers` filled with the same layers in the same
  // order (what a plan's indexes refer to).
  std::vector<PlanLayer> PlanLayers(std::vector<std::shared_ptr<const LayerFile>>* layers) const;
  // The end of WAL found by the last EndOfWal() (no I/O); Invalid before.
  Lsn KnownEndOfWal();

  // The oldest LSN history is kept for since the last garbage collection
  // (Lsn(0) before any). AdvanceGcCutoff makes a later one durable first.
  Lsn gc_cutoff() const;
  Status AdvanceGcCutoff(Lsn cutoff);

  // A prepared branch's first readable point (Repository::PublishBranch):
  // no point of this timeline before it may be read, mounted, exported or
  // branched from; nullopt for every other timeline. Kept in the file
  // RepoLayout::readable_from names, written durably once.
  std::optional<Lsn> readable_from() const;
  Status SetReadableFrom(Lsn lsn);

 private:
  Timeline(const RepoLayout& layout, TimelineMetadata meta, std::shared_ptr<Timeline> ancestor, uint64_t system_id);
  // Temp files in layers/, wal/ and the timeline's directory that a crash
  // or a failed write left (none of this process's live ones).
  Status RemoveStaleTempFiles() const;
  Status LoadLayers(RemoteLayers* remote);
  // Returns true once a complete layer was collected.
  bool CollectVisible(Lsn lsn, std::vector<std::shared_ptr<const LayerFile>>* out) const;
  Lsn InitialWalBoundary() const;
  Result<std::string> ReadAncestorSegment(uint64_t segno) const;
  // PrepareWal's copies; appends the path of each segment it wrote.
  Status CopyAncestorSegments(Lsn from, std::vector<std::string>* copied);

  const TimelineMetadata meta_;
  const std::shared_ptr<Timeline> ancestor_;
  const uint64_t system_id_;
  const std::string wal_dir_, layers_dir_, cutoff_path_, readable_from_path_;
  const WalReadFn own_wal_;

  std::mutex commit_mu_;  // serialises CommitLayer; taken before mu_
  mutable std::shared_mutex mu_;
  std::vector<std::shared_ptr<const LayerFile>> layers_;  // guarded by mu_; oldest first

  std::mutex wal_mu_;
  Lsn wal_end_;  // guarded by wal_mu_; a record boundary

  mutable std::mutex cutoff_mu_;
  Lsn gc_cutoff_{0};  // guarded by cutoff_mu_
  std::optional<Lsn> readable_from_;  // guarded by cutoff_mu_
};

}  // namespace zenith::pageserver
