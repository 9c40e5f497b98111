// Where the programs under test live. ctest sets ZENITH_BIN_DIR (build/bin),
// ZENITH_PG_BIN_DIR (/usr/lib/postgresql/15/bin) and ZENITH_SOURCE_DIR for
// every test.
#pragma once

#include <string>

namespace zenith::testing {

// Absolute path of a zenith program ("zenith", "zenith-pageserver", "zenith-fs").
std::string ZenithBin(const std::string& name);
// Absolute path of a PostgreSQL 15 program ("initdb", "pg_waldump", ...).
std::string PgBin(const std::string& name);
// The source tree (ZENITH_SOURCE_DIR, set by ctest): docs and scripts tests read.
std::string SourceDir();
// The name of the OS user running the tests.
std::string CurrentUserName();
// True when running as root: PostgreSQL refuses to start then.
bool RunningAsRoot();
// True in CI (CI=true), where a test that needs the second OS user must
// fail rather than skip when it is missing.
bool InCi();

}  // namespace zenith::testing
