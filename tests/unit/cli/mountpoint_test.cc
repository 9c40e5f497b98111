// cli/mountpoint.h: reading the mount table, the checks before a mount,
// and finding a postmaster from its pid file.
#include "cli/mountpoint.h"

#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "common/file_util.h"
#include "tests/harness/temp_dir.h"

namespace zenith::cli {
namespace {

using zenith::testing::TempDir;

TEST(Mountpoint, OnlyFuseZenithEntriesForThatExactDirectoryCount) {
  const std::string table =
      "proc /proc proc rw,nosuid 0 0\n"
      "zenith /home/u/main fuse.zenith rw,nosuid,nodev 0 0\n"
      "zenith /home/u/my\\040branch fuse.zenith rw 0 0\n"
      "sshfs /home/u/other fuse.sshfs rw 0 0\n";
  EXPECT_TRUE(ListsZenithMount(table, "/home/u/main"));
  EXPECT_TRUE(ListsZenithMount(table, "/home/u/my branch")) << "\\040 is a space";
  EXPECT_FALSE(ListsZenithMount(table, "/home/u/my\\040branch"));
  EXPECT_FALSE(ListsZenithMount(table, "/home/u/other")) << "another FUSE file system";
  EXPECT_FALSE(ListsZenithMount(table, "/home/u")) << "a parent is not the mount";
  EXPECT_FALSE(ListsZenithMount(table, "/proc"));
  EXPECT_FALSE(ListsZenithMount("", "/home/u/main"));
  EXPECT_FALSE(ListsZenithMount("garbage\n\n \\0", "/home/u/main"));
  EXPECT_FALSE(IsZenithMount("/")) << "this machine's root is no zenith mount";
}

TEST(Mountpoint, TheDaemonOfAMountIsNamedByItsSource) {
  const std::string table =
      "zenith:4242 /home/u/main fuse.zenith rw,nosuid,nodev 0 0\n"
      "zenith /home/u/old fuse.zenith rw 0 0\n"
      "zenith:12x /home/u/bad fuse.zenith rw 0 0\n"
      "zenith:77 /home/u/other fuse.sshfs rw 0 0\n";
  EXPECT_EQ(ListedDaemon(table, "/home/u/main"), 4242);
  EXPECT_TRUE(ListsZenithMount(table, "/home/u/main"));
  EXPECT_EQ(ListedDaemon(table, "/home/u/old"), std::nullopt) << "a mount of an older zenith-fs names none";
  EXPECT_EQ(ListedDaemon(table, "/home/u/bad"), std::nullopt);
  EXPECT_EQ(ListedDaemon(table, "/home/u/other"), std::nullopt) << "not a zenith mount";
  EXPECT_EQ(ListedDaemon(table, "/home/u/none"), std::nullopt);
}

TEST(Mountpoint, OnlyTheListedDaemonsZenithMountMayBeStopped) {
  const std::string table =
      "zenith:4242 /home/u/main fuse.zenith rw,nosuid,nodev 0 0\n"
      "/dev/sda1 /home/u/pgdata ext4 rw 0 0\n";
  EXPECT_TRUE(CheckListedMountOf(table, "/home/u/main", 4242).ok());
  Status plain = CheckListedMountOf(table, "/home/u/pgdata", 4242);
  EXPECT_EQ(plain.message(), "/home/u/pgdata is not a zenith mount");
  EXPECT_EQ(CheckListedMountOf(table, "/home/u/elsewhere", 4242).message(), "/home/u/elsewhere is not a zenith mount");
  Status other = CheckListedMountOf(table, "/home/u/main", 77);
  EXPECT_FALSE(other.ok());
  EXPECT_NE(other.message().find("another daemon"), std::string::npos) << other.ToString();
}

TEST(Mountpoint, AMissingDirectoryIsCreatedPrivate) {
  TempDir dir("mountpoint");
  const std::string target = dir.path() + "/a/b";
  ASSERT_TRUE(PrepareMountpoint(target).ok());
  struct stat st;
  ASSERT_EQ(stat(target.c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_TRUE(PrepareMountpoint(target).ok()) << "an existing empty directory is fine";
}

TEST(Mountpoint, FilesAndNonEmptyDirectoriesAreRefusedSayingWhy) {
  TempDir dir("mountpoint");
  const std::string file = dir.path() + "/file";
  ASSERT_TRUE(WriteFileDurably(file, "x").ok());
  Status s = PrepareMountpoint(file);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("is not a directory"), std::string::npos) << s.message();
  s = PrepareMountpoint(dir.path());
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("is not empty"), std::string::npos) << s.message();
  EXPECT_TRUE(PathExists(file)) << "a refused mountpoint is left alone";
}

TEST(Mountpoint, RelativePathsAreMadeAbsoluteAgainstTheWorkingDirectory) {
  char cwd[4096];
  ASSERT_NE(getcwd(cwd, sizeof cwd), nullptr);
  EXPECT_EQ(AbsolutePath("/x/y"), "/x/y");
  EXPECT_EQ(AbsolutePath("x/y"), std::string(cwd) + "/x/y");
}

}  // namespace
}  // namespace zenith::cli
