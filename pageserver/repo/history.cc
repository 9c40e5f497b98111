#include "pageserver/repo/history.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <map>
#include <set>

#include "common/catch_all.h"
#include "common/file_util.h"
#include "pageserver/layers/layer_merge.h"
#include "pageserver/metrics/server_metrics.h"

namespace zenith::pageserver {

namespace {

using Clock = std::chrono::steady_clock;
using LayerList = std::vector<std::shared_ptr<const LayerFile>>;

constexpr auto kStartupGcDelay = std::chrono::seconds(10);
constexpr auto kMinCompactionInterval = std::chrono::milliseconds(100);

uint64_t FileBytes(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

uint64_t TreeBytes(const std::string& path) {
  std::error_code ec;
  uint64_t total = 0;
  for (auto it = std::filesystem::recursive_directory_iterator(path, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file(ec)) total += FileBytes(it->path().string());
  }
  return total;
}

struct WalSegmentFile {
  std::string path;
  uint64_t segno;
  uint64_t bytes;
};

std::vector<WalSegmentFile> WalSegments(const std::string& wal_dir) {
  std::vector<WalSegmentFile> out;
  auto names = ListDirectory(wal_dir);
  if (!names.ok()) return out;
  for (const auto& name : *names) {
    auto seg = ParseWalSegmentFileName(name);
    if (!seg) continue;
    std::string path = wal_dir + "/" + name;
    out.push_back({path, seg->segno, FileBytes(path)});
  }
  return out;
}

std::string ShortRange(const LayerList& run) {
  return run.front()->meta().start.ToString() + ".." + run.back()->lsns().valid.ToString();
}

}  // namespace

void CompactionCounts::Add(const CompactionCounts& o) {
  merges += o.merges;
  layers_merged += o.layers_merged;
  images += o.images;
  bytes_written += o.bytes_written;
  bytes_removed += o.bytes_removed;
}

HistoryOptions HistoryOptionsFor(const HistoryConfig& config) {
  HistoryOptions o;
  o.retention = {config.window_seconds, config.window_wal_bytes};
  o.compaction.max_replay_wal_bytes = config.max_replay_wal_bytes;
  o.compaction_period = std::chrono::seconds(config.compaction_period_seconds);
  o.gc_period = std::chrono::seconds(config.gc_period_seconds);
  return o;
}

struct History::Snapshot {
  std::vector<std::shared_ptr<Timeline>> timelines;
  std::vector<LayerList> layers;  // per timeline, as planned
  std::vector<PlanTimeline> input;
  std::vector<TimelineId> orphans;
  HistoryPlan plan;

  int IndexOf(const TimelineId& id) const {
    for (size_t i = 0; i < timelines.size(); ++i) {
      if (timelines[i]->id() == id) return static_cast<int>(i);
    }
    return -1;
  }
};

History::History(Repository& repo, HistoryOptions options) : repo_(repo), options_(options) {}

History::~History() { Stop(); }

void History::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void History::Stop() {
  cancel_ = true;
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void History::NotifyNewLayer() {
  {
    std::lock_guard lock(mu_);
    new_layer_ = true;
  }
  wake_.notify_all();
}

void History::Pause(const char* where) {
  if (options_.test_pause.count() <= 0) return;
  spdlog::info("history: test pause at {}", where);
  std::this_thread::sleep_for(options_.test_pause);
}

RetentionPolicy History::RetentionFor(std::optional<int64_t> window_seconds) const {
  RetentionPolicy r = options_.retention;
  if (window_seconds) {
    r.window_seconds = *window_seconds;
    r.window_wal_bytes = 0;
  }
  return r;
}

// REQUIRES: the points lock held (pins and orphans are read under it).
Result<History::Snapshot> History::TakeSnapshot(const RetentionPolicy& retention) {
  ZENITH_ASSIGN_OR_RETURN(auto all, repo_.AllTimelines());
  Snapshot s;
  s.timelines = std::move(all.live);
  s.orphans = std::move(all.orphans);
  s.layers.resize(s.timelines.size());
  for (size_t i = 0; i < s.timelines.size(); ++i) {
    Timeline& tl = *s.timelines[i];
    PlanTimeline p;
    p.layers = tl.PlanLayers(&s.layers[i]);
    p.parent = tl.ancestor() ? s.IndexOf(tl.ancestor()->id()) : -1;
    p.branch_lsn = tl.ancestor_lsn();
    p.end_of_wal = tl.KnownEndOfWal();
    if (!p.end_of_wal.valid()) {
      ZENITH_ASSIGN_OR_RETURN(p.end_of_wal, tl.EndOfWal());
    }
    p.gc_cutoff = tl.gc_cutoff();
    s.input.push_back(std::move(p));
  }
  for (const PinInfo& pin : repo_.PinsLocked()) {
    if (int i = s.IndexOf(pin.timeline); i >= 0) (pin.wal ? s.input[i].pins : s.input[i].page_pins).push_back(pin.lsn);
  }
  s.plan = PlanHistory(s.input, retention, options_.compaction, std::time(nullptr));
  return s;
}

Result<CompactionReport> History::Compact(std::optional<int64_t> window_seconds) {
  std::lock_guard run(run_mu_);
  return RunCompaction(RetentionFor(window_seconds));
}

template <typename Report>
Result<Report> History::Tracked(HistoryRunHealth HistoryHealth::*which, const char* what,
                                const std::function<Result<Report>()>& run) {
  run_problem_.clear();
  Result<Report> report = Internal(std::string(what) + " did not run");
  const auto started = std::chrono::steady_clock::now();
  Status done = CatchAll(what, [&] {
    report = run();
    return report.status();
  });
  CountHistoryRun(which == &HistoryHealth::compaction ? "compaction" : "gc", std::chrono::steady_clock::now() - started,
                  done.ok());
  Finish(which, done);
  if (!done.ok()) return done;
  return report;
}

Result<CompactionReport> History::RunCompaction(const RetentionPolicy& retention) {
  return Tracked<CompactionReport>(&HistoryHealth::compaction, "compaction", [&] { return CompactLocked(retention); });
}

Result<GcReport> History::RunCollection(const RetentionPolicy& retention) {
  return Tracked<GcReport>(&HistoryHealth::gc, "garbage collection", [&] { return CollectLocked(retention); });
}

void History::NoteProblem(const std::string& problem) {
  spdlog::warn("{}", problem);
  run_problem_ = problem;
}

void History::Finish(HistoryRunHealth HistoryHealth::*which, const Status& result) {
  if (cancel_) return;  // stopping: the run was cut short, not failing
  const std::string problem = result.ok() ? run_problem_ : result.message();
  const int64_t now = std::time(nullptr);
  std::lock_guard lock(health_mu_);
  HistoryRunHealth& run = health_.*which;
  run.last_run = now;
  run.problem = problem;
  if (problem.empty()) {
    run.failing_runs = 0;
    run.failing_since = 0;
  } else if (run.failing_runs++ == 0) {
    run.failing_since = now;
  }
}

HistoryHealth History::Health() const {
  std::lock_guard lock(health_mu_);
  return health_;
}

Result<CompactionReport> History::CompactLocked(const RetentionPolicy& retention) {
  CompactionReport report;
  IgnoreError(repo_.AllTimelines().status());  // load them outside the points lock
  std::set<std::string> failed;  // steps that failed this run, by their oldest input
  for (;;) {
    if (cancel_) return Busy("compaction was cancelled: the page server is stopping");
    Result<Snapshot> snap = Internal("unset");
    {
      auto points = repo_.LockPoints();
      snap = TakeSnapshot(retention);
    }
    if (!snap.ok()) return snap.status();
    const CompactionStep* step = nullptr;
    for (const auto& s : snap->plan.steps) {
      if (!failed.count(snap->layers[s.timeline][s.first]->path())) {
        step = &s;
        break;
      }
    }
    if (step == nullptr) return report;
    if (Status s = RunStep(*snap, *step, &report); !s.ok()) {
      if (cancel_) return s;
      const std::string what = "compaction of timeline " + snap->timelines[step->timeline]->id().ToString() +
                               " skipped a step: " + s.message();
      // Busy: a mount or a branch took a point since the plan; the next
      // plan knows it. Anything else is a problem to report.
      if (s.code() == StatusCode::kBusy) spdlog::info("{}", what);
      else NoteProblem(what);
      failed.insert(snap->layers[step->timeline][step->first]->path());
    }
  }
}

// REQUIRES: the points lock held. Merging `run` must not move the starting
// snapshot of a pin or a branch point made since the plan: none may be one
// of the layers whose valid disappears (all but the newest of the run).
Status History::CheckNoPointMoves(const Snapshot& snap, int t, const LayerList& run) {
  const Timeline& tl = *snap.timelines[t];
  auto moves = [&](const LayerFile* newest) {
    return std::find_if(run.begin(), run.end() - 1, [&](const auto& l) { return l.get() == newest; }) != run.end() - 1;
  };
  ZENITH_ASSIGN_OR_RETURN(auto all, repo_.AllTimelines());
  for (const PinInfo& pin : repo_.PinsLocked()) {
    for (const auto& other : all.live) {
      if (other->id() == pin.timeline && moves(other->ViewAt(pin.lsn)->newest())) {
        return Busy("a mount pinned the snapshot at " + pin.lsn.ToString());
      }
    }
  }
  for (const auto& other : all.live) {
    if (other->ancestor().get() == &tl && moves(tl.ViewAt(other->ancestor_lsn())->newest())) {
      return Busy("a branch was made at " + other->ancestor_lsn().ToString());
    }
  }
  return Status::Ok();
}

Status History::RunStep(const Snapshot& snap, const CompactionStep& step, CompactionReport* report) {
  const std::shared_ptr<Timeline>& tl = snap.timelines[step.timeline];
  const LayerList& own = snap.layers[step.timeline];
  const LayerList run(own.begin() + step.first, own.begin() + step.last + 1);
  const LayerFile& top = *run.back();
  const bool image = step.kind == CompactionStep::Kind::kImage;
  LayerList inputs;
  if (image) {
    inputs = tl->ViewAt(top.lsns().valid)->layers();
    if (inputs.empty() || inputs.front() != run.front()) return Busy("the layers changed since the plan");
    if (!inputs.back()->complete()) return Corruption("no complete layer under the snapshot at " + top.lsns().valid.ToString());
  } else {
    inputs.assign(run.rbegin(), run.rend());
  }
  const LayerMeta meta(top.lsns(), run.front()->meta().start, image, top.meta().created_at);
  Pause("compaction: writing a layer");
  MergeOptions merge_options{&cancel_, [this] { Pause("compaction: merging pages"); }};
  ZENITH_ASSIGN_OR_RETURN(std::string path, WriteMergedLayer(inputs, tl->layers_dir(), tl->id(), meta, merge_options));
  auto merged = LayerFile::Open(path);
  Pause("compaction: layer written");
  Status commit = merged.status();
  if (commit.ok()) {
    auto points = repo_.LockPoints();
    if (!image) commit = CheckNoPointMoves(snap, step.timeline, run);
    if (commit.ok()) commit = tl->ReplaceLayers(run, *merged);
  }
  if (!commit.ok()) {
    IgnoreError(zenith::RemoveFile(path));
    return commit;
  }
  CompactionCounts done;
  if (image) {
    done.images = 1;
  } else {
    done.merges = 1;
    done.layers_merged = run.size();
  }
  done.bytes_written = (*merged)->file_size();
  spdlog::info("timeline {}: {} {} layer(s) {} into {} ({} pages, {} bytes)", tl->id().ToString(),
               image ? "wrote an image of" : "merged", inputs.size(), ShortRange(run), path, (*merged)->page_count(),
               (*merged)->file_size());
  for (const auto& layer : run) {
    Pause("compaction: removing a replaced layer");
    uint64_t removed = 0;
    RemoveFile(layer->path(), &removed, &done.bytes_removed);
  }
  report->total.Add(done);
  report->by_timeline[tl->id()].Add(done);
  return Status::Ok();
}

void History::RemoveFile(const std::string& path, uint64_t* count, uint64_t* bytes) {
  const uint64_t size = FileBytes(path);
  if (Status s = zenith::RemoveFile(path); !s.ok()) {
    NoteProblem(s.message());
    return;
  }
  ++*count;
  *bytes += size;
}

Result<GcReport> History::CollectGarbage(std::optional<int64_t> window_seconds) {
  std::lock_guard run(run_mu_);
  const RetentionPolicy retention = RetentionFor(window_seconds);
  ZENITH_ASSIGN_OR_RETURN(CompactionReport compaction, RunCompaction(retention));
  ZENITH_ASSIGN_OR_RETURN(GcReport report, RunCollection(retention));
  for (auto& row : report.timelines) {
    if (auto it = compaction.by_timeline.find(row.timeline); it != compaction.by_timeline.end()) row.compaction = it->second;
  }
  return report;
}

Result<GcReport> History::CollectLocked(const RetentionPolicy& retention) {
  {  // Outside the points lock: load every timeline and read its new WAL.
    ZENITH_ASSIGN_OR_RETURN(auto all, repo_.AllTimelines());
    for (const auto& tl : all.live) IgnoreError(tl->EndOfWal().status());
  }
  Result<Snapshot> snap = Internal("unset");
  std::vector<LayerList> victims;
  {
    auto points = repo_.LockPoints();
    snap = TakeSnapshot(retention);
    if (!snap.ok()) return snap.status();
    victims.resize(snap->timelines.size());
    for (size_t i = 0; i < snap->timelines.size(); ++i) {
      ZENITH_RETURN_IF_ERROR(snap->timelines[i]->AdvanceGcCutoff(snap->plan.timelines[i].horizon));
      for (size_t j = 0; j < snap->layers[i].size(); ++j) {
        if (!snap->plan.timelines[i].needed[j]) victims[i].push_back(snap->layers[i][j]);
      }
      snap->timelines[i]->ForgetLayers(victims[i]);
    }
    for (const auto& id : snap->orphans) repo_.ForgetTimeline(id);
  }
  for (size_t i = 0; i < snap->timelines.size(); ++i) {
    const TimelinePlan& p = snap->plan.timelines[i];
    spdlog::info("gc of timeline {}: history from {}, WAL from {}, {} of {} layers unneeded",
                 snap->timelines[i]->id().ToString(), p.horizon.ToString(), p.wal_needed_from.ToString(),
                 victims[i].size(), snap->layers[i].size());
  }
  Pause("gc: decided");
  GcReport report;
  for (size_t i = 0; i < snap->timelines.size(); ++i) {
    Timeline& tl = *snap->timelines[i];
    TimelineGcReport row{tl.id(), repo_.BranchOf(tl.id()), snap->plan.timelines[i].horizon};
    for (const auto& layer : victims[i]) {
      Pause("gc: removing a layer");
      RemoveFile(layer->path(), &row.layers_removed, &row.layer_bytes_removed);
    }
    const Lsn from = snap->plan.timelines[i].wal_needed_from;
    for (const WalSegmentFile& seg : WalSegments(tl.wal_dir())) {
      if (from.valid() && seg.segno < from.segment_number()) {
        Pause("gc: removing a WAL segment");
        RemoveFile(seg.path, &row.wal_removed, &row.wal_bytes_removed);
      } else {
        ++row.wal_left;
        row.wal_bytes_left += seg.bytes;
      }
    }
    for (const auto& layer : tl.OwnLayers()) {
      ++row.layers_left;
      row.layer_bytes_left += layer->file_size();
    }
    report.timelines.push_back(std::move(row));
  }
  for (const auto& id : snap->orphans) {
    Pause("gc: removing a deleted timeline");
    TimelineGcReport row{id, "", Lsn(), true};
    const RepoLayout& layout = repo_.layout();
    const std::string doomed = layout.timelines_dir() + "/.deleted-" + id.ToString();
    row.layer_bytes_removed = TreeBytes(layout.layers_dir(id));
    row.wal_bytes_removed = TreeBytes(layout.wal_dir(id));
    if (Status s = RenameFile(layout.timeline_dir(id), doomed); !s.ok()) {
      NoteProblem("could not set aside the deleted timeline " + id.ToString() + ": " + s.message());
      continue;
    }
    IgnoreError(RemoveTree(layout.datadir(id)));
    report.timelines.push_back(std::move(row));
  }
  // What earlier collections set aside (and any a crash interrupted).
  if (auto names = ListDirectory(repo_.layout().timelines_dir()); names.ok()) {
    for (const auto& name : *names) {
      if (name.starts_with(".deleted-")) IgnoreError(RemoveTree(repo_.layout().timelines_dir() + "/" + name));
    }
  }
  return report;
}

Result<std::vector<BranchDescription>> History::DescribeBranches() {
  {
    ZENITH_ASSIGN_OR_RETURN(auto all, repo_.AllTimelines());
    for (const auto& tl : all.live) IgnoreError(tl->EndOfWal().status());
  }
  Result<Snapshot> snap = Internal("unset");
  {
    auto points = repo_.LockPoints();
    snap = TakeSnapshot(options_.retention);
  }
  if (!snap.ok()) return snap.status();
  ZENITH_ASSIGN_OR_RETURN(auto branches, repo_.ListBranches());
  std::vector<BranchDescription> out;
  for (const auto& b : branches) {
    const int i = snap->IndexOf(b.timeline);
    if (i < 0) continue;
    Timeline& tl = *snap->timelines[i];
    const TimelinePlan& plan = snap->plan.timelines[i];
    BranchDescription d{b.name, b.timeline};
    if (tl.ancestor()) {
      d.parent = repo_.BranchOf(tl.ancestor()->id());
      if (d.parent.empty()) d.parent = tl.ancestor()->id().ToString();
      d.branch_lsn = tl.ancestor_lsn();
    }
    d.end_of_wal = snap->input[i].end_of_wal;
    d.oldest_lsn = std::max(plan.horizon, tl.OldestSnapshot().value_or(Lsn()));
    if (const LayerFile* newest = tl.ViewAt(d.end_of_wal)->newest()) {
      newest->ForEachRelation([&](const RelTag&, const RelationInfo& info) { d.logical_size += uint64_t{info.nblocks} * kPageSize; });
    }
    const LayerList& layers = snap->layers[i];
    d.layers = layers.size();
    for (size_t j = 0; j < layers.size(); ++j) {
      d.own_bytes += layers[j]->file_size();
      if (!plan.needed_by_others[j]) d.exclusive_bytes += layers[j]->file_size();
    }
    for (const WalSegmentFile& seg : WalSegments(tl.wal_dir())) {
      d.own_bytes += seg.bytes;
      const Lsn seg_start(seg.segno * kWalSegmentSize), seg_end(seg_start + kWalSegmentSize);
      bool shared = std::any_of(plan.wal_needed_by_others.begin(), plan.wal_needed_by_others.end(),
                                [&](const auto& r) { return r.first < seg_end && seg_start <= r.second; });
      if (!shared) d.exclusive_bytes += seg.bytes;
    }
    out.push_back(std::move(d));
  }
  return out;
}

bool History::WaitUntil(Clock::time_point when) {
  std::unique_lock lock(mu_);
  wake_.wait_until(lock, when, [&] { return stop_; });
  return !stop_;
}

void History::Loop() {
  if (!WaitUntil(started_ + options_.startup_grace)) return;
  spdlog::info("history: compaction every {} s (and on new layers), garbage collection every {} s",
               options_.compaction_period.count(), options_.gc_period.count());
  const bool compacting = options_.compaction_period.count() > 0, collecting = options_.gc_period.count() > 0;
  const auto far = std::chrono::hours(24);
  auto next_gc = Clock::now() + (collecting ? std::min<Clock::duration>(options_.gc_period, kStartupGcDelay) : far);
  for (;;) {
    if (compacting) {
      std::lock_guard run(run_mu_);
      Status done = RunCompaction(options_.retention).status();
      if (!done.ok() && !cancel_) spdlog::warn("background compaction: {}", done.message());
    }
    if (collecting && Clock::now() >= next_gc) {
      std::lock_guard run(run_mu_);
      Status done = RunCollection(options_.retention).status();
      if (!done.ok() && !cancel_) spdlog::warn("background garbage collection: {}", done.message());
      next_gc = Clock::now() + options_.gc_period;
    }
    if (!WaitUntil(Clock::now() + kMinCompactionInterval)) return;
    std::unique_lock lock(mu_);
    auto due = std::min(Clock::now() + (compacting ? Clock::duration(options_.compaction_period) : far), next_gc);
    wake_.wait_until(lock, due, [&] { return stop_ || (compacting && new_layer_); });
    if (stop_) return;
    new_layer_ = false;
  }
}

}  // namespace zenith::pageserver
