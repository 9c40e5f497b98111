// BeneathDir: files, directories and links made beneath a root, never
// through a symbolic link wherever it is in the path, never outside by ".."
// or an absolute name; both ways of resolving (openat2, and the walk used
// where the kernel lacks it) refuse the same paths.
#include "common/beneath.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "common/file_util.h"
#include "tests/harness/temp_dir.h"

namespace zenith {
namespace {

using ::zenith::testing::TempDir;

class BeneathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(MakeDirectories(dir_.Sub("root/real")).ok());
    ASSERT_TRUE(MakeDirectories(dir_.Sub("outside")).ok());
    // "x -> outside" in the middle of a path, and a link to a directory
    // inside the root, which is refused just the same.
    ASSERT_EQ(::symlink(dir_.Sub("outside").c_str(), dir_.Sub("root/x").c_str()), 0);
    ASSERT_EQ(::symlink("real", dir_.Sub("root/inner").c_str()), 0);
    ASSERT_EQ(::symlink(dir_.Sub("outside/file").c_str(), dir_.Sub("root/real/dangling").c_str()), 0);
    auto root = BeneathDir::Open(dir_.Sub("root"));
    ASSERT_TRUE(root.ok()) << root.status().ToString();
    root_.emplace(std::move(*root));
  }
  std::vector<std::string> Outside() { return ListDirectory(dir_.Sub("outside")).value(); }

  TempDir dir_{"beneath"};
  std::optional<BeneathDir> root_;
};

TEST_F(BeneathTest, FilesAndDirectoriesAreMadeBeneathTheRoot) {
  ASSERT_TRUE(root_->MakeDirectories("base/5", 0700).ok());
  ASSERT_TRUE(root_->MakeDirectories("base/5", 0700).ok()) << "an existing directory is fine";
  auto fd = root_->OpenFile("base/5/16384", O_WRONLY | O_CREAT | O_EXCL, 0600);
  ASSERT_TRUE(fd.ok()) << fd.status().ToString();
  ASSERT_EQ(::write(fd->get(), "page", 4), 4);
  EXPECT_EQ(*ReadFileToString(dir_.Sub("root/base/5/16384")), "page");
  ASSERT_TRUE(root_->ChmodDirectory("base/5", 0750).ok());
  struct stat st;
  ASSERT_EQ(::stat(dir_.Sub("root/base/5").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0750u);
  ASSERT_TRUE(root_->Symlink("pg_tblspc_link", "/anywhere").ok()) << "a link may be made, not followed";
  char target[64] = {};
  ASSERT_GT(::readlink(dir_.Sub("root/pg_tblspc_link").c_str(), target, sizeof target - 1), 0);
  EXPECT_STREQ(target, "/anywhere");
}

TEST_F(BeneathTest, ALinkInTheMiddleOfAPathIsRefused) {
  for (const char* rel : {"x/authorized_keys", "inner/file"}) {
    auto fd = root_->OpenFile(rel, O_WRONLY | O_CREAT, 0600);
    ASSERT_FALSE(fd.ok()) << rel;
    EXPECT_EQ(fd.status().code(), StatusCode::kPermissionDenied) << fd.status().ToString();
    EXPECT_NE(fd.status().message().find("symbolic link"), std::string::npos) << fd.status().ToString();
    Status made = root_->MakeDirectories(std::string(rel) + "/deeper");
    EXPECT_EQ(made.code(), StatusCode::kPermissionDenied) << made.ToString();
    EXPECT_NE(made.message().find("symbolic link"), std::string::npos) << made.ToString();
    EXPECT_FALSE(root_->Symlink(std::string(rel) + "/link", "/etc").ok()) << rel;
    EXPECT_FALSE(root_->ChmodDirectory(rel, 0777).ok()) << rel;
  }
  EXPECT_TRUE(Outside().empty()) << "nothing was made through the link";
  EXPECT_FALSE(PathExists(dir_.Sub("root/real/file")));
}

TEST_F(BeneathTest, ALinkAsTheLastComponentIsNeitherOpenedNorUsedAsADirectory) {
  EXPECT_FALSE(root_->OpenFile("real/dangling", O_WRONLY | O_CREAT, 0600).ok());
  EXPECT_FALSE(root_->OpenFile("x", O_RDONLY).ok());
  EXPECT_FALSE(root_->MakeDirectories("x", 0700).ok());
  EXPECT_FALSE(root_->ChmodDirectory("x", 0777).ok());
  EXPECT_TRUE(Outside().empty());
  struct stat st;
  ASSERT_EQ(::stat(dir_.Sub("outside").c_str(), &st), 0);
  EXPECT_NE(st.st_mode & 0777, 0777u);
}

TEST_F(BeneathTest, DotDotAndAbsolutePathsAreRefusedBeforeAnythingIsTouched) {
  for (const char* rel : {"../outside/file", "real/../../outside/file", "/tmp/file", "", "real//file", "./file"}) {
    auto fd = root_->OpenFile(rel, O_WRONLY | O_CREAT, 0600);
    ASSERT_FALSE(fd.ok()) << rel;
    EXPECT_EQ(fd.status().code(), StatusCode::kInvalidArgument) << rel << ": " << fd.status().ToString();
    EXPECT_EQ(root_->MakeDirectories(rel, 0700).code(), StatusCode::kInvalidArgument) << rel;
  }
  EXPECT_TRUE(Outside().empty());
  EXPECT_EQ(ListDirectory(dir_.Sub("root/real")).value(), std::vector<std::string>{"dangling"});
}

TEST_F(BeneathTest, BothWaysOfResolvingRefuseTheSamePaths) {
  ASSERT_TRUE(root_->MakeDirectories("real/a/b", 0700).ok());
  for (bool walk : {false, true}) {
    SCOPED_TRACE(walk ? "walk" : "openat2");
    auto good = beneath_internal::OpenDirectory(root_->fd(), root_->path(), "real/a/b", walk);
    EXPECT_TRUE(good.ok()) << good.status().ToString();
    for (const char* rel : {"x", "x/sub", "inner", "inner/a", "real/dangling"}) {
      auto bad = beneath_internal::OpenDirectory(root_->fd(), root_->path(), rel, walk);
      ASSERT_FALSE(bad.ok()) << rel;
      EXPECT_NE(bad.status().message().find(rel), std::string::npos) << bad.status().ToString();
    }
    for (const char* rel : {"..", "real/../..", "/tmp"}) {
      EXPECT_EQ(beneath_internal::OpenDirectory(root_->fd(), root_->path(), rel, walk).status().code(),
                StatusCode::kInvalidArgument)
          << rel;
    }
  }
}

}  // namespace
}  // namespace zenith
