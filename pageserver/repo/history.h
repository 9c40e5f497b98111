// History: compaction and garbage collection of a repository's layers and
// WAL, in the background and on demand (`zenith gc`). history_plan.h
// decides what to do; this carries it out.
//
// Crash safety. Nothing is rewritten in place. Compaction writes a merged
// layer or an image (durable, by rename) before it puts it in place of its
// inputs and removes their files; a crash in between leaves both, and
// Timeline::Load keeps the replacement. GC makes each timeline's new
// cutoff durable before it removes anything, and removes only files no
// point needs: a crash in the middle leaves some of them, which the next
// collection removes. A timeline no branch reaches is renamed out of the
// way (timelines/.deleted-<id>) before its tree is removed.
//
// Liveness. The repository's points lock (repository.h) is held while a
// plan is made, while a merged layer is swapped in and while a collection
// is decided; never while a layer is written or files are removed. GetPage,
// basebackup and snapshot uploads never wait for it. Runs (background or
// on demand) are serialised by run_mu_.
//
// Problems. A step that fails (a merged layer that cannot be written, a
// file that cannot be removed) is skipped and the run goes on: the next run
// tries again. Each run's outcome is kept (Health) so that `zenith
// pageserver status` and `zenith status` can say when the background work
// keeps failing (a full disk, wrong permissions), not only the log.
//
// Mount pins live in the page server's memory: after a restart, a mount
// takes its pin again within a second (its lease keepalive). Nothing runs
// before the startup grace has passed.
//
// Thread-safety: all methods are thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "pageserver/repo/history_plan.h"
#include "pageserver/repo/repository.h"

namespace zenith::pageserver {

struct HistoryOptions {
  RetentionPolicy retention;
  CompactionPolicy compaction;
  std::chrono::seconds compaction_period{10};  // 0: no background compaction
  std::chrono::seconds gc_period{600};         // 0: no background GC
  std::chrono::seconds startup_grace{5};
  // Tests only: sleep this long at each step of compaction and GC, so a
  // test can kill the page server in the middle (pageserver/server_main.h's
  // seam, set by a test program).
  std::chrono::milliseconds test_pause{0};
};

// The options a repository's config asks for.
HistoryOptions HistoryOptionsFor(const HistoryConfig& config);

struct CompactionCounts {
  uint64_t merges = 0, layers_merged = 0;  // merged layers written, and the layers they replaced
  uint64_t images = 0;
  uint64_t bytes_written = 0, bytes_removed = 0;
  void Add(const CompactionCounts& o);
};

struct CompactionReport {
  CompactionCounts total;
  std::map<TimelineId, CompactionCounts> by_timeline;
};

struct TimelineGcReport {
  TimelineId timeline;
  std::string branch;  // "" for a timeline only others' branches reach
  Lsn cutoff;          // history is kept from here
  bool deleted = false;  // no branch reached it: removed whole
  CompactionCounts compaction;
  uint64_t layers_removed = 0, layer_bytes_removed = 0, wal_removed = 0, wal_bytes_removed = 0;
  uint64_t layers_left = 0, layer_bytes_left = 0, wal_left = 0, wal_bytes_left = 0;
};

struct GcReport {
  std::vector<TimelineGcReport> timelines;
};

// How the latest runs of compaction or of GC ended (background or asked
// for; a run cancelled by a stopping server is not counted).
struct HistoryRunHealth {
  int64_t last_run = 0;       // unix seconds when the latest run ended; 0: none yet
  uint64_t failing_runs = 0;  // runs in a row, up to the latest, with a problem
  int64_t failing_since = 0;  // unix seconds when the first of them ended
  std::string problem;        // the latest run's last problem; "" if it had none
};

struct HistoryHealth {
  HistoryRunHealth compaction, gc;
};

// One line of `zenith branch -v`.
struct BranchDescription {
  std::string name;
  TimelineId timeline;
  std::string parent;  // the parent's branch name (or timeline id); "" for a root
  Lsn branch_lsn, end_of_wal, oldest_lsn;
  uint64_t logical_size = 0;     // relation bytes at its newest snapshot
  uint64_t own_bytes = 0;        // its layers and WAL
  uint64_t exclusive_bytes = 0;  // of those, what no other branch needs
  size_t layers = 0;
};

class History {
 public:
  // REQUIRES: `repo` outlives the History.
  History(Repository& repo, HistoryOptions options);
  ~History();  // Stop()
  History(const History&) = delete;
  History& operator=(const History&) = delete;

  // Starts the background thread; Stop() cancels what runs and joins it.
  void Start();
  void Stop();
  // A new snapshot layer arrived: compaction may have work.
  void NotifyNewLayer();

  // Compacts until the plan has nothing left to do. `window_seconds`
  // replaces the configured window for this run.
  Result<CompactionReport> Compact(std::optional<int64_t> window_seconds = std::nullopt);
  // Compacts, then collects: one `zenith gc`.
  Result<GcReport> CollectGarbage(std::optional<int64_t> window_seconds = std::nullopt);
  Result<std::vector<BranchDescription>> DescribeBranches();
  HistoryHealth Health() const;

 private:
  struct Snapshot;
  Result<Snapshot> TakeSnapshot(const RetentionPolicy& retention);
  RetentionPolicy RetentionFor(std::optional<int64_t> window_seconds) const;
  Result<CompactionReport> CompactLocked(const RetentionPolicy& retention);
  Status RunStep(const Snapshot& snap, const CompactionStep& step, CompactionReport* report);
  Status CheckNoPointMoves(const Snapshot& snap, int t, const std::vector<std::shared_ptr<const LayerFile>>& run);
  Result<GcReport> CollectLocked(const RetentionPolicy& retention);
  void RemoveFile(const std::string& path, uint64_t* count, uint64_t* bytes);
  // A step of the current run failed and was skipped (logged, and kept for
  // Health). REQUIRES: run_mu_.
  void NoteProblem(const std::string& problem);
  // The current run ended with `result`: records its outcome in `run`.
  // REQUIRES: run_mu_.
  void Finish(HistoryRunHealth HistoryHealth::*run, const Status& result);
  // Runs `run` (guarded by CatchAll) and records its outcome in `which`.
  // REQUIRES: run_mu_.
  template <typename Report>
  Result<Report> Tracked(HistoryRunHealth HistoryHealth::*which, const char* what,
                         const std::function<Result<Report>()>& run);
  Result<CompactionReport> RunCompaction(const RetentionPolicy& retention);  // REQUIRES: run_mu_
  Result<GcReport> RunCollection(const RetentionPolicy& retention);         // REQUIRES: run_mu_
  void Pause(const char* where);
  void Loop();
  bool WaitUntil(std::chrono::steady_clock::time_point when);  // false when stopped

  Repository& repo_;
  const HistoryOptions options_;
  const std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::atomic<bool> cancel_{false};

  std::mutex run_mu_;  // one compaction or collection at a time
  std::string run_problem_;  // guarded by run_mu_: the current run's last problem
  mutable std::mutex health_mu_;
  HistoryHealth health_;  // guarded by health_mu_

  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;       // guarded by mu_
  bool new_layer_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace zenith::pageserver
