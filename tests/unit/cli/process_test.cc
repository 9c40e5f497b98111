// cli/process.h: foreground programs, their exit codes, filtered output and
// collected (bounded) error output.
#include "cli/process.h"

#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdio>

#include "common/file_util.h"
#include "common/unique_fd.h"
#include "tests/harness/temp_dir.h"

namespace zenith::cli {
namespace {

// Runs `body` with this process's stdout going to a file; returns what was
// written there.
template <typename F>
std::string CapturingStdout(F body) {
  zenith::testing::TempDir dir("process");
  const std::string path = dir.path() + "/stdout";
  std::fflush(stdout);
  UniqueFd saved(dup(STDOUT_FILENO));
  {
    UniqueFd file(open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    EXPECT_GE(dup2(file.get(), STDOUT_FILENO), 0);
  }
  body();
  std::fflush(stdout);
  dup2(saved.get(), STDOUT_FILENO);
  auto text = ReadFileToString(path);
  return text.ok() ? *text : "";
}

TEST(Process, ExitCodesAndSignalsComeBack) {
  EXPECT_EQ(RunForeground({"/bin/sh", "-c", "exit 0"}).value(), 0);
  EXPECT_EQ(RunForeground({"/bin/sh", "-c", "exit 7"}).value(), 7);
  EXPECT_EQ(RunForeground({"/bin/sh", "-c", "kill -9 $$"}).value(), 128 + 9);
  auto missing = RunForeground({"/no/such/program"});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("/no/such/program"), std::string::npos) << missing.status().message();
}

TEST(Process, FilteredOutputDropsTheLinesTheFilterRefusesAndKeepsAnUnterminatedLast) {
  int code = -1;
  const std::string shown = CapturingStdout([&] {
    code = RunForegroundFiltered({"/bin/sh", "-c", "printf 'keep 1\\ndrop\\nkeep 2\\nkeep 3'; exit 4"},
                                 [](std::string_view line) { return line.starts_with("keep"); })
               .value();
  });
  EXPECT_EQ(code, 4);
  EXPECT_EQ(shown, "keep 1\nkeep 2\nkeep 3");
}

TEST(Process, ErrorsAreCollectedNotShownAndBounded) {
  std::string shown = CapturingStdout([] {
    auto out = RunCollectingErrors({"/bin/sh", "-c", "echo to stdout; echo 'zenith-pageserver: no space' >&2; exit 1"});
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    EXPECT_EQ(out->exit_code, 1);
    EXPECT_EQ(out->errors, "zenith-pageserver: no space\n");
  });
  EXPECT_EQ(shown, "to stdout\n") << "stdout stays the user's";
  // A flood of errors neither blocks the child nor grows without bound.
  auto flood = RunCollectingErrors({"/bin/sh", "-c", "head -c 1000000 /dev/zero | tr '\\0' e >&2"});
  ASSERT_TRUE(flood.ok()) << flood.status().ToString();
  EXPECT_EQ(flood->exit_code, 0);
  EXPECT_EQ(flood->errors, std::string(kMaxCollectedErrors, 'e'));
}

}  // namespace
}  // namespace zenith::cli
