#include "tests/harness/test_env.h"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <system_error>
#include <utility>

#include "common/file_util.h"

namespace zenith::testing {

namespace {
std::string EnvOr(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}
}  // namespace

std::string ZenithBin(const std::string& name) { return EnvOr("ZENITH_BIN_DIR", "build/bin") + "/" + name; }
std::string TestProgram(const std::string& name) {
  // Beside ZenithBin's bin/ when ctest did not say (it does not for every
  // test: gtest_discover_tests keeps the environment of the first discovery).
  const std::string beside_bin = EnvOr("ZENITH_BIN_DIR", "build/bin") + "/../tests/programs";
  return EnvOr("ZENITH_TEST_PROGRAM_DIR", beside_bin.c_str()) + "/" + name;
}

Result<std::string> BinDirWithFs(const std::string& dir, const std::string& fs_program) {
  return BinDirWith(dir, fs_program, ZenithBin("zenith-pageserver"));
}

Result<std::string> BinDirWith(const std::string& dir, const std::string& fs_program,
                               const std::string& pageserver_program) {
  ZENITH_RETURN_IF_ERROR(MakeDirectories(dir));
  // Copies, not links: `zenith` finds its programs through /proc/self/exe.
  const std::pair<std::string, std::string> copies[] = {
      {ZenithBin("zenith"), "zenith"}, {pageserver_program, "zenith-pageserver"}, {fs_program, "zenith-fs"}};
  for (const auto& [from, name] : copies) {
    std::error_code ec;
    std::filesystem::copy_file(from, dir + "/" + name, std::filesystem::copy_options::overwrite_existing, ec);
    if (ec) return IoError("could not copy " + from + " to " + dir + "/" + name + ": " + ec.message());
  }
  return dir + "/zenith";
}

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
