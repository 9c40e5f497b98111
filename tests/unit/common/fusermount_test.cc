// CheckFusermount (common/fusermount.h): a user's mount names the cause when
// fusermount3 is missing or has lost its setuid bit, and passes on a helper
// installed as fuse3 ships it.
#include "common/fusermount.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/harness/temp_dir.h"

namespace zenith {
namespace {

using testing::TempDir;

constexpr uid_t kUser = 1000;

std::string MakeFile(const TempDir& dir, mode_t mode) {
  std::string path = dir.path() + "/fusermount3";
  int fd = open(path.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
  EXPECT_GE(fd, 0);
  close(fd);
  EXPECT_EQ(chmod(path.c_str(), mode), 0);
  return path;
}

TEST(Fusermount, RootNeedsNoHelper) {
  EXPECT_TRUE(CheckFusermount("/nonexistent/fusermount3", 0).ok());
}

TEST(Fusermount, MissingHelperIsNamed) {
  Status s = CheckFusermount("/nonexistent/fusermount3", kUser);
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_NE(s.message().find("/nonexistent/fusermount3 is missing"), std::string::npos) << s.ToString();
}

TEST(Fusermount, HelperWithoutSetuidIsNamedWithTheRepair) {
  TempDir dir;
  std::string helper = MakeFile(dir, 0755);
  Status s = CheckFusermount(helper, kUser);
  EXPECT_EQ(s.code(), StatusCode::kPermissionDenied);
  EXPECT_NE(s.message().find("not setuid root (mode 0755"), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find("dpkg --configure -a"), std::string::npos) << s.ToString();
}

TEST(Fusermount, SetuidHelperNotOwnedByRootIsRefused) {
  if (geteuid() == 0) GTEST_SKIP() << "a file made by root is owned by root";
  TempDir dir;
  std::string helper = MakeFile(dir, 04755);
  EXPECT_EQ(CheckFusermount(helper, kUser).code(), StatusCode::kPermissionDenied);
}

TEST(Fusermount, DirectoryIsNotAHelper) {
  TempDir dir;
  EXPECT_EQ(CheckFusermount(dir.path(), kUser).code(), StatusCode::kUnavailable);
}

// The machine's own helper, as mount_helpers/install-deps.sh leaves it.
TEST(Fusermount, InstalledHelperPasses) {
  Status s = CheckFusermount(kFusermount, kUser);
  EXPECT_TRUE(s.ok()) << s.ToString();
}

}  // namespace
}  // namespace zenith
