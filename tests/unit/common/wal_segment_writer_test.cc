// common/wal_segment_writer.h: WAL bytes land at their LSNs in full-size
// segment files, and DiscardFrom zeroes what follows a point in place.
#include "common/wal_segment_writer.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "common/byte_io.h"
#include "common/file_util.h"
#include "tests/harness/temp_dir.h"

namespace zenith {
namespace {

using ::zenith::testing::TempDir;

std::string Segment(const std::string& dir, uint64_t segno) {
  return dir + "/" + WalSegmentFileName(kPgTimeLineId, segno);
}

ino_t Inode(const std::string& path) {
  struct stat st{};
  ::stat(path.c_str(), &st);
  return st.st_ino;
}

TEST(WalSegmentWriter, BytesCrossingASegmentBoundaryLandInBothFilesAtFullSize) {
  TempDir dir("wal-writer");
  WalSegmentWriter w(dir.path(), WalSegmentWriter::Existing::kKeep);
  const std::string bytes(100, 'x');
  const Lsn at(2 * uint64_t{kWalSegmentSize} - 40);
  ASSERT_TRUE(w.Write(at, AsBytes(bytes)).ok());
  ASSERT_TRUE(w.Sync().ok());
  auto first = ReadFileToString(Segment(dir.path(), 1));
  auto second = ReadFileToString(Segment(dir.path(), 2));
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(first->size(), kWalSegmentSize);
  EXPECT_EQ(second->size(), kWalSegmentSize);
  EXPECT_EQ(first->substr(kWalSegmentSize - 40), std::string(40, 'x'));
  EXPECT_EQ(second->substr(0, 60), std::string(60, 'x'));
  EXPECT_EQ((*second)[60], '\0') << "the rest of a new segment reads as zeros";
}

TEST(WalSegmentWriter, DiscardFromZeroesTheTailAndLaterSegmentsInPlace) {
  TempDir dir("wal-writer");
  {
    WalSegmentWriter w(dir.path(), WalSegmentWriter::Existing::kKeep);
    ASSERT_TRUE(w.Write(Lsn(uint64_t{kWalSegmentSize}), AsBytes(std::string(kWalSegmentSize + 100, 'y'))).ok());
    ASSERT_TRUE(w.Sync().ok());
  }
  const ino_t second_inode = Inode(Segment(dir.path(), 2));
  WalSegmentWriter w(dir.path(), WalSegmentWriter::Existing::kKeep);
  ASSERT_TRUE(w.DiscardFrom(Lsn(uint64_t{kWalSegmentSize} + 1000)).ok());
  auto first = ReadFileToString(Segment(dir.path(), 1));
  auto second = ReadFileToString(Segment(dir.path(), 2));
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(first->substr(0, 1000), std::string(1000, 'y')) << "what comes before the point stays";
  EXPECT_EQ(first->substr(1000), std::string(kWalSegmentSize - 1000, '\0'));
  EXPECT_EQ(*second, std::string(kWalSegmentSize, '\0'));
  EXPECT_EQ(Inode(Segment(dir.path(), 2)), second_inode) << "zeroed in place: a reader may hold it open";
  // Writing on from the point continues in the same files.
  ASSERT_TRUE(w.Write(Lsn(uint64_t{kWalSegmentSize} + 1000), AsBytes(std::string(10, 'z'))).ok());
  EXPECT_EQ(ReadFileToString(Segment(dir.path(), 1)).value_or("").substr(1000, 11), std::string(10, 'z') + '\0');
}

TEST(WalSegmentWriter, ReplaceEmptiesAnOldSegmentWhenFirstOpened) {
  TempDir dir("wal-writer");
  ASSERT_TRUE(WriteFileDurably(Segment(dir.path(), 1), std::string(4096, 'o')).ok());
  WalSegmentWriter w(dir.path(), WalSegmentWriter::Existing::kReplace);
  ASSERT_TRUE(w.Write(Lsn(uint64_t{kWalSegmentSize} + 10), AsBytes(std::string("new"))).ok());
  auto seg = ReadFileToString(Segment(dir.path(), 1));
  ASSERT_TRUE(seg.ok());
  EXPECT_EQ(seg->substr(0, 13), std::string(10, '\0') + "new");
}

TEST(WalSegmentWriter, AWriteIntoAMissingDirectoryIsAnError) {
  WalSegmentWriter w("/nonexistent/wal", WalSegmentWriter::Existing::kKeep);
  Status s = w.Write(Lsn(uint64_t{kWalSegmentSize}), AsBytes(std::string("x")));
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("/nonexistent/wal"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace zenith
