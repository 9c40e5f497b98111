// `zenith attach s3://BUCKET/PREFIX` (docs/design.md §12, "Attach"): a local
// repository rebuilt from its bucket on a machine that has none, after the
// old one's disk was lost or to move the repository elsewhere.
//
// AttachRepository reads repository.json, claims the next generation (from
// then on the old owner is superseded: it publishes and deletes nothing
// more), reads the newest refs and the newest index of every timeline they
// reach (ancestors included) that generations below its own wrote, and
// builds the repository from them: branch refs, each timeline's metadata and
// GC cutoff, a stub for each of its layers (remote_layers.h: the layers stay
// in the bucket, and the page server reads their pages on demand, checking
// each page's CRC), and its WAL segments reassembled from the pieces the
// index names.
//
// The repository is assembled beside `root` and renamed into place when
// complete and durable (new_repository.h): a failure or crash leaves none.
// A generation claimed by a failed attach stays claimed; the next attach
// takes the one after it.
//
// Thread-safety: reentrant; the store must be safe to share.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"
#include "pageserver/api/repo_config.h"
#include "pageserver/s3/object_store.h"
#include "pageserver/s3/s3_settings.h"

namespace zenith::pageserver {

struct AttachSummary {
  uint64_t generation = 0;
  int branches = 0;
  int timelines = 0;
  int layers = 0;
  uint64_t layer_bytes = 0;  // in the bucket, read on demand
  uint64_t wal_bytes = 0;    // downloaded
};

// Builds the repository at `root` (which must not exist) from `url`. The
// config's remote is `remote`; `config` gives the rest (pg_bin_dir ...).
// NotFound when the prefix holds no repository or no branches yet;
// Corruption naming the object when one is missing or damaged.
Result<AttachSummary> AttachRepository(const std::string& root, s3::ObjectStore& store, const s3::S3Url& url,
                                       RepoConfig config);

}  // namespace zenith::pageserver
