// Where the programs under test live. ctest sets ZENITH_BIN_DIR (build/bin),
// ZENITH_TEST_PROGRAM_DIR (build/tests/programs: programs built only for
// tests, from tests/programs/), ZENITH_PG_BIN_DIR (/usr/lib/postgresql/15/bin)
// and ZENITH_SOURCE_DIR (the source tree) for every test.
//
// Thread-safety: reentrant functions.
#pragma once

#include <string>

#include "common/status.h"

namespace zenith::testing {

// Absolute path of a zenith program ("zenith", "zenith-pageserver", "zenith-fs").
std::string ZenithBin(const std::string& name);
// Absolute path of a test-only program ("zenith-fs-never-ready").
std::string TestProgram(const std::string& name);
// Makes `dir` a directory of programs like ZenithBin's, but whose
// zenith-fs and zenith-pageserver are the programs given (a test
// program's seams): copies of `zenith` (which starts the programs beside
// its own file) and of those two. Returns dir + "/zenith".
Result<std::string> BinDirWith(const std::string& dir, const std::string& fs_program,
                               const std::string& pageserver_program);
// BinDirWith with zenith-pageserver as built.
Result<std::string> BinDirWithFs(const std::string& dir, const std::string& fs_program);
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
