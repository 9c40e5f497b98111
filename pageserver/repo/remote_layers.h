// Layers in the bucket only (docs/design.md §12, "The local disk is a
// cache"). `zenith attach` downloads no layer: in its place in layers/ it
// writes a stub, a small JSON file under the layer's own name that says
// which object holds it. The page server opens a stub as a remote layer
// (LayerFile::OpenRemote): its header and sections come with two ranged
// GETs, its pages on demand. Everything else treats the stub as the layer:
// compaction and GC remove it by its path, the uploader finds the layer in
// the bucket listing by its name and uploads nothing.
//
// A read the bucket cannot answer for now (unreachable, 5xx, throttled) is
// retried with back-off for up to kReadPatience, so a mount waits out a
// short outage instead of failing; any other error fails the read at once,
// naming the object.
//
// Thread-safety: RemoteLayers may be shared; its store is made on first use,
// under a mutex.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "common/status.h"
#include "pageserver/api/repo_config.h"
#include "pageserver/api/timeline_id.h"
#include "pageserver/layers/layer_file.h"
#include "pageserver/s3/object_store.h"
#include "pageserver/s3/s3_settings.h"

namespace zenith::pageserver {

// What a stub says: the generation whose key holds the layer, and its size.
struct RemoteLayerStub {
  uint64_t generation = 0;
  uint64_t size = 0;

  std::string ToJson() const;
};

// The stub at `path`, or nullopt if `path` is a layer file (it starts with
// the layer magic). Corruption if it is neither.
Result<std::optional<RemoteLayerStub>> ReadRemoteLayerStub(const std::string& path);
// Writes the stub durably (temp file, fsync, rename; the caller fsyncs the
// directory).
Status WriteRemoteLayerStub(const std::string& path, const RemoteLayerStub& stub);

class RemoteLayers {
 public:
  static constexpr std::chrono::seconds kReadPatience{60};

  // The repository's remote, with its keys from the environment
  // (s3_settings.h) when the first stub is opened.
  explicit RemoteLayers(RemoteConfig remote) : remote_(std::move(remote)) {}
  // An existing store (tests, attach).
  RemoteLayers(std::shared_ptr<s3::ObjectStore> store, s3::S3Url url) : store_(std::move(store)), url_(std::move(url)) {}

  // The layer `name` of `timeline` whose stub is at `path`.
  Result<std::shared_ptr<LayerFile>> Open(const std::string& path, const TimelineId& timeline, const std::string& name,
                                          const RemoteLayerStub& stub);

 private:
  Status EnsureStore();

  RemoteConfig remote_;
  std::mutex mu_;
  std::shared_ptr<s3::ObjectStore> store_;  // GUARDED_BY(mu_) until made
  s3::S3Url url_;
};

// How a timeline opens what it finds in layers/: a layer file, or a stub
// through `remote` (null: a stub is an error saying the repository has no
// remote).
Result<std::shared_ptr<LayerFile>> OpenLayerOrStub(const std::string& path, const TimelineId& timeline,
                                                   RemoteLayers* remote);

}  // namespace zenith::pageserver
