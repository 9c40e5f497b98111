#include "tests/harness/test_env.h"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>

namespace zenith::testing {

namespace {
std::string EnvOr(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}
}  // namespace

std::string ZenithBin(const std::string& name) { return EnvOr("ZENITH_BIN_DIR", "build/bin") + "/" + name; }
std::string PgBin(const std::string& name) {
  return EnvOr("ZENITH_PG_BIN_DIR", "/usr/lib/postgresql/15/bin") + "/" + name;
}
std::string SourceDir() { return EnvOr("ZENITH_SOURCE_DIR", ZENITH_SOURCE_DIR_DEFAULT); }
std::string CurrentUserName() {
  const passwd* pw = getpwuid(geteuid());
  return pw ? pw->pw_name : "postgres";
}
bool RunningAsRoot() { return geteuid() == 0; }

bool InCi() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::string(ci) == "true";
}

}  // namespace zenith::testing
