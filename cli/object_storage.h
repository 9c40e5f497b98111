// `zenith init --remote s3://BUCKET/PREFIX`: the checks made before a
// repository is created, and the claim of the prefix once it exists
// (docs/design.md §12).
//
// Thread-safety: one thread.
#pragma once

#include <memory>
#include <string>

#include "common/status.h"
#include "pageserver/s3/object_store.h"
#include "pageserver/s3/s3_settings.h"

namespace zenith::cli {

struct RemoteTarget {
  s3::S3Url url;
  std::string endpoint, region;  // as the settings resolved them
  std::unique_ptr<s3::ObjectStore> store;
};

// Parses `url`, reads the S3 settings from the environment (AWS's
// variables, ~/.aws/credentials) and checks the bucket is there, usable
// with these credentials, and that the prefix holds no repository. Each
// failure is a message for the user.
Result<RemoteTarget> PrepareRemote(const std::string& url);

// Writes repository.json and generation 1 under the prefix (each only if
// absent), then the remote into the repository's config and the
// generation into .zenith/generation. REQUIRES: `repo` was just created.
Status ClaimRemote(const std::string& repo, RemoteTarget& target);

}  // namespace zenith::cli
