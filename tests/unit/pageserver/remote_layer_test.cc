// Layers in the bucket only (LayerFile::OpenRemote, RemotePages and the
// stubs of remote_layers.h): a remote layer reads back exactly what the
// local file holds; it costs two reads to open and one small read for a
// page; a scan grows its reads; a damaged object is refused naming the
// object, never served; a read that fails leaves the layer usable.
//
// The bytes come from an in-memory copy of a layer file through a reader
// that counts its calls: the ranged GETs of the real bucket are tested
// against Ceph's RGW in tests/integration/s3/attach_test.cc.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <mutex>

#include "common/file_util.h"
#include "pageserver/layers/layer_file.h"
#include "pageserver/layers/layer_format.h"
#include "pageserver/layers/layer_writer.h"
#include "pageserver/layers/remote_pages.h"
#include "pageserver/repo/remote_layers.h"
#include "tests/harness/temp_dir.h"

namespace zenith::pageserver {
namespace {

namespace lf = layer_format;
using zenith::testing::TempDir;

const RelTag kTable{1663, 5, 16384, ForkNumber::kMain};
const RelTag kCatalog{1664, 0, 1262, ForkNumber::kMain};
const SnapshotLsns kLsns{Lsn(0x1000028), Lsn(0x10000A0), Lsn(0x1000100)};
const LayerMeta kMeta(kLsns, Lsn(0x800000), /*image=*/false, /*created_at=*/1764410000);
constexpr uint32_t kTableBlocks = 600;  // 4.7 MiB of pages: a scan spans many ranges
constexpr char kObject[] = "s3://bucket/prefix/timelines/t/layers/l-00000000000000000001";

std::vector<uint8_t> PageFor(const RelTag& rel, uint32_t block) {
  std::vector<uint8_t> page(kBlockSize);
  for (size_t i = 0; i < page.size(); ++i) page[i] = static_cast<uint8_t>(rel.rel * 31 + block * 7 + i % 251);
  return page;
}

// An object in memory; counts the reads and bytes asked of it, and fails
// the next `fail_next` reads as an unreachable bucket would.
class MemoryObject : public LayerRangeReader {
 public:
  explicit MemoryObject(std::string bytes) : bytes_(std::move(bytes)) {}

  Status ReadAt(uint64_t offset, std::span<uint8_t> out) override {
    std::lock_guard lock(mu_);
    ++reads;
    bytes_read += out.size();
    if (fail_next > 0) {
      --fail_next;
      return Unavailable("connection refused");
    }
    if (offset > bytes_.size() || out.size() > bytes_.size() - offset) return Corruption(std::string(kObject) + " ends early");
    std::memcpy(out.data(), bytes_.data() + offset, out.size());
    return Status::Ok();
  }
  std::string name() const override { return kObject; }

  void Overwrite(uint64_t offset, char byte) {
    std::lock_guard lock(mu_);
    bytes_[offset] = byte;
  }

  std::atomic<int> reads{0};
  std::atomic<uint64_t> bytes_read{0};
  std::atomic<int> fail_next{0};

 private:
  std::mutex mu_;
  std::string bytes_;
};

class RemoteLayerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto writer = LayerWriter::Create(dir_.path(), *TimelineId::Parse("00112233445566778899aabbccddeeff"));
    ASSERT_TRUE(writer.ok()) << writer.status().ToString();
    for (uint32_t b = 0; b < kTableBlocks; ++b) ASSERT_TRUE((*writer)->AddPage(kTable, b, PageFor(kTable, b)).ok());
    ASSERT_TRUE((*writer)->AddPage(kCatalog, 0, PageFor(kCatalog, 0)).ok());
    ASSERT_TRUE((*writer)->AppendFilesTar(AsBytes(std::string(3000, 'f'))).ok());
    ASSERT_TRUE((*writer)->SetRelation(kTable, {kTableBlocks, 0}).ok());
    ASSERT_TRUE((*writer)->SetRelation(kCatalog, {1, 0}).ok());
    auto path = (*writer)->Finish(kMeta);
    ASSERT_TRUE(path.ok()) << path.status().ToString();
    path_ = *path;
    auto bytes = ReadFileToString(path_);
    ASSERT_TRUE(bytes.ok());
    object_ = std::make_shared<MemoryObject>(*bytes);
    size_ = bytes->size();
  }

  std::shared_ptr<LayerFile> OpenRemote() {
    auto layer = LayerFile::OpenRemote(dir_.path() + "/stub", size_, object_);
    EXPECT_TRUE(layer.ok()) << layer.status().ToString();
    return layer.ok() ? *layer : nullptr;
  }

  TempDir dir_{"remote-layer"};
  std::string path_;
  uint64_t size_ = 0;
  std::shared_ptr<MemoryObject> object_;
  std::array<uint8_t, kBlockSize> scratch_{};
};

TEST_F(RemoteLayerTest, ReadsBackWhatTheLocalFileHoldsAndOpensWithTwoReads) {
  auto local = LayerFile::Open(path_);
  ASSERT_TRUE(local.ok());
  auto remote = OpenRemote();
  ASSERT_NE(remote, nullptr);
  EXPECT_EQ(object_->reads, 2) << "the header, then everything after the pages";
  EXPECT_TRUE(remote->remote());
  EXPECT_FALSE((*local)->remote());
  EXPECT_EQ(remote->lsns(), kLsns);
  EXPECT_EQ(remote->meta().start, kMeta.start);
  EXPECT_EQ(remote->page_count(), (*local)->page_count());
  EXPECT_EQ(remote->file_size(), size_);
  EXPECT_EQ(remote->path(), dir_.path() + "/stub");
  EXPECT_TRUE(std::ranges::equal(remote->files_tar(), (*local)->files_tar()));
  EXPECT_EQ(remote->FindRelation(kTable)->nblocks, kTableBlocks);
  for (uint32_t b = 0; b < kTableBlocks; b += 37) {
    auto page = remote->FindPage(kTable, b, scratch_);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    ASSERT_TRUE(page->has_value());
    EXPECT_TRUE(std::ranges::equal(**page, PageFor(kTable, b))) << "block " << b;
  }
  auto catalog = remote->FindPage(kCatalog, 0, scratch_);
  ASSERT_TRUE(catalog.ok() && catalog->has_value());
  EXPECT_TRUE(std::ranges::equal(**catalog, PageFor(kCatalog, 0)));
}

TEST_F(RemoteLayerTest, APageCostsOneSmallReadAndAgainNone) {
  auto remote = OpenRemote();
  ASSERT_NE(remote, nullptr);
  const int opened = object_->reads;
  const uint64_t bytes = object_->bytes_read;
  ASSERT_TRUE(remote->FindPage(kTable, 300, scratch_).ok());
  EXPECT_EQ(object_->reads, opened + 1);
  EXPECT_LE(object_->bytes_read - bytes, RemotePages::kMinRange);
  ASSERT_TRUE(remote->FindPage(kTable, 300, scratch_).ok());
  ASSERT_TRUE(remote->FindPage(kTable, 301, scratch_).ok()) << "in the same range";
  EXPECT_EQ(object_->reads, opened + 1);
  EXPECT_EQ(remote->remote_bytes_read(), object_->bytes_read - bytes);
}

TEST_F(RemoteLayerTest, AScanReadsLargerRangesAndEveryPageIsRight) {
  auto remote = OpenRemote();
  ASSERT_NE(remote, nullptr);
  const int opened = object_->reads;
  auto [first, end] = remote->PageRange(kTable);
  for (uint64_t i = first; i < end; ++i) {
    auto page = remote->PageAt(i, scratch_);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    EXPECT_TRUE(std::ranges::equal(*page, PageFor(kTable, remote->BlockAt(i))));
  }
  // 600 pages in ranges of 64 KiB would be 75 reads; growing ranges take far fewer.
  EXPECT_LT(object_->reads - opened, 12);
}

TEST_F(RemoteLayerTest, ADamagedPageIsRefusedNamingTheObjectAndOthersStillRead) {
  auto remote = OpenRemote();
  ASSERT_NE(remote, nullptr);
  auto index = remote->IndexOf(kTable, 10);
  ASSERT_TRUE(index.has_value());
  object_->Overwrite(remote->PageOffset(*index) + 100, 'X');
  auto page = remote->PageAt(*index, scratch_);
  ASSERT_FALSE(page.ok());
  EXPECT_EQ(page.status().code(), StatusCode::kCorruption);
  EXPECT_NE(page.status().message().find(kObject), std::string::npos) << page.status().ToString();
  EXPECT_NE(page.status().message().find("block 10"), std::string::npos) << page.status().ToString();
  auto other = remote->FindPage(kTable, 500, scratch_);
  ASSERT_TRUE(other.ok()) << other.status().ToString();
  EXPECT_TRUE(std::ranges::equal(**other, PageFor(kTable, 500)));
}

TEST_F(RemoteLayerTest, ADamagedIndexOrHeaderIsRefusedAtOpenNamingTheObject) {
  object_->Overwrite(size_ - 30, 'X');  // in the relation table
  auto layer = LayerFile::OpenRemote(dir_.path() + "/stub", size_, object_);
  ASSERT_FALSE(layer.ok());
  EXPECT_EQ(layer.status().code(), StatusCode::kCorruption);
  EXPECT_NE(layer.status().message().find(kObject), std::string::npos) << layer.status().ToString();
  auto truncated = LayerFile::OpenRemote(dir_.path() + "/stub", 100, object_);
  ASSERT_FALSE(truncated.ok());
  EXPECT_NE(truncated.status().message().find(kObject), std::string::npos) << truncated.status().ToString();
  // A size no real layer has: refused before its sections are allocated.
  auto huge = LayerFile::OpenRemote(dir_.path() + "/stub", uint64_t{1} << 40, object_);
  ASSERT_FALSE(huge.ok());
  EXPECT_NE(huge.status().message().find("claim"), std::string::npos) << huge.status().ToString();
  object_->Overwrite(lf::kOffValid, 'X');
  auto header = LayerFile::OpenRemote(dir_.path() + "/stub", size_, object_);
  ASSERT_FALSE(header.ok());
  EXPECT_NE(header.status().message().find("header CRC"), std::string::npos) << header.status().ToString();
}

TEST_F(RemoteLayerTest, AFailedReadFailsThatPageOnlyAndTheNextReadWorks) {
  auto remote = OpenRemote();
  ASSERT_NE(remote, nullptr);
  object_->fail_next = 1;
  auto failed = remote->FindPage(kTable, 200, scratch_);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), StatusCode::kUnavailable);
  auto page = remote->FindPage(kTable, 200, scratch_);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_TRUE(std::ranges::equal(**page, PageFor(kTable, 200)));
}

TEST_F(RemoteLayerTest, APageOfARemoteLayerNeedsABuffer) {
  auto remote = OpenRemote();
  ASSERT_NE(remote, nullptr);
  auto page = remote->FindPage(kTable, 0);
  ASSERT_FALSE(page.ok());
  EXPECT_EQ(page.status().code(), StatusCode::kInternal);
}

TEST_F(RemoteLayerTest, AStubReadsBackAndALayerFileIsNoStub) {
  const std::string stub = dir_.path() + "/a-stub";
  ASSERT_TRUE(WriteRemoteLayerStub(stub, RemoteLayerStub{7, 123456789}).ok());
  auto read = ReadRemoteLayerStub(stub);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  ASSERT_TRUE(read->has_value());
  EXPECT_EQ((*read)->generation, 7u);
  EXPECT_EQ((*read)->size, 123456789u);
  auto layer = ReadRemoteLayerStub(path_);
  ASSERT_TRUE(layer.ok()) << layer.status().ToString();
  EXPECT_FALSE(layer->has_value());
  for (const std::string& junk : std::vector<std::string>{"", "{}", "{\"kind\":\"zenith remote layer\",\"generation\":-1,\"size\":1}",
                                 std::string(5000, '{')}) {
    ASSERT_TRUE(WriteFileDurably(stub, junk).ok());
    auto bad = ReadRemoteLayerStub(stub);
    ASSERT_FALSE(bad.ok()) << junk;
    EXPECT_EQ(bad.status().code(), StatusCode::kCorruption) << junk;
  }
}

TEST_F(RemoteLayerTest, AStubInARepositoryWithoutARemoteIsAClearError) {
  const std::string stub = dir_.path() + "/" + LayerFileName(kMeta) + "-copy";
  ASSERT_TRUE(WriteRemoteLayerStub(stub, RemoteLayerStub{1, size_}).ok());
  auto layer = OpenLayerOrStub(stub, *TimelineId::Parse("00112233445566778899aabbccddeeff"), nullptr);
  ASSERT_FALSE(layer.ok());
  EXPECT_NE(layer.status().message().find("no remote"), std::string::npos) << layer.status().ToString();
  auto file = OpenLayerOrStub(path_, *TimelineId::Parse("00112233445566778899aabbccddeeff"), nullptr);
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  EXPECT_FALSE((*file)->remote());
}

}  // namespace
}  // namespace zenith::pageserver
