// The inode table's lookup counts, without FUSE: they are invariants, and an
// underflow (the kernel forgetting more than it was given) aborts.
#include "fs/inode_table.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "common/file_util.h"
#include "tests/harness/temp_dir.h"

namespace zenith::fs {
namespace {

UniqueFd OpenPath(const std::string& path) { return UniqueFd(::open(path.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC)); }

struct stat StatOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
  return st;
}

class FsInodeTableTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(WriteFileDurably(dir_.Sub("file"), "x").ok()); }
  testing::TempDir dir_{"inode-table"};
  InodeTable table_{OpenPath(dir_.path()), StatOf(dir_.path())};
};

TEST_F(FsInodeTableTest, EveryLookupIsCountedAndTheLastForgetDropsTheInode) {
  const std::string path = dir_.Sub("file");
  struct stat st = StatOf(path);
  Inode& first = table_.Acquire(OpenPath(path), st, "file", nullptr, false);
  Inode& again = table_.Acquire(OpenPath(path), st, "file", nullptr, false);
  EXPECT_EQ(&first, &again);  // one inode per scratch file
  fuse_ino_t ino = table_.IdOf(first);
  EXPECT_EQ(&table_.Get(ino), &first);
  table_.Forget(ino, 1);
  EXPECT_EQ(table_.Find(st.st_dev, st.st_ino), &first);
  table_.Forget(ino, 1);
  EXPECT_EQ(table_.Find(st.st_dev, st.st_ino), nullptr);
}

TEST_F(FsInodeTableTest, RootIsFuseRootIdAndNeverDropped) {
  EXPECT_EQ(table_.IdOf(table_.root()), FUSE_ROOT_ID);
  table_.Forget(FUSE_ROOT_ID, 1000);
  EXPECT_EQ(&table_.Get(FUSE_ROOT_ID), &table_.root());
}

TEST_F(FsInodeTableTest, ForgettingMoreLookupsThanGivenAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const std::string path = dir_.Sub("file");
  Inode& inode = table_.Acquire(OpenPath(path), StatOf(path), "file", nullptr, false);
  fuse_ino_t ino = table_.IdOf(inode);
  EXPECT_DEATH(table_.Forget(ino, 2), "");
}

}  // namespace
}  // namespace zenith::fs
