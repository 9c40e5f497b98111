// CreateRepositoryAtomically (pageserver/repo/new_repository.h): a
// repository appears whole or not at all, and what a killed creation left
// ("<root>.tmp-<pid>" of a process that is gone) is removed by the next,
// while a live process's is left alone.
#include "pageserver/repo/new_repository.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/file_util.h"
#include "tests/harness/temp_dir.h"

namespace zenith::pageserver {
namespace {

// A pid no process has: a child that has exited and been reaped.
pid_t GonePid() {
  const pid_t pid = fork();
  if (pid == 0) _exit(0);
  int status = 0;
  waitpid(pid, &status, 0);
  return pid;
}

TEST(NewRepositoryTest, AKilledCreationsTempRootGoesAndALiveOnesStays) {
  testing::TempDir dir("new-repo");
  const std::string root = dir.Sub(".zenith");
  const std::string abandoned = root + ".tmp-" + std::to_string(GonePid());
  const std::string live = root + ".tmp-1";  // init: alive for as long as the machine
  const std::string other = dir.Sub("other.tmp-99999999");
  for (const auto& d : {abandoned, live, other}) ASSERT_TRUE(MakeDirectories(d + "/timelines", 0700).ok());
  Status st = CreateRepositoryAtomically(root, [](const RepoLayout& layout) {
    return MakeDirectories(layout.root + "/refs", 0700);
  });
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_TRUE(PathExists(root + "/refs"));
  EXPECT_FALSE(PathExists(abandoned)) << "what a killed creation left is still there";
  EXPECT_TRUE(PathExists(live)) << "a live process's work was removed";
  EXPECT_TRUE(PathExists(other)) << "a name that is not this root's temp was removed";
}

TEST(NewRepositoryTest, AFailedBuildLeavesNothing) {
  testing::TempDir dir("new-repo");
  const std::string root = dir.Sub(".zenith");
  Status st = CreateRepositoryAtomically(root, [](const RepoLayout& layout) {
    EXPECT_TRUE(MakeDirectories(layout.root + "/refs", 0700).ok());
    return IoError("disk full");
  });
  EXPECT_EQ(st.code(), StatusCode::kIoError);
  auto names = ListDirectory(dir.path());
  ASSERT_TRUE(names.ok());
  EXPECT_TRUE(names->empty()) << (*names)[0];
}

}  // namespace
}  // namespace zenith::pageserver
