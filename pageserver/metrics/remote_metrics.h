// The remote uploader's figures in the page server's metrics (README,
// "Metrics"; docs/design.md §12): objects and bytes put into the bucket by
// kind and result, upload passes and their time, and after every pass what
// is not yet up (objects, bytes) and whether this page server was
// superseded; and the reads of layers that are in the bucket only. Registered only when the repository has a remote.
//
// Thread-safety: every function is safe from any thread (relaxed atomics on
// metrics looked up once).
#pragma once

#include <chrono>
#include <cstdint>

namespace zenith::pageserver {

enum class RemoteObject { kLayer, kWal, kIndex, kRefs };

// Makes every remote metric visible (at zero) from the start.
void RegisterRemoteMetrics();

// One PUT of `what` (a multipart layer counts once), with its bytes.
void CountRemoteUpload(RemoteObject what, bool ok, uint64_t bytes);

// Objects deleted from the bucket (garbage no index names any more).
void CountRemoteDeletes(uint64_t objects);

// One upload pass: ok when every timeline and the refs were published.
void CountRemotePass(bool ok, std::chrono::duration<double> took);

// One ranged GET of a layer that is in the bucket only (remote_layers.h):
// its result, bytes and time.
void CountRemoteLayerRead(bool ok, uint64_t bytes, std::chrono::duration<double> took);

// The local disk as a cache: layer bytes on it after a pass, and a layer
// evicted (its bytes).
void SetRemoteCacheBytes(uint64_t bytes);
void CountRemoteEviction(uint64_t bytes);
// A remote layer read often brought back to this disk whole
// (layer_hydrator.h), or a download of one that failed; the bytes
// downloaded either way.
void CountRemoteHydration(bool ok, uint64_t bytes);

// After a pass, over every timeline: layers not yet up, bytes of layers and
// WAL not yet up; and whether a newer generation claimed the prefix.
void SetRemoteBacklog(uint64_t objects, uint64_t bytes, bool superseded);

}  // namespace zenith::pageserver
