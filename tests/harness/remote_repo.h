// A repository whose durable home is a prefix of the test suite's bucket
// (tests/harness/s3_test_env.h), for the object storage tests.
//
// Thread-safety: as ZenithEnv.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "tests/harness/s3_test_env.h"
#include "tests/harness/temp_dir.h"
#include "tests/harness/zenith_env.h"

namespace zenith::testing {

// The bucket's settings in env's environment and HOME in `dir`; then
// `zenith init --auth trust --remote URL`, the page server it started
// stopped, and `remote` (say {"wal_upload_interval": 0.5}) merged into the
// config's "remote" object. Test failures if any step fails.
void InitWithRemote(ZenithEnv& env, const TempDir& dir, const S3TestEnv& s3env, const std::string& url,
                    const nlohmann::json& remote);

// What the repository's layers/ directories hold: layer files (their bytes)
// and the stubs of layers in the bucket only (pageserver/repo/remote_layers.h).
struct LocalLayers {
  int files = 0;
  uint64_t file_bytes = 0;
  int stubs = 0;
};
LocalLayers CountLocalLayers(const std::string& repo);

}  // namespace zenith::testing
