// A client of the test suite's bucket (s3_test_env.h), for tests and
// benchmarks that link zenith_s3 and look at or change the bucket directly.
// Header-only: the harness library itself does not depend on the S3 client.
//
// Thread-safety: as S3Client.
#pragma once

#include <optional>
#include <string>

#include "pageserver/s3/s3_client.h"
#include "pageserver/s3/s3_settings.h"
#include "tests/harness/s3_test_env.h"

namespace zenith::testing {

// The service's settings from the variables of its s3.env.
inline Result<s3::S3Settings> TestBucketSettings(const S3TestEnv& s3env) {
  return s3::LoadS3Settings([&](const std::string& n) -> std::optional<std::string> {
    auto it = s3env.vars.find(n);
    return it == s3env.vars.end() ? std::nullopt : std::optional(it->second);
  });
}

// A client of the test bucket. REQUIRES: s3env is complete (LoadS3TestEnv).
inline s3::S3Client TestBucketClient(const S3TestEnv& s3env) {
  return s3::S3Client(TestBucketSettings(s3env).value(), s3env.bucket);
}

}  // namespace zenith::testing
