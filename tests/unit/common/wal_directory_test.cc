// MakeWalDirectoryReader: WAL segment files as one byte stream, where a
// missing or short file is the end of what exists and only real I/O
// failures are errors.
#include "common/wal_directory.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <random>
#include <thread>

#include "tests/unit/common/wal_test_util.h"

namespace zenith::testing {
namespace {

// The byte a test segment holds at `pos`: its segment number mixed with
// the offset, so misplaced reads show.
uint8_t PatternAt(Lsn pos) { return static_cast<uint8_t>(pos.segment_number() * 31 + pos.segment_offset() / 7); }

void WriteSegment(const std::string& dir, uint64_t segno, size_t size) {
  std::string data(size, '\0');
  for (size_t i = 0; i < size; ++i) data[i] = static_cast<char>(PatternAt(Lsn(segno * kWalSegmentSize + i)));
  ASSERT_TRUE(WriteFileDurably(SegmentPath(dir, segno), data).ok());
}

size_t OpenFdCount() {
  size_t n = 0;
  DIR* d = opendir("/proc/self/fd");
  if (d == nullptr) return 0;
  while (readdir(d) != nullptr) ++n;
  closedir(d);
  return n;
}

Result<std::vector<uint8_t>> Read(const WalReadFn& read, Lsn pos, size_t n) {
  std::vector<uint8_t> buf(n, 0xEE);
  ZENITH_ASSIGN_OR_RETURN(size_t got, read(pos, buf));
  buf.resize(got);
  return buf;
}

void ExpectPattern(const std::vector<uint8_t>& bytes, Lsn pos) {
  for (size_t i = 0; i < bytes.size(); ++i) {
    ASSERT_EQ(bytes[i], PatternAt(pos + i)) << "at " << (pos + i).ToString();
  }
}

TEST(WalDirectory, ReadsAcrossSegmentsAndStopsWhereFilesEnd) {
  TempDir tmp("wal-dir");
  WriteSegment(tmp.path(), 1, kWalSegmentSize);
  WriteSegment(tmp.path(), 2, 5000);  // a short file: what exists ends at 5000
  WalReadFn read = MakeWalDirectoryReader(tmp.path(), 1);
  const Lsn near_end(2 * kWalSegmentSize - 100);
  auto across = Read(read, near_end, 300);
  ASSERT_TRUE(across.ok());
  ASSERT_EQ(across->size(), 300u);
  ExpectPattern(*across, near_end);
  auto short_tail = Read(read, Lsn(2 * kWalSegmentSize + 4000), 8192);
  ASSERT_TRUE(short_tail.ok());
  EXPECT_EQ(short_tail->size(), 1000u);
  ExpectPattern(*short_tail, Lsn(2 * kWalSegmentSize + 4000));
  auto past_end = Read(read, Lsn(2 * kWalSegmentSize + 6000), 100);
  ASSERT_TRUE(past_end.ok());
  EXPECT_TRUE(past_end->empty());
  auto missing = Read(read, Lsn(3 * kWalSegmentSize), 100);
  ASSERT_TRUE(missing.ok());
  EXPECT_TRUE(missing->empty());
  auto before = Read(read, Lsn(0), 100);  // segment 0 was never there
  ASSERT_TRUE(before.ok());
  EXPECT_TRUE(before->empty());
}

TEST(WalDirectory, SegmentThatAppearsLaterIsRead) {
  TempDir tmp("wal-dir-later");
  WalReadFn read = MakeWalDirectoryReader(tmp.path(), 1);
  auto none = Read(read, Lsn(kWalSegmentSize), 10);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  WriteSegment(tmp.path(), 1, 8192);
  auto some = Read(read, Lsn(kWalSegmentSize), 10);
  ASSERT_TRUE(some.ok());
  EXPECT_EQ(some->size(), 10u);
}

TEST(WalDirectory, OtherTimelinesAndNonSegmentFilesAreIgnored) {
  TempDir tmp("wal-dir-tli");
  WriteSegment(tmp.path(), 1, 8192);
  ASSERT_TRUE(WriteFileDurably(tmp.Sub(WalSegmentFileName(2, 1)), std::string(8192, 'x')).ok());
  WalReadFn tli2 = MakeWalDirectoryReader(tmp.path(), 2);
  auto r = Read(tli2, Lsn(kWalSegmentSize), 4);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, std::vector<uint8_t>(4, 'x'));
  TempDir only_partial("wal-dir-partial");
  ASSERT_TRUE(WriteFileDurably(only_partial.Sub(WalSegmentFileName(1, 1) + ".partial"), "x").ok());
  auto end = FindEndOfWalInDirectory(only_partial.path(), 1, 0, Lsn());
  EXPECT_EQ(end.status().code(), StatusCode::kNotFound) << end.status().ToString();
}

TEST(WalDirectory, KeepsOnlyAFewSegmentFilesOpen) {
  TempDir tmp("wal-dir-fds");
  for (uint64_t s = 1; s <= 12; ++s) WriteSegment(tmp.path(), s, 4096);
  const size_t before = OpenFdCount();
  WalReadFn read = MakeWalDirectoryReader(tmp.path(), 1);
  for (int round = 0; round < 2; ++round) {
    for (uint64_t s = 1; s <= 12; ++s) {
      auto r = Read(read, Lsn(s * kWalSegmentSize + 100), 50);
      ASSERT_TRUE(r.ok());
      ExpectPattern(*r, Lsn(s * kWalSegmentSize + 100));
    }
  }
  EXPECT_LE(OpenFdCount(), before + 4);
  read = nullptr;  // the last copy of the reader closes its files
  EXPECT_EQ(OpenFdCount(), before);
}

TEST(WalDirectory, ConcurrentReadersSeeTheRightBytes) {
  TempDir tmp("wal-dir-threads");
  for (uint64_t s = 1; s <= 6; ++s) WriteSegment(tmp.path(), s, 64 * 1024);
  WalReadFn read = MakeWalDirectoryReader(tmp.path(), 1);
  std::atomic<int> bad{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(t);
      for (int i = 0; i < 2000; ++i) {
        Lsn pos((1 + rng() % 6) * kWalSegmentSize + rng() % (60 * 1024));
        std::vector<uint8_t> buf(512);
        auto got = read(pos, buf);
        if (!got.ok() || *got != buf.size()) {
          ++bad;
          continue;
        }
        for (size_t k = 0; k < buf.size(); ++k) bad += buf[k] != PatternAt(pos + k);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(bad.load(), 0);
}

TEST(WalDirectory, UnreadableSegmentIsAnErrorNotTheEndOfWal) {
  if (RunningAsRoot()) GTEST_SKIP() << "root reads files whatever their mode";
  TempDir tmp("wal-dir-eacces");
  WriteSegment(tmp.path(), 1, 8192);
  ASSERT_EQ(::chmod(SegmentPath(tmp.path(), 1).c_str(), 0), 0);
  auto r = Read(MakeWalDirectoryReader(tmp.path(), 1), Lsn(kWalSegmentSize), 10);
  EXPECT_EQ(r.status().code(), StatusCode::kIoError);
  EXPECT_NE(r.status().message().find(WalSegmentFileName(1, 1)), std::string::npos) << r.status().ToString();
  auto end = FindEndOfWalInDirectory(tmp.path(), 1, 0, Lsn());
  EXPECT_EQ(end.status().code(), StatusCode::kIoError) << end.status().ToString();
}

}  // namespace
}  // namespace zenith::testing
