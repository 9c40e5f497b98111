// The S3 service the test suite runs against: tests/run.sh starts a Ceph RGW
// (mount_helpers/ceph-rgw.sh) and names its settings file in
// ZENITH_TEST_S3_ENV (KEY=VALUE lines: AWS_ENDPOINT_URL, AWS_REGION,
// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, ZENITH_TEST_BUCKET).
//
// Thread-safety: reentrant.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "tests/harness/test_env.h"

namespace zenith::testing {

struct S3TestEnv {
  std::map<std::string, std::string> vars;  // the file's variables
  std::string bucket;                       // ZENITH_TEST_BUCKET
  // A fresh key prefix "t-<random hex>" so that tests never see each other.
  static std::string UniquePrefix();
};

// The service, or nullopt (with `why` set) when ZENITH_TEST_S3_ENV is unset
// or its file unreadable or incomplete.
std::optional<S3TestEnv> LoadS3TestEnv(std::string* why);

}  // namespace zenith::testing

// In a test body: loads the service into `var`; without one the test fails
// in CI (CI=true) and is skipped elsewhere.
#define ZENITH_REQUIRE_S3(var)                                                                \
  std::string var##_why;                                                                    \
  auto var##_opt = ::zenith::testing::LoadS3TestEnv(&var##_why);                            \
  if (!var##_opt) {                                                                         \
    ASSERT_FALSE(::zenith::testing::InCi()) << "no S3 service for this test: " << var##_why; \
    GTEST_SKIP() << "no S3 service (run the suite with tests/run.sh): " << var##_why;       \
  }                                                                                         \
  const ::zenith::testing::S3TestEnv& var = *var##_opt
