// RelationFile (fs/relation_io.h) without FUSE: a read-modify-write or a
// truncation waiting for the page server holds no lock that reads and
// writes of the same segment wait on, and the result is right when the
// block became local meanwhile.
#include "fs/relation_io.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <condition_variable>
#include <future>
#include <mutex>
#include <string>

#include "common/file_util.h"
#include "tests/harness/temp_dir.h"

namespace zenith::fs {
namespace {

using zenith::testing::TempDir;

constexpr size_t kPage = 8192;
const RelSegment kSeg{RelTag{1663, 5, 16384, ForkNumber::kMain}, 0};

std::vector<uint8_t> Filled(char c, size_t n = kPage) { return std::vector<uint8_t>(n, static_cast<uint8_t>(c)); }

// Every remote page reads 'R'; a call stops until Release() while held.
class GatedPageSource : public PageSource {
 public:
  Status GetPages(const RelTag&, std::span<const uint32_t> blocks, std::span<uint8_t> out) override {
    std::unique_lock lock(mu_);
    ++waiting_;
    cv_.notify_all();
    cv_.wait(lock, [&] { return !held_; });
    --waiting_;
    std::fill(out.begin(), out.end(), static_cast<uint8_t>('R'));
    fetched_ += blocks.size();
    return Status::Ok();
  }
  void Hold() {
    std::lock_guard lock(mu_);
    held_ = true;
  }
  void Release() {
    std::lock_guard lock(mu_);
    held_ = false;
    cv_.notify_all();
  }
  // Waits until a call is stopped at the gate.
  bool AwaitWaiter() {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return waiting_ > 0; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool held_ = false;
  int waiting_ = 0;
  size_t fetched_ = 0;
};

class RelationIoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.Sub("16384");
    fd_ = OpenFile(path_, O_RDWR | O_CREAT, 0600).value();
    ASSERT_EQ(::ftruncate(fd_.get(), 8 * kPage), 0);  // 8 remote blocks, sparse
  }
  RelationFile File() { return RelationFile(segment_, fd_.get(), &pages_, "base/5/16384"); }
  std::vector<uint8_t> ReadBlock(uint32_t block) {
    std::vector<uint8_t> out(kPage);
    auto n = File().Read(block * kPage, out);
    EXPECT_TRUE(n.ok() && *n == kPage);
    return out;
  }

  TempDir dir_{"relation-io"};
  std::string path_;
  UniqueFd fd_;
  Segment segment_{kSeg, 8};
  GatedPageSource pages_;
};

TEST_F(RelationIoTest, AReadModifyWriteWaitingForThePageServerHoldsNobodyBack) {
  ASSERT_TRUE(File().Write(3 * kPage, Filled('L')).ok());  // block 3 is local
  pages_.Hold();
  auto partial = std::async(std::launch::async, [&] { return File().Write(kPage + 10, Filled('P', 100)); });
  ASSERT_TRUE(pages_.AwaitWaiter());
  // Meanwhile, on the same segment: a read of a local block and a whole-block write.
  auto others = std::async(std::launch::async, [&] {
    bool read_ok = ReadBlock(3) == Filled('L');
    return read_ok && File().Write(5 * kPage, Filled('W')).ok();
  });
  EXPECT_EQ(others.wait_for(std::chrono::seconds(5)), std::future_status::ready)
      << "a read or write waited for another's page server round trip";
  pages_.Release();
  ASSERT_TRUE(partial.get().ok());
  EXPECT_TRUE(others.get());
  std::vector<uint8_t> expect = Filled('R');
  std::fill(expect.begin() + 10, expect.begin() + 110, static_cast<uint8_t>('P'));
  EXPECT_EQ(ReadBlock(1), expect);
}

TEST_F(RelationIoTest, ABlockWrittenWhileItsPageWasFetchedKeepsThatWrite) {
  pages_.Hold();
  auto partial = std::async(std::launch::async, [&] { return File().Write(kPage + 10, Filled('P', 100)); });
  ASSERT_TRUE(pages_.AwaitWaiter());
  ASSERT_TRUE(File().Write(kPage, Filled('W')).ok());  // block 1 whole: now local
  pages_.Release();
  ASSERT_TRUE(partial.get().ok());
  std::vector<uint8_t> expect = Filled('W');
  std::fill(expect.begin() + 10, expect.begin() + 110, static_cast<uint8_t>('P'));
  EXPECT_EQ(ReadBlock(1), expect) << "the fetched page must not overwrite the newer write";
}

TEST_F(RelationIoTest, ATruncationInsideARemoteBlockKeepsItsHead) {
  pages_.Hold();
  auto cut = std::async(std::launch::async, [&] { return File().Truncate(2 * kPage + 100); });
  ASSERT_TRUE(pages_.AwaitWaiter());
  auto read = std::async(std::launch::async, [&] { return ReadBlock(0) == Filled('R'); });
  pages_.Release();  // the read of a remote block needs the gate open too
  ASSERT_TRUE(cut.get().ok());
  EXPECT_TRUE(read.get());
  std::vector<uint8_t> tail(kPage);
  auto n = File().Read(2 * kPage, tail);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 100u);
  EXPECT_EQ(std::vector<uint8_t>(tail.begin(), tail.begin() + 100), Filled('R', 100)) << "the head of block 2";
  EXPECT_FALSE(segment_.IsRemote(2));
}

TEST_F(RelationIoTest, WritesAndTruncationsPastTheSegmentAreEfbigAndTrackNothing) {
  const uint64_t segment_bytes = uint64_t{BlocksPerSegment()} * kPage;
  ASSERT_EQ(SegmentFileMaxBytes(), segment_bytes);
  const std::vector<uint8_t> page = Filled('W');
  struct Case {
    std::string what;
    Status status;
  };
  for (const Case& c : {
           Case{"a write at the segment's end", File().Write(segment_bytes, page)},
           Case{"a write across the segment's end", File().Write(segment_bytes - 100, page)},
           Case{"a write near block 2^31", File().Write((uint64_t{1} << 31) * kPage - kPage, page)},
           Case{"a write at the largest offset", File().Write(UINT64_MAX - 10, page)},
           Case{"a truncation past the end", File().Truncate(segment_bytes + 1).status()},
           Case{"a truncation to 2^40 bytes", File().Truncate(uint64_t{1} << 40).status()},
           Case{"an allocation past the end", File().Allocate(0, segment_bytes - kPage, 2 * kPage)},
           Case{"an allocation that overflows", File().Allocate(0, kPage, UINT64_MAX)},
       }) {
    EXPECT_EQ(c.status.sys_errno(), EFBIG) << c.what << ": " << c.status.ToString();
  }
  struct stat st;
  ASSERT_EQ(::fstat(fd_.get(), &st), 0);
  EXPECT_EQ(st.st_size, static_cast<off_t>(8 * kPage)) << "the file is as it was";
  EXPECT_EQ(segment_.TakeDirty(), std::vector<uint32_t>{}) << "no block of this or any segment is dirty";
  EXPECT_EQ(segment_.Used(), std::vector<uint32_t>{});
  EXPECT_EQ(segment_.remote_limit(), 8u);

  // Up to the segment's end is fine: PostgreSQL fills a segment to exactly 1 GB.
  ASSERT_TRUE(File().Write(segment_bytes - kPage, page).ok());
  EXPECT_EQ(segment_.TakeDirty(), std::vector<uint32_t>{BlocksPerSegment() - 1});
  EXPECT_TRUE(File().Truncate(segment_bytes).ok());
  EXPECT_TRUE(File().Allocate(0, 0, segment_bytes).ok());
}

// Records what each read names ahead.
class AheadRecorder : public PageSource {
 public:
  bool ReadsAhead() const override { return true; }
  Status GetPages(const RelTag&, std::span<const uint32_t>, std::span<uint8_t> out) override {
    std::fill(out.begin(), out.end(), static_cast<uint8_t>('R'));
    aheads.emplace_back();
    return Status::Ok();
  }
  Status GetPagesAhead(const RelTag& rel, std::span<const uint32_t> blocks, std::span<uint8_t> out,
                       std::span<const uint32_t> ahead) override {
    Status s = GetPages(rel, blocks, out);
    aheads.back().assign(ahead.begin(), ahead.end());
    return s;
  }
  std::vector<std::vector<uint32_t>> aheads;  // per call
};

TEST(RelationIoReadAhead, SequentialReadsNameTheRemoteBlocksAfterThemAndNoOthers) {
  TempDir dir("relation-io");
  const uint32_t kBlocks = 400;
  auto fd = OpenFile(dir.Sub("16384"), O_RDWR | O_CREAT, 0600);
  ASSERT_TRUE(fd.ok());
  ASSERT_EQ(::ftruncate(fd->get(), kBlocks * kPage), 0);
  Segment segment(kSeg, kBlocks);
  AheadRecorder pages;
  RelationFile file(segment, fd->get(), &pages, "base/5/16384");
  ASSERT_TRUE(file.Write(20 * kPage, Filled('L')).ok());  // block 20 is local
  std::vector<uint8_t> out(2 * kPage);
  for (uint32_t b = 0; b < 6; b += 2) ASSERT_TRUE(file.Read(b * kPage, out).ok());
  ASSERT_EQ(pages.aheads.size(), 3u);
  EXPECT_TRUE(pages.aheads[0].empty()) << "the first read is not known to be sequential";
  std::vector<uint32_t> want;
  for (uint32_t b = 4; b < 4 + Segment::kMinReadAhead; ++b) want.push_back(b);
  EXPECT_EQ(pages.aheads[1], want);
  ASSERT_FALSE(pages.aheads[2].empty());
  EXPECT_EQ(std::find(pages.aheads[2].begin(), pages.aheads[2].end(), 20u), pages.aheads[2].end())
      << "a local block is never fetched ahead";
  ASSERT_TRUE(file.Read(300 * kPage, out).ok());
  EXPECT_TRUE(pages.aheads.back().empty()) << "a jump stops the read-ahead";
  const size_t before_end = pages.aheads.size();
  for (uint32_t b = 390; b < kBlocks; b += 2) ASSERT_TRUE(file.Read(b * kPage, out).ok());
  EXPECT_EQ(pages.aheads[before_end + 1], (std::vector<uint32_t>{394, 395, 396, 397, 398, 399}))
      << "a run near the end is named ahead up to the last remote block";
  for (const auto& ahead : pages.aheads) {
    for (uint32_t b : ahead) EXPECT_LT(b, kBlocks) << "nor one past the remote blocks";
  }
}

}  // namespace
}  // namespace zenith::fs
