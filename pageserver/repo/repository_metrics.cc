#include "pageserver/repo/repository_metrics.h"

#include <vector>

#include "common/metrics.h"
#include "pageserver/repo/repository.h"
#include "pageserver/repo/timeline.h"

namespace zenith::pageserver {

namespace {

using metrics::Global;

// Every mount's own figures, as it last reported them (MountStats), and how
// many mounts there are.
std::vector<metrics::CollectedFamily> CollectMounts(const Repository& repo) {
  using metrics::Type;
  metrics::CollectedFamily pages{"zenith_mount_pages_read_total",
                                 "Relation pages a mount read, by source: its scratch (pages written there), the "
                                 "snapshot's layer files on this machine, or fetched with GetPage@LSN.",
                                 Type::kCounter, {}};
  metrics::CollectedFamily uploads{"zenith_mount_snapshot_uploads_total",
                                   "Snapshots a mount stored after its checkpoints, by result.", Type::kCounter, {}};
  metrics::CollectedFamily upload_time{"zenith_mount_snapshot_upload_seconds_total",
                                       "Time a mount spent storing snapshots, every attempt.", Type::kCounter, {}};
  metrics::CollectedFamily count{"zenith_mounts", "Mounts registered now, by mode.", Type::kGauge, {}};
  double mounts[2] = {0, 0};  // read-write, read-only
  for (const MountInfo& m : repo.Mounts()) {
    mounts[m.read_only ? 1 : 0] += 1;
    const metrics::Labels labels = {{"timeline", m.timeline.ToString()}, {"branch", m.branch},
                                    {"mountpoint", m.mountpoint}, {"mode", m.read_only ? "read-only" : "read-write"}};
    auto with = [&labels](const char* name, const char* value) {
      metrics::Labels l = labels;
      l[name] = value;
      return l;
    };
    const MountStats& s = m.stats;
    pages.samples.push_back({with("source", "scratch"), static_cast<double>(s.pages_scratch)});
    pages.samples.push_back({with("source", "layers"), static_cast<double>(s.pages_layers)});
    pages.samples.push_back({with("source", "fetched"), static_cast<double>(s.pages_fetched)});
    uploads.samples.push_back({with("result", "ok"), static_cast<double>(s.snapshot_uploads)});
    uploads.samples.push_back({with("result", "error"), static_cast<double>(s.snapshot_upload_failures)});
    upload_time.samples.push_back({labels, static_cast<double>(s.snapshot_upload_micros) / 1e6});
  }
  count.samples.push_back({{{"mode", "read-write"}}, mounts[0]});
  count.samples.push_back({{{"mode", "read-only"}}, mounts[1]});
  return {pages, uploads, upload_time, count};
}

std::vector<metrics::CollectedFamily> CollectRepository(Repository& repo) {
  metrics::CollectedFamily layers{"zenith_timeline_layers", "Layer files a timeline owns.", metrics::Type::kGauge, {}};
  metrics::CollectedFamily bytes{"zenith_timeline_layer_bytes", "Bytes of the layer files a timeline owns.",
                                 metrics::Type::kGauge, {}};
  metrics::CollectedFamily end{"zenith_timeline_end_of_wal_lsn",
                               "A timeline's end of WAL, as a byte position (PostgreSQL's LSN as a number).",
                               metrics::Type::kGauge, {}};
  auto all = repo.AllTimelines();
  if (!all.ok()) return {};
  for (const auto& tl : all->live) {
    const metrics::Labels labels = {{"timeline", tl->id().ToString()}, {"branch", repo.BranchOf(tl->id())}};
    uint64_t size = 0;
    auto own = tl->OwnLayers();
    for (const auto& layer : own) size += layer->file_size();
    layers.samples.push_back({labels, static_cast<double>(own.size())});
    bytes.samples.push_back({labels, static_cast<double>(size)});
    if (auto wal_end = tl->EndOfWal(); wal_end.ok()) end.samples.push_back({labels, static_cast<double>(wal_end->value)});
  }
  std::vector<metrics::CollectedFamily> out = {layers, bytes, end};
  for (auto& family : CollectMounts(repo)) out.push_back(std::move(family));
  return out;
}

}  // namespace

RepositoryMetrics::RepositoryMetrics(Repository& repo)
    : collector_id_(Global().AddCollector([&repo] { return CollectRepository(repo); })) {}

RepositoryMetrics::~RepositoryMetrics() { Global().RemoveCollector(collector_id_); }

}  // namespace zenith::pageserver
