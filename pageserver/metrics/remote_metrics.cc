#include "pageserver/metrics/remote_metrics.h"

#include "common/metrics.h"

namespace zenith::pageserver {

namespace {

using metrics::Counter;
using metrics::Gauge;
using metrics::Global;
using metrics::Histogram;

constexpr int kKinds = 4;

struct RemoteMetrics {
  Counter* uploads[kKinds][2];  // kind, ok
  Counter* bytes[kKinds];
  Counter* passes[2];
  Counter* deleted;
  Histogram* pass_duration;
  Gauge* backlog_objects;
  Gauge* backlog_bytes;
  Gauge* superseded;
  Counter* layer_reads[2];
  Counter* layer_read_bytes;
  Histogram* layer_read_duration;
  Gauge* cache_bytes;
  Counter* evictions;
  Counter* evicted_bytes;
  Counter* hydrations[2];  // ok
  Counter* hydrated_bytes;
};

const RemoteMetrics& Remote() {
  static const RemoteMetrics m = [] {
    RemoteMetrics r{};
    const char* kinds[kKinds] = {"layer", "wal", "index", "refs"};
    for (int k = 0; k < kKinds; ++k) {
      for (int ok = 0; ok < 2; ++ok) {
        r.uploads[k][ok] = &Global().GetCounter("zenith_remote_uploads_total",
                                                "Objects put into the remote bucket, by kind and result.",
                                                {{"kind", kinds[k]}, {"result", ok ? "ok" : "error"}});
      }
      r.bytes[k] = &Global().GetCounter("zenith_remote_upload_bytes_total",
                                        "Bytes of the objects put into the remote bucket, by kind.", {{"kind", kinds[k]}});
    }
    for (int ok = 0; ok < 2; ++ok) {
      r.passes[ok] = &Global().GetCounter("zenith_remote_upload_passes_total",
                                          "Upload passes, by result (error: something stayed unpublished).",
                                          {{"result", ok ? "ok" : "error"}});
    }
    r.deleted = &Global().GetCounter("zenith_remote_deleted_objects_total",
                                     "Objects deleted from the remote bucket: what no index names any more.");
    r.pass_duration = &Global().GetHistogram("zenith_remote_upload_pass_duration_seconds",
                                             "Time an upload pass took.", {}, {0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120});
    r.backlog_objects = &Global().GetGauge("zenith_remote_backlog_objects",
                                           "Layers durable locally and not yet in the bucket, after the last pass.");
    r.backlog_bytes = &Global().GetGauge("zenith_remote_backlog_bytes",
                                         "Bytes of layers and WAL not yet in the bucket, after the last pass.");
    r.superseded = &Global().GetGauge("zenith_remote_superseded",
                                      "1 once a newer generation claimed the remote: this page server publishes "
                                      "nothing more.");
    for (int ok = 0; ok < 2; ++ok) {
      r.layer_reads[ok] = &Global().GetCounter("zenith_remote_layer_reads_total",
                                               "Ranged reads of layers that are in the bucket only, by result.",
                                               {{"result", ok ? "ok" : "error"}});
    }
    r.layer_read_bytes = &Global().GetCounter("zenith_remote_layer_read_bytes_total",
                                              "Bytes read from layers that are in the bucket only.");
    r.layer_read_duration = &Global().GetHistogram("zenith_remote_layer_read_duration_seconds",
                                                   "Time a ranged read of a layer in the bucket took.", {},
                                                   {0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5});
    r.cache_bytes = &Global().GetGauge("zenith_remote_cache_bytes",
                                       "Bytes of layers on this disk after the last upload pass (bounded by "
                                       "remote.cache_size).");
    r.evictions = &Global().GetCounter("zenith_remote_cache_evictions_total",
                                       "Layers evicted from this disk: read from the bucket from then on.");
    r.evicted_bytes = &Global().GetCounter("zenith_remote_cache_evicted_bytes_total", "Their bytes.");
    for (int ok = 0; ok < 2; ++ok) {
      r.hydrations[ok] = &Global().GetCounter("zenith_remote_cache_hydrations_total",
                                              "Remote layers read often, brought back to this disk whole, by result.",
                                              {{"result", ok ? "ok" : "error"}});
    }
    r.hydrated_bytes = &Global().GetCounter("zenith_remote_cache_hydrated_bytes_total",
                                            "Bytes downloaded to bring layers back.");
    return r;
  }();
  return m;
}

}  // namespace

void RegisterRemoteMetrics() { Remote(); }

void CountRemoteUpload(RemoteObject what, bool ok, uint64_t bytes) {
  const int k = static_cast<int>(what);
  Remote().uploads[k][ok ? 1 : 0]->Inc();
  if (ok) Remote().bytes[k]->Inc(bytes);
}

void CountRemoteDeletes(uint64_t objects) { Remote().deleted->Inc(objects); }

void CountRemotePass(bool ok, std::chrono::duration<double> took) {
  Remote().passes[ok ? 1 : 0]->Inc();
  Remote().pass_duration->Observe(took.count());
}

void CountRemoteLayerRead(bool ok, uint64_t bytes, std::chrono::duration<double> took) {
  Remote().layer_reads[ok ? 1 : 0]->Inc();
  if (ok) Remote().layer_read_bytes->Inc(bytes);
  Remote().layer_read_duration->Observe(took.count());
}

void SetRemoteCacheBytes(uint64_t bytes) { Remote().cache_bytes->Set(static_cast<int64_t>(bytes)); }

void CountRemoteEviction(uint64_t bytes) {
  Remote().evictions->Inc();
  Remote().evicted_bytes->Inc(bytes);
}

void CountRemoteHydration(bool ok, uint64_t bytes) {
  Remote().hydrations[ok ? 1 : 0]->Inc();
  Remote().hydrated_bytes->Inc(bytes);
}

void SetRemoteBacklog(uint64_t objects, uint64_t bytes, bool superseded) {
  Remote().backlog_objects->Set(static_cast<int64_t>(objects));
  Remote().backlog_bytes->Set(static_cast<int64_t>(bytes));
  Remote().superseded->Set(superseded ? 1 : 0);
}

}  // namespace zenith::pageserver
