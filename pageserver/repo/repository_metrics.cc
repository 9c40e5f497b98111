#include "pageserver/repo/repository_metrics.h"

#include <vector>

#include "common/metrics.h"
#include "pageserver/repo/repository.h"
#include "pageserver/repo/timeline.h"

namespace zenith::pageserver {

namespace {

using metrics::Global;

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
  return {layers, bytes, end};
}

}  // namespace

RepositoryMetrics::RepositoryMetrics(Repository& repo)
    : collector_id_(Global().AddCollector([&repo] { return CollectRepository(repo); })) {}

RepositoryMetrics::~RepositoryMetrics() { Global().RemoveCollector(collector_id_); }

}  // namespace zenith::pageserver
