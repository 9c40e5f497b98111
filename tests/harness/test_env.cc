#include "tests/harness/test_env.h"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <system_error>

namespace zenith::testing {

namespace {
std::string EnvOr(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}
}  // namespace

std::string ZenithBin(const std::string& name) { return EnvOr("ZENITH_BIN_DIR", "build/bin") + "/" + name; }
std::string TestProgram(const std::string& name) {
  return EnvOr("ZENITH_TEST_PROGRAM_DIR", "build/tests/programs") + "/" + name;
}

Result<std::string> BinDirWithFs(const std::string& dir, const std::string& fs_program) {
  namespace stdfs = std::filesystem;
  std::error_code ec;
  stdfs::create_directories(dir, ec);
  // A copy, not a link: `zenith` finds its programs through /proc/self/exe.
  if (!ec) stdfs::copy_file(ZenithBin("zenith"), dir + "/zenith", stdfs::copy_options::overwrite_existing, ec);
  if (!ec) stdfs::create_symlink(stdfs::absolute(ZenithBin("zenith-pageserver")), dir + "/zenith-pageserver", ec);
  if (!ec) stdfs::create_symlink(stdfs::absolute(fs_program), dir + "/zenith-fs", ec);
  if (ec) return IoError("could not make the program directory " + dir + ": " + ec.message());
  return dir + "/zenith";
}

std::string PgBin(const std::string& name) {
  return EnvOr("ZENITH_PG_BIN_DIR", "/usr/lib/postgresql/15/bin") + "/" + name;
}
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
