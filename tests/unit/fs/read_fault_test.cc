// Reads through the fault seam (common/file_io.h) under a real FUSE mount:
// a local mount reads its pages from the snapshot's layer files
// (fs/local_layer_source.h); when such a read fails with EIO, the reader
// of the mounted file gets EIO, nothing crashes, and the next read works;
// a short read is completed, never served as a short page.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>

#include "fs/local_layer_source.h"
#include "pageserver/layers/layer_writer.h"
#include "tests/harness/fault_file_io.h"
#include "tests/unit/fs/mounted_datadir.h"

namespace zenith::fs::testing {
namespace {

using ::zenith::testing::FaultFileIo;
using ::zenith::testing::FaultRule;
using ::zenith::testing::FileOp;
using ::zenith::testing::Fault;

const RelTag kRel{1663, 5, 16384, ForkNumber::kMain};
const pageserver::TimelineId kTimeline = *pageserver::TimelineId::Parse("000102030405060708090a0b0c0d0e0f");
constexpr uint32_t kBlocks = 8;

// The page server's socket, which must not be asked: the pages are in the
// layer files.
class NoSocket : public PageSource {
 public:
  Status GetPages(const RelTag&, std::span<const uint32_t>, std::span<uint8_t>) override {
    return Unavailable("the page server was asked (test)");
  }
};

class ReadFaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    namespace stdfs = std::filesystem;
    ASSERT_TRUE(MakeDirectories(dir_.Sub("layers")).ok());
    auto writer = pageserver::LayerWriter::Create(dir_.Sub("layers"), kTimeline);
    ASSERT_TRUE(writer.ok()) << writer.status().ToString();
    for (uint32_t b = 0; b < kBlocks; ++b) {
      std::vector<uint8_t> page(kPage, static_cast<uint8_t>('a' + b));
      ASSERT_TRUE((*writer)->AddPage(kRel, b, page).ok());
    }
    ASSERT_TRUE((*writer)->SetRelation(kRel, {kBlocks, kBlocks}).ok());
    auto path = (*writer)->Finish(pageserver::SnapshotLsns{Lsn(100), Lsn(100), Lsn(100)});
    ASSERT_TRUE(path.ok()) << path.status().ToString();
    files_ = {pageserver::LayerFileEntry{*path, kTimeline, Lsn(100)}};
    source_ = std::make_unique<LocalLayerSource>(socket_, [this](Lsn lsn) { return OpenLayerView(files_, lsn); },
                                                 Lsn(100));
    ASSERT_TRUE(source_->WaitLoaded());

    ASSERT_TRUE(MakeDirectories(scratch_ + "/base/5").ok());
    ASSERT_TRUE(WriteFileDurably(scratch_ + "/base/5/16384", "").ok());  // a hole of the file's size:
    stdfs::resize_file(scratch_ + "/base/5/16384", kBlocks * kPage);
    ASSERT_TRUE(stdfs::create_directory(mnt_));
    Status s = mounted_.Mount(scratch_, mnt_, {{"base/5/16384", kBlocks * kPage}}, source_.get());
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  // Block `b` of the mounted relation file, read past the page cache: its
  // first byte, or "errno N".
  std::string ReadBlock(uint32_t b) {
    UniqueFd fd(::open((mnt_ + "/base/5/16384").c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) return "open: " + std::string(std::strerror(errno));
    ::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_DONTNEED);
    std::vector<char> page(kPage);
    const ssize_t n = ::pread(fd.get(), page.data(), kPage, static_cast<off_t>(b) * kPage);
    if (n < 0) return "errno " + std::to_string(errno);
    if (static_cast<size_t>(n) != kPage) return "short: " + std::to_string(n);
    for (char c : page) {
      if (c != page[0]) return "a torn page";
    }
    return std::string(1, page[0]);
  }

  TempDir dir_{"read-fault"};
  const std::string scratch_ = dir_.Sub("scratch"), mnt_ = dir_.Sub("mnt");
  // Before the mount, whose threads read through it.
  FaultFileIo io_;
  ScopedFileIo scoped_{io_};
  NoSocket socket_;
  std::vector<pageserver::LayerFileEntry> files_;
  std::unique_ptr<LocalLayerSource> source_;
  MountedDatadir mounted_;
};

// The fault lasts until cleared: the kernel reads a page that failed once
// more before it answers the reader, so a fault of one call is not seen.
TEST_F(ReadFaultTest, AnEioReadingALayerFileIsEioToTheReaderAndTheNextReadWorks) {
  io_.AddRule({.op = FileOp::kRead, .path_contains = "layers/", .nth = 1, .times = FaultRule::kForever,
               .fault = Fault::kEio});
  EXPECT_EQ(ReadBlock(3), "errno " + std::to_string(EIO));
  EXPECT_GE(io_.faults_injected(), 1);
  EXPECT_NE(io_.last_fault_path().find("layers/"), std::string::npos) << io_.last_fault_path();
  io_.ClearRules();
  EXPECT_EQ(ReadBlock(3), "d") << "the fault has passed";
  EXPECT_EQ(ReadBlock(0), "a");
}

TEST_F(ReadFaultTest, OneFailedReadOfALayerFileIsNotSeenThroughTheKernelsRetry) {
  io_.AddRule({.op = FileOp::kRead, .path_contains = "layers/", .nth = 1, .times = 1, .fault = Fault::kEio});
  EXPECT_EQ(ReadBlock(3), "d");
  EXPECT_EQ(io_.faults_injected(), 1) << "the read went through the seam and failed once";
}

TEST_F(ReadFaultTest, ALayerFileThatKeepsFailingFailsEveryReadUntilItHeals) {
  io_.AddRule({.op = FileOp::kRead, .path_contains = "layers/", .nth = 1, .times = FaultRule::kForever,
               .fault = Fault::kEio});
  for (uint32_t b : {0u, 5u, 7u}) EXPECT_EQ(ReadBlock(b), "errno " + std::to_string(EIO)) << b;
  io_.ClearRules();
  EXPECT_EQ(ReadBlock(5), "f");
  EXPECT_TRUE(mounted_.Unmount().ok()) << "the filesystem stopped cleanly";
}

TEST_F(ReadFaultTest, ShortReadsOfALayerFileAreCompletedNotServedShort) {
  io_.AddRule({.op = FileOp::kRead, .path_contains = "layers/", .nth = 1, .times = FaultRule::kForever,
               .fault = Fault::kShortRead});
  EXPECT_EQ(ReadBlock(2), "c");
  EXPECT_EQ(ReadBlock(6), "g");
  EXPECT_GE(io_.faults_injected(), 2) << "the reads went through the seam";
}

}  // namespace
}  // namespace zenith::fs::testing
