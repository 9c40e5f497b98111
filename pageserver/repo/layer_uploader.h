// LayerUploader: puts every layer file of the repository into its remote
// (docs/design.md §12) once the file is durable locally, under the
// immutable key PREFIX/timelines/<id>/layers/<name>-<generation>; files
// larger than one part go up in multipart parts.
//
// A layer is durable once it has its final name in layers/ (LayerWriter
// writes a temp file, fsyncs, renames, fsyncs the directory), so the
// uploader finds work by listing those directories; a layer that vanished
// meanwhile (merged or collected) is skipped. What is in the bucket is
// learned once at Start by listing the prefix, so a restart does not upload
// a layer again. No index is written yet, so the bucket's layers are named
// by nothing: deletion (only after an index no longer names a layer) and
// attach are still to come.
//
// Thread-safety: Start and Stop from the owner's thread; the scan runs on
// a thread of its own. LastError may be called from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "common/periodic_thread.h"
#include "common/status.h"
#include "pageserver/api/repo_layout.h"
#include "pageserver/s3/object_store.h"
#include "pageserver/s3/s3_settings.h"

namespace zenith::pageserver {

class LayerUploader {
 public:
  // `store` is the bucket of `url`; `generation` this page server's claim.
  LayerUploader(RepoLayout layout, s3::S3Url url, uint64_t generation, std::unique_ptr<s3::ObjectStore> store);
  ~LayerUploader() { Stop(); }
  LayerUploader(const LayerUploader&) = delete;
  LayerUploader& operator=(const LayerUploader&) = delete;

  // Scans every `period`; the first scan lists the bucket.
  void Start(std::chrono::milliseconds period);
  void Stop() { thread_.Stop(); }

  // One pass: uploads every local layer not yet in the bucket. The first
  // error ends the pass (the next one retries); OK when all are up.
  Status UploadPending();
  // The error of the latest pass, or OK.
  Status LastError() const;

  // "PREFIX/timelines/<id>/layers/<name>-<generation>" (zero-padded).
  std::string LayerKey(const std::string& timeline, const std::string& name) const;

 private:
  Status LearnUploaded();
  Status UploadTimeline(const std::string& timeline);

  const RepoLayout layout_;
  const s3::S3Url url_;
  const uint64_t generation_;
  std::unique_ptr<s3::ObjectStore> store_;
  bool listed_ = false;               // only the scan thread touches these
  std::set<std::string> uploaded_;    // "<timeline>/<layer name>"
  mutable std::mutex mu_;
  Status last_error_;                 // GUARDED_BY(mu_)
  PeriodicThread thread_;
};

// The uploader of a repository with a remote, or nullptr without one. Reads
// the keys from the environment (s3_settings.h) and the generation from
// .zenith/generation; an error says what is missing.
Result<std::unique_ptr<LayerUploader>> MakeLayerUploader(const RepoLayout& layout, const std::string& remote_url,
                                                         const std::string& endpoint, const std::string& region);

}  // namespace zenith::pageserver
