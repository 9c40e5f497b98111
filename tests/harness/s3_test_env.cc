#include "tests/harness/s3_test_env.h"

#include <cstdlib>
#include <fstream>
#include <random>

namespace zenith::testing {

std::string S3TestEnv::UniquePrefix() {
  std::random_device rd;
  char buf[32];
  snprintf(buf, sizeof buf, "t-%08x%08x", rd(), rd());
  return buf;
}

std::optional<S3TestEnv> LoadS3TestEnv(std::string* why) {
  const char* path = std::getenv("ZENITH_TEST_S3_ENV");
  if (path == nullptr || *path == '\0') {
    *why = "ZENITH_TEST_S3_ENV is not set";
    return std::nullopt;
  }
  std::ifstream in(path);
  if (!in) {
    *why = std::string("cannot read ZENITH_TEST_S3_ENV file ") + path;
    return std::nullopt;
  }
  S3TestEnv env;
  std::string line;
  while (std::getline(in, line)) {
    size_t eq = line.find('=');
    if (eq != std::string::npos) env.vars[line.substr(0, eq)] = line.substr(eq + 1);
  }
  for (const char* name : {"AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "ZENITH_TEST_BUCKET"}) {
    if (env.vars[name].empty()) {
      *why = std::string(path) + " lacks " + name;
      return std::nullopt;
    }
  }
  env.bucket = env.vars["ZENITH_TEST_BUCKET"];
  return env;
}

}  // namespace zenith::testing
