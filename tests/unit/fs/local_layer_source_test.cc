// fs/local_layer_source.h: a local mount's pages come from the layer files
// the page server lists, read as the page server reads them (newest layer
// first, page CRCs); the page server's socket serves until they are open
// and whenever they cannot be; a listed file that is not the layer named
// is refused; a damaged page is an error, never other bytes.
#include "fs/local_layer_source.h"

#include <fcntl.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>

#include "common/file_util.h"
#include "common/pg_abi.h"
#include "pageserver/layers/layer_format.h"
#include "pageserver/layers/layer_writer.h"
#include "tests/harness/temp_dir.h"

namespace zenith::fs {
namespace {

using pageserver::LayerFileEntry;
using pageserver::LayerWriter;
using pageserver::SnapshotLsns;
using pageserver::SnapshotView;
using pageserver::TimelineId;

const RelTag kRel{1663, 5, 16384, ForkNumber::kMain};
const TimelineId kTimeline = *TimelineId::Parse("000102030405060708090a0b0c0d0e0f");

size_t Bs() { return kZenithPgAbi.blcksz; }

// Serves every page as bytes 'S' (the page server's socket); counts calls.
class SocketSource : public PageSource {
 public:
  Status GetPages(const RelTag&, std::span<const uint32_t> blocks, std::span<uint8_t> out) override {
    ++calls;
    std::memset(out.data(), 'S', blocks.size() * Bs());
    return Status::Ok();
  }
  int calls = 0;
};

class LocalLayerSourceTest : public ::testing::Test {
 protected:
  // A layer valid at `valid` with block b of kRel filled with fills[b]
  // (' ' = not held); kRel has fills.size() blocks. In `dir` (default: the
  // test's directory).
  LayerFileEntry Layer(uint64_t valid, const std::string& fills, std::string dir = "") {
    if (dir.empty()) dir = dir_.path();
    auto writer = LayerWriter::Create(dir, kTimeline);
    EXPECT_TRUE(writer.ok()) << writer.status().ToString();
    for (size_t b = 0; b < fills.size(); ++b) {
      if (fills[b] == ' ') continue;
      std::vector<uint8_t> page(Bs(), static_cast<uint8_t>(fills[b]));
      EXPECT_TRUE((*writer)->AddPage(kRel, static_cast<uint32_t>(b), page).ok());
    }
    const auto n = static_cast<uint32_t>(fills.size());
    EXPECT_TRUE((*writer)->SetRelation(kRel, {n, n}).ok());
    auto path = (*writer)->Finish(SnapshotLsns{Lsn(valid), Lsn(valid), Lsn(valid)});
    EXPECT_TRUE(path.ok()) << path.status().ToString();
    return LayerFileEntry{path.value_or(""), kTimeline, Lsn(valid)};
  }

  // The first byte of each page a read of blocks [0, n) returns.
  static std::string Read(PageSource& source, uint32_t n) {
    std::vector<uint32_t> blocks(n);
    for (uint32_t b = 0; b < n; ++b) blocks[b] = b;
    std::vector<uint8_t> out(n * Bs());
    Status s = source.GetPages(kRel, blocks, out);
    if (!s.ok()) return std::string(StatusCodeName(s.code())) + ": " + s.message();
    std::string firsts;
    for (uint32_t b = 0; b < n; ++b) firsts += static_cast<char>(out[b * Bs()]);
    return firsts;
  }

  testing::TempDir dir_{"local-layer-source"};
  SocketSource socket_;
};

TEST_F(LocalLayerSourceTest, PagesComeFromTheNewestListedLayerThatHoldsThem) {
  const std::vector<LayerFileEntry> files = {Layer(300, " c c"), Layer(200, " b  "), Layer(100, "aaaa")};
  LocalLayerSource source(socket_, [&](Lsn lsn) { return OpenLayerView(files, lsn); }, Lsn(300));
  ASSERT_TRUE(source.WaitLoaded());
  EXPECT_EQ(Read(source, 4), "acac");
  EXPECT_EQ(socket_.calls, 0);
  EXPECT_NE(source.Summary().find("1 calls, 4 pages from layer files at 0/12C"), std::string::npos) << source.Summary();
}

TEST_F(LocalLayerSourceTest, TheSocketServesUntilTheLayersAreOpen) {
  const std::vector<LayerFileEntry> files = {Layer(100, "aa")};
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  LocalLayerSource source(socket_, [&](Lsn lsn) {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return release; });
    return OpenLayerView(files, lsn);
  }, Lsn(100));
  EXPECT_EQ(Read(source, 2), "SS");
  EXPECT_EQ(socket_.calls, 1);
  {
    std::lock_guard lock(mu);
    release = true;
  }
  cv.notify_all();
  ASSERT_TRUE(source.WaitLoaded());
  EXPECT_EQ(Read(source, 2), "aa");
  EXPECT_EQ(socket_.calls, 1);
}

TEST_F(LocalLayerSourceTest, LayersThatDoNotOpenLeaveEveryReadToTheSocket) {
  const std::vector<LayerFileEntry> files = {Layer(100, "aa")};
  int loads = 0;
  LocalLayerSource source(socket_, [&](Lsn) -> Result<std::shared_ptr<const SnapshotView>> {
    ++loads;
    return PermissionDenied("layer_files: only for a client on the page server's machine");
  }, Lsn(100));
  EXPECT_FALSE(source.WaitLoaded());
  EXPECT_EQ(loads, 3);  // tried again: a file compaction replaced may be listed anew
  EXPECT_EQ(Read(source, 2), "SS");
}

TEST_F(LocalLayerSourceTest, AMovedMountReadsTheNewSnapshotsLayers) {
  const std::vector<LayerFileEntry> old_files = {Layer(100, "aa")};
  const std::vector<LayerFileEntry> new_files = {Layer(200, " b"), old_files[0]};
  LocalLayerSource source(socket_, [&](Lsn lsn) {
    return OpenLayerView(lsn == Lsn(200) ? new_files : old_files, lsn);
  }, Lsn(100));
  ASSERT_TRUE(source.WaitLoaded());
  EXPECT_EQ(Read(source, 2), "aa");
  source.MoveTo(Lsn(200));
  ASSERT_TRUE(source.WaitLoaded());
  EXPECT_EQ(Read(source, 2), "ab");
}

TEST_F(LocalLayerSourceTest, AFileThatIsNotTheListedLayerIsRefused) {
  LayerFileEntry entry = Layer(100, "aa");
  LayerFileEntry wrong_valid = entry;
  wrong_valid.valid = Lsn(200);
  auto view = OpenLayerView({wrong_valid}, Lsn(200));
  ASSERT_FALSE(view.ok());
  EXPECT_EQ(view.status().code(), StatusCode::kCorruption);
  EXPECT_NE(view.status().message().find(entry.path), std::string::npos) << view.status().message();

  LayerFileEntry wrong_timeline = entry;
  wrong_timeline.timeline = *TimelineId::Parse("ffffffffffffffffffffffffffffffff");
  EXPECT_EQ(OpenLayerView({wrong_timeline}, Lsn(100)).status().code(), StatusCode::kCorruption);

  EXPECT_EQ(OpenLayerView({entry}, Lsn(150)).status().code(), StatusCode::kNotFound);  // not valid there
  EXPECT_EQ(OpenLayerView({}, Lsn(100)).status().code(), StatusCode::kNotFound);
  LayerFileEntry gone = entry;
  gone.path += ".gone";
  EXPECT_EQ(OpenLayerView({gone}, Lsn(100)).status().code(), StatusCode::kNotFound);
}

// Whether this process holds `path` open although it was removed.
bool HoldsRemoved(const std::string& path) {
  auto fds = ListDirectory("/proc/self/fd");
  for (const auto& fd : fds.value_or(std::vector<std::string>{})) {
    char target[4096];
    const ssize_t n = ::readlink(("/proc/self/fd/" + fd).c_str(), target, sizeof target - 1);
    if (n > 0 && std::string(target, static_cast<size_t>(n)) == path + " (deleted)") return true;
  }
  return false;
}

// A mount that stays at one snapshot while compaction replaces its layer
// files: the loader notices a file of its view was removed, opens the view
// at the same LSN again from the files listed now, and lets the old go.
TEST_F(LocalLayerSourceTest, AViewWhoseFileWasRemovedIsOpenedAgainAndTheOldFileLetGo) {
  std::mutex mu;
  std::vector<LayerFileEntry> listed = {Layer(100, "ab")};
  int loads = 0;
  LocalLayerSource source(socket_, [&](Lsn lsn) {
    std::lock_guard lock(mu);
    ++loads;
    return OpenLayerView(listed, lsn);
  }, Lsn(100), std::chrono::milliseconds(20));
  ASSERT_TRUE(source.WaitLoaded());
  EXPECT_EQ(Read(source, 2), "ab");
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  {
    std::lock_guard lock(mu);
    EXPECT_EQ(loads, 1) << "nothing was removed: the view stays";
  }

  // What compaction does: the replacement is written, then the old file
  // removed. (Its pages differ here only so that the test sees which file
  // is read; compaction's read the same.)
  ASSERT_TRUE(MakeDirectories(dir_.Sub("compacted"), 0700).ok());
  const LayerFileEntry replacement = Layer(100, "cd", dir_.Sub("compacted"));
  const std::string old_path = listed[0].path;
  {
    std::lock_guard lock(mu);
    listed = {replacement};
  }
  ASSERT_TRUE(RemoveFile(old_path).ok());
  EXPECT_TRUE(HoldsRemoved(old_path));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (Read(source, 2) != "cd" && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(Read(source, 2), "cd") << "the view was not opened again";
  EXPECT_FALSE(HoldsRemoved(old_path)) << "the removed file is still open: its space is not freed";
  {
    std::lock_guard lock(mu);
    EXPECT_EQ(loads, 2);
  }
  EXPECT_EQ(socket_.calls, 0);
}

// The cache sends a layer of the view back to the bucket: its file is
// replaced by a stub and the page server lists no files for the view any
// more. The loader notices, cannot open the view again, and reads go to
// the page server, with the old file let go.
TEST_F(LocalLayerSourceTest, AViewWhoseFileWentToTheBucketIsReadThroughTheSocketAndTheFileLetGo) {
  std::mutex mu;
  const LayerFileEntry layer = Layer(100, "ab");
  bool evicted = false;
  LocalLayerSource source(socket_, [&](Lsn lsn) -> Result<std::shared_ptr<const SnapshotView>> {
    std::lock_guard lock(mu);
    if (evicted) return NotFound("the snapshot at 0/64 has layers in the bucket only");
    return OpenLayerView({layer}, lsn);
  }, Lsn(100), std::chrono::milliseconds(20));
  ASSERT_TRUE(source.WaitLoaded());
  EXPECT_EQ(Read(source, 2), "ab");
  {
    std::lock_guard lock(mu);
    evicted = true;
  }
  ASSERT_TRUE(WriteFileDurably(layer.path, "{\"kind\":\"zenith remote layer\"}").ok());  // renamed over it
  EXPECT_TRUE(HoldsRemoved(layer.path));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (Read(source, 2) != "SS" && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(Read(source, 2), "SS") << "the reads did not go to the page server";
  EXPECT_FALSE(HoldsRemoved(layer.path)) << "the evicted file is still open: its space is not freed";
}

TEST_F(LocalLayerSourceTest, ADamagedPageIsAnErrorNamingTheBlockNotOtherBytes) {
  const std::vector<LayerFileEntry> files = {Layer(100, "aaaa")};
  LocalLayerSource source(socket_, [&](Lsn lsn) { return OpenLayerView(files, lsn); }, Lsn(100));
  ASSERT_TRUE(source.WaitLoaded());
  // Pages are stored first, in block order: flip a byte of block 2.
  auto fd = OpenFile(files[0].path, O_WRONLY);
  ASSERT_TRUE(fd.ok());
  const uint8_t flipped = 'z';
  ASSERT_TRUE(PwriteFull(fd->get(), std::span(&flipped, 1), pageserver::layer_format::kHeaderSize + 2 * Bs() + 100,
                         files[0].path).ok());
  const std::string got = Read(source, 4);
  EXPECT_EQ(got.rfind("corruption: block 2 of", 0), 0u) << got;
  EXPECT_NE(got.find("bad CRC"), std::string::npos) << got;
  EXPECT_EQ(socket_.calls, 0);
}

}  // namespace
}  // namespace zenith::fs
