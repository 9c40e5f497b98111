// Snapshot layer files: what LayerWriter writes LayerFile reads back
// exactly; a layer appears atomically or not at all; and every kind of
// damaged file (truncated, flipped bits, headers that lie with a valid CRC)
// is a Corruption naming the file, never a crash or a read outside it.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <random>

#include "common/byte_io.h"
#include "common/crc32c.h"
#include "common/file_util.h"
#include "pageserver/layers/layer_file.h"
#include "pageserver/layers/layer_format.h"
#include "pageserver/layers/layer_writer.h"
#include "tests/harness/temp_dir.h"

namespace zenith::pageserver {
namespace {

namespace lf = layer_format;
using zenith::testing::TempDir;

const RelTag kTable{1663, 5, 16384, ForkNumber::kMain};
const RelTag kTableFsm{1663, 5, 16384, ForkNumber::kFsm};
const RelTag kCatalog{1664, 0, 1262, ForkNumber::kMain};
const RelTag kAbsent{1663, 5, 99999, ForkNumber::kMain};
const SnapshotLsns kLsns{Lsn(0x1000028), Lsn(0x10000A0), Lsn(0x1000100)};
const LayerMeta kMeta(kLsns, Lsn(0x800000), /*image=*/false, /*created_at=*/1764410000);

// A page whose every byte says which (relation, block) it is.
std::vector<uint8_t> PageFor(const RelTag& rel, uint32_t block) {
  std::vector<uint8_t> page(kPageSize);
  for (size_t i = 0; i < page.size(); ++i) page[i] = static_cast<uint8_t>(rel.rel * 31 + block * 7 + i % 251);
  return page;
}

TimelineId TestTimeline() { return *TimelineId::Parse("00112233445566778899aabbccddeeff"); }

struct PageSpec {
  RelTag rel;
  uint32_t block;
};

class LayerFileTest : public ::testing::Test {
 protected:
  // Pages out of order, so the index must sort them.
  const std::vector<PageSpec> pages_ = {{kTable, 7}, {kCatalog, 0}, {kTable, 0}, {kTableFsm, 2}, {kTable, 3}};
  const std::string files_ = std::string(1024, 'f') + "the tar body of non-relation files";

  // Writes the standard layer and returns its path.
  std::string WriteLayer() {
    auto writer = LayerWriter::Create(dir_.path(), TestTimeline());
    EXPECT_TRUE(writer.ok()) << writer.status().ToString();
    for (const auto& p : pages_) EXPECT_TRUE((*writer)->AddPage(p.rel, p.block, PageFor(p.rel, p.block)).ok());
    EXPECT_TRUE((*writer)->AppendFilesTar(AsBytes(files_.substr(0, 100))).ok());
    EXPECT_TRUE((*writer)->AppendFilesTar(AsBytes(files_.substr(100))).ok());
    EXPECT_TRUE((*writer)->SetRelation(kTable, {8, 2}).ok());
    EXPECT_TRUE((*writer)->SetRelation(kCatalog, {1, 0}).ok());
    EXPECT_TRUE((*writer)->SetRelation(kTableFsm, {3, 3}).ok());
    auto path = (*writer)->Finish(kMeta);
    EXPECT_TRUE(path.ok()) << path.status().ToString();
    return path.ok() ? *path : "";
  }

  std::vector<std::string> Names() {
    auto names = ListDirectory(dir_.path());
    EXPECT_TRUE(names.ok());
    return names.ok() ? *names : std::vector<std::string>{};
  }

  TempDir dir_{"layer-file"};
};

TEST_F(LayerFileTest, RoundTripKeepsPagesRelationsFilesAndLsns) {
  const std::string path = WriteLayer();
  EXPECT_EQ(path, dir_.path() + "/" + LayerFileName(kMeta));
  auto layer = LayerFile::Open(path);
  ASSERT_TRUE(layer.ok()) << layer.status().ToString();
  EXPECT_EQ((*layer)->lsns(), kLsns);
  EXPECT_EQ((*layer)->version(), lf::kVersion);
  EXPECT_EQ((*layer)->meta().start, kMeta.start);
  EXPECT_EQ((*layer)->meta().created_at, kMeta.created_at);
  EXPECT_FALSE((*layer)->meta().image);
  EXPECT_FALSE((*layer)->complete()) << "relations with floors above 0 fall through";
  EXPECT_EQ((*layer)->timeline_id(), TestTimeline());
  EXPECT_EQ((*layer)->page_count(), pages_.size());
  EXPECT_EQ((*layer)->relation_count(), 3u);
  for (const auto& p : pages_) {
    auto page = (*layer)->FindPage(p.rel, p.block);
    ASSERT_TRUE(page.ok() && page->has_value()) << p.rel << " block " << p.block;
    EXPECT_TRUE(std::ranges::equal(**page, PageFor(p.rel, p.block))) << p.rel << " block " << p.block;
  }
  for (const PageSpec& absent : std::vector<PageSpec>{{kTable, 1}, {kTable, 8}, {kAbsent, 0}, {kCatalog, 1},
                                                      {{1663, 5, 16384, ForkNumber::kVisibilityMap}, 0}}) {
    auto page = (*layer)->FindPage(absent.rel, absent.block);
    ASSERT_TRUE(page.ok());
    EXPECT_FALSE(page->has_value()) << absent.rel << " block " << absent.block;
  }
  EXPECT_EQ((*layer)->FindRelation(kTable), (RelationInfo{8, 2}));
  EXPECT_EQ((*layer)->FindRelation(kTableFsm), (RelationInfo{3, 3}));
  EXPECT_EQ((*layer)->FindRelation(kAbsent), std::nullopt);
  std::vector<RelTag> order;
  (*layer)->ForEachRelation([&](const RelTag& rel, const RelationInfo&) { order.push_back(rel); });
  EXPECT_EQ(order, (std::vector<RelTag>{kTable, kTableFsm, kCatalog})) << "relations come sorted";
  EXPECT_EQ(AsStringView((*layer)->files_tar()), files_);
  EXPECT_EQ(Names(), std::vector<std::string>{LayerFileName(kMeta)}) << "no temp file is left";
}

TEST_F(LayerFileTest, PageRangesListEachRelationsPagesInBlockOrder) {
  auto layer = LayerFile::Open(WriteLayer());
  ASSERT_TRUE(layer.ok());
  auto blocks_of = [&](const RelTag& rel) {
    std::vector<uint32_t> out;
    auto [first, last] = (*layer)->PageRange(rel);
    for (uint64_t i = first; i < last; ++i) {
      out.push_back((*layer)->BlockAt(i));
      auto page = (*layer)->PageAt(i);
      EXPECT_TRUE(page.ok() && std::ranges::equal(*page, PageFor(rel, out.back())));
    }
    return out;
  };
  EXPECT_EQ(blocks_of(kTable), (std::vector<uint32_t>{0, 3, 7}));
  EXPECT_EQ(blocks_of(kTableFsm), (std::vector<uint32_t>{2}));
  EXPECT_EQ(blocks_of(kCatalog), (std::vector<uint32_t>{0}));
  EXPECT_TRUE(blocks_of(kAbsent).empty());
  EXPECT_TRUE(blocks_of({1663, 5, 16384, ForkNumber::kVisibilityMap}).empty());
}

TEST_F(LayerFileTest, AnImageIsCompleteAndMustHaveNoFloorAboveZero) {
  for (bool floors_zero : {true, false}) {
    TempDir dir("layer-image");
    auto writer = LayerWriter::Create(dir.path(), TestTimeline());
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE((*writer)->AddPage(kTable, 0, PageFor(kTable, 0)).ok());
    ASSERT_TRUE((*writer)->SetRelation(kTable, {3, floors_zero ? 0u : 1u}).ok());
    auto path = (*writer)->Finish(LayerMeta(kLsns, Lsn(0), /*image=*/true, 5));
    ASSERT_TRUE(path.ok());
    EXPECT_TRUE(path->ends_with("-image.layer")) << *path;
    auto layer = LayerFile::Open(*path);
    if (floors_zero) {
      ASSERT_TRUE(layer.ok()) << layer.status().ToString();
      EXPECT_TRUE((*layer)->meta().image);
      EXPECT_TRUE((*layer)->complete());
    } else {
      EXPECT_EQ(layer.status().code(), StatusCode::kCorruption) << "an image that falls through is no image";
    }
  }
}

// Repositories written before merged layers existed hold version-1 files:
// the same layout without start, time and flags, the header CRC at 116.
TEST_F(LayerFileTest, VersionOneLayersStillOpen) {
  const std::string path = WriteLayer();
  std::string bytes = ReadFileToString(path).value();
  std::span<uint8_t> b(reinterpret_cast<uint8_t*>(bytes.data()), bytes.size());
  StoreAt<uint32_t>(b, lf::kOffVersion, lf::kVersion1);
  std::memset(b.data() + lf::kOffHeaderCrcV1, 0, lf::kHeaderUsed - lf::kOffHeaderCrcV1);
  StoreAt<uint32_t>(b, lf::kOffHeaderCrcV1, ComputeCrc32c(b.data(), lf::kOffHeaderCrcV1));
  const std::string v1 = dir_.Sub("0000000001000100.layer");
  ASSERT_TRUE(WriteFileDurably(v1, bytes).ok());
  ASSERT_TRUE(IsLayerFileName("0000000001000100.layer"));
  auto layer = LayerFile::Open(v1);
  ASSERT_TRUE(layer.ok()) << layer.status().ToString();
  EXPECT_EQ((*layer)->version(), lf::kVersion1);
  EXPECT_EQ((*layer)->lsns(), kLsns);
  EXPECT_FALSE((*layer)->meta().image);
  EXPECT_GT((*layer)->meta().created_at, 0) << "the file's time stands in";
  for (const auto& p : pages_) EXPECT_TRUE((*layer)->FindPage(p.rel, p.block).value().has_value());
  (*layer)->AssumeStart(Lsn(0x900000));
  EXPECT_EQ((*layer)->meta().start, Lsn(0x900000));
}

TEST_F(LayerFileTest, EmptyLayerRoundTrips) {
  auto writer = LayerWriter::Create(dir_.path(), TestTimeline());
  ASSERT_TRUE(writer.ok());
  auto path = (*writer)->Finish(kLsns);
  ASSERT_TRUE(path.ok()) << path.status().ToString();
  auto layer = LayerFile::Open(*path);
  ASSERT_TRUE(layer.ok()) << layer.status().ToString();
  EXPECT_EQ((*layer)->page_count(), 0u);
  EXPECT_EQ((*layer)->relation_count(), 0u);
  EXPECT_TRUE((*layer)->files_tar().empty());
  auto page = (*layer)->FindPage(kTable, 0);
  ASSERT_TRUE(page.ok());
  EXPECT_FALSE(page->has_value());
}

TEST_F(LayerFileTest, NamesSortInLsnOrderAndOnlyFinishedLayersHaveThem) {
  auto name = [](uint64_t valid, uint64_t start = 0, bool image = false) {
    return LayerFileName(LayerMeta({Lsn(valid), Lsn(valid), Lsn(valid)}, Lsn(start), image, 0));
  };
  EXPECT_EQ(name(0x16B3748, 0x1500000), "00000000016B3748-0000000001500000.layer");
  EXPECT_EQ(name(0x16B3748, 0x1500000, true), "00000000016B3748-0000000001500000-image.layer");
  EXPECT_NE(name(0x16B3748, 0x1500000), name(0x16B3748, 0x1400000)) << "a merged layer never takes an input's name";
  const std::vector<uint64_t> lsns = {0x9, 0xA, 0x16B3748, 0x100000000, 0xFFFFFFFFFFFFFFFF};
  for (size_t i = 0; i + 1 < lsns.size(); ++i) EXPECT_LT(name(lsns[i], lsns[i]), name(lsns[i + 1]));
  for (uint64_t lsn : lsns) {
    EXPECT_TRUE(IsLayerFileName(name(lsn, lsn / 2)));
    EXPECT_TRUE(IsLayerFileName(name(lsn, 0, true)));
  }
  EXPECT_TRUE(IsLayerFileName("00000000016B3748.layer")) << "version 1";
  for (const char* bad : {".layer.tmp.12.3456", "00000000016B3748.layer.tmp", "0000000016B3748.layer",
                          "00000000016B374G.layer", "00000000016B3748.layr", "metadata", "",
                          "00000000016B3748-000000000150000.layer", "00000000016B3748_0000000001500000.layer",
                          "00000000016B3748-0000000001500000-imag.layer", "-image.layer"}) {
    EXPECT_FALSE(IsLayerFileName(bad)) << bad;
  }
}

TEST_F(LayerFileTest, AbandonedWriterLeavesNothing) {
  {
    auto writer = LayerWriter::Create(dir_.path(), TestTimeline());
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE((*writer)->AddPage(kTable, 0, PageFor(kTable, 0)).ok());
    EXPECT_EQ(Names().size(), 1u) << "the temp file exists while the layer is written";
    EXPECT_FALSE(IsLayerFileName(Names()[0]));
  }
  EXPECT_TRUE(Names().empty());
}

TEST_F(LayerFileTest, FinishRefusesToReplaceAnExistingLayer) {
  const std::string path = WriteLayer();
  auto before = ReadFileToString(path);
  ASSERT_TRUE(before.ok());
  {
    auto writer = LayerWriter::Create(dir_.path(), TestTimeline());
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE((*writer)->AddPage(kTable, 0, PageFor(kAbsent, 0)).ok());
    auto again = (*writer)->Finish(kMeta);
    EXPECT_EQ(again.status().code(), StatusCode::kAlreadyExists) << again.status().ToString();
  }
  EXPECT_EQ(ReadFileToString(path).value(), *before);
  EXPECT_EQ(Names(), std::vector<std::string>{LayerFileName(kMeta)});
}

TEST_F(LayerFileTest, DuplicatePagesOrRelationsAreRefusedAndLeaveNoLayer) {
  for (bool duplicate_page : {true, false}) {
    {
      auto writer = LayerWriter::Create(dir_.path(), TestTimeline());
      ASSERT_TRUE(writer.ok());
      ASSERT_TRUE((*writer)->AddPage(kTable, 4, PageFor(kTable, 4)).ok());
      ASSERT_TRUE((*writer)->AddPage(kTable, duplicate_page ? 4 : 5, PageFor(kTable, 5)).ok());
      ASSERT_TRUE((*writer)->SetRelation(kTable, {6, 0}).ok());
      if (!duplicate_page) {
        ASSERT_TRUE((*writer)->SetRelation(kTable, {7, 0}).ok());
      }
      auto path = (*writer)->Finish(kLsns);
      EXPECT_EQ(path.status().code(), StatusCode::kInvalidArgument);
      EXPECT_NE(path.status().message().find("sent twice"), std::string::npos) << path.status().message();
    }
    EXPECT_TRUE(Names().empty());
  }
}

TEST_F(LayerFileTest, WriterRefusesWrongPageSizesAndPagesAfterFiles) {
  auto writer = LayerWriter::Create(dir_.path(), TestTimeline());
  ASSERT_TRUE(writer.ok());
  std::vector<uint8_t> short_page(kPageSize - 1);
  EXPECT_EQ((*writer)->AddPage(kTable, 0, short_page).code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE((*writer)->AppendFilesTar(AsBytes("files")).ok());
  EXPECT_FALSE((*writer)->AddPage(kTable, 0, PageFor(kTable, 0)).ok());
  EXPECT_EQ((*writer)->page_count(), 0u);
}

// ---- Damaged files -------------------------------------------------------------

// Replaces the file's contents (no fsync: these files are scratch).
void Overwrite(const std::string& path, std::string_view bytes) {
  auto fd = OpenFile(path, O_WRONLY | O_TRUNC);
  ASSERT_TRUE(fd.ok());
  ASSERT_TRUE(WriteFull(fd->get(), AsBytes(bytes), path).ok());
}

// Stores `value` at a header offset and recomputes the header CRC, as a
// file that lies consistently would.
template <typename T>
void SetHeaderField(std::string& bytes, uint32_t offset, T value) {
  std::span<uint8_t> b(reinterpret_cast<uint8_t*>(bytes.data()), bytes.size());
  StoreAt<T>(b, offset, value);
  StoreAt<uint32_t>(b, lf::kOffHeaderCrc, ComputeCrc32c(b.data(), lf::kOffHeaderCrc));
}

void ExpectCorruption(const Result<std::shared_ptr<LayerFile>>& layer, const std::string& path,
                      const std::string& what) {
  ASSERT_FALSE(layer.ok()) << what;
  EXPECT_EQ(layer.status().code(), StatusCode::kCorruption) << what << ": " << layer.status().ToString();
  EXPECT_NE(layer.status().message().find(path), std::string::npos) << "the message names the file";
}

// Reads everything an open layer offers, so a bad offset shows up under
// AddressSanitizer; returns how many of the test pages read as corrupt.
int ReadEverything(const LayerFile& layer, const std::vector<PageSpec>& pages) {
  int corrupt = 0;
  for (const auto& p : pages) {
    auto page = layer.FindPage(p.rel, p.block);
    if (!page.ok()) {
      EXPECT_EQ(page.status().code(), StatusCode::kCorruption);
      ++corrupt;
    } else if (page->has_value()) {
      volatile uint8_t sink = (**page)[0] ^ (**page)[kPageSize - 1];
      (void)sink;
    }
  }
  uint64_t sum = 0;
  layer.ForEachRelation([&](const RelTag& rel, const RelationInfo& info) { sum += rel.rel + info.nblocks; });
  for (uint8_t b : layer.files_tar()) sum += b;
  EXPECT_GE(sum, 0u);
  return corrupt;
}

TEST_F(LayerFileTest, EveryTruncationIsCorruption) {
  const std::string path = WriteLayer();
  auto whole = ReadFileToString(path);
  ASSERT_TRUE(whole.ok());
  std::vector<size_t> lengths = {0, 1, 8, 119, 120, lf::kHeaderUsed - 1, lf::kHeaderUsed, lf::kHeaderSize - 1,
                                 lf::kHeaderSize};
  for (size_t len = lf::kHeaderSize; len < whole->size(); len += 509) lengths.push_back(len);
  for (size_t back = 1; back <= 200; ++back) lengths.push_back(whole->size() - back);
  for (size_t len : lengths) {
    Overwrite(path, std::string_view(*whole).substr(0, len));
    ExpectCorruption(LayerFile::Open(path), path, "truncated to " + std::to_string(len));
  }
}

TEST_F(LayerFileTest, EveryFlippedBitIsCaughtAtOpenOrOnReadingThatPage) {
  const std::string path = WriteLayer();
  auto whole = ReadFileToString(path);
  ASSERT_TRUE(whole.ok());
  auto fd = OpenFile(path, O_RDWR);
  ASSERT_TRUE(fd.ok());
  const size_t pages_end = lf::kHeaderSize + pages_.size() * kPageSize;
  for (size_t off = 0; off < whole->size(); ++off) {
    if (off >= lf::kHeaderUsed && off < lf::kHeaderSize) continue;  // header padding carries nothing
    const uint8_t bit = static_cast<uint8_t>(1u << (off % 8));
    uint8_t flipped = static_cast<uint8_t>((*whole)[off]) ^ bit;
    ASSERT_TRUE(PwriteFull(fd->get(), std::span(&flipped, 1), off, path).ok());
    auto layer = LayerFile::Open(path);
    if (off >= lf::kHeaderSize && off < pages_end) {
      // Pages are checked when read, not at open: a 10 GB layer opens fast.
      ASSERT_TRUE(layer.ok()) << "byte " << off << ": " << layer.status().ToString();
      EXPECT_EQ(ReadEverything(**layer, pages_), 1) << "byte " << off;
    } else {
      ExpectCorruption(layer, path, "byte " + std::to_string(off) + " flipped");
    }
    const uint8_t original = static_cast<uint8_t>((*whole)[off]);
    ASSERT_TRUE(PwriteFull(fd->get(), std::span(&original, 1), off, path).ok());
  }
  EXPECT_TRUE(LayerFile::Open(path).ok());
}

TEST_F(LayerFileTest, HeadersThatLieWithAValidCrcAreCorruption) {
  const std::string path = WriteLayer();
  auto whole = ReadFileToString(path);
  ASSERT_TRUE(whole.ok());
  const uint64_t size = whole->size();
  auto files_off = LoadU64(AsBytes(*whole), lf::kOffFilesOffset);
  auto index_off = LoadU64(AsBytes(*whole), lf::kOffIndexOffset);
  auto rel_off = LoadU64(AsBytes(*whole), lf::kOffRelOffset);
  struct Lie {
    std::string what;
    std::function<void(std::string&)> apply;
  };
  const std::vector<Lie> lies = {
      {"bad magic", [](std::string& b) { b[0] = 'X'; }},
      {"version 3", [](std::string& b) { SetHeaderField<uint32_t>(b, lf::kOffVersion, 3); }},
      {"unknown flags", [](std::string& b) { SetHeaderField<uint32_t>(b, lf::kOffFlags, 6); }},
      {"start past valid", [](std::string& b) { SetHeaderField<uint64_t>(b, lf::kOffStart, 0x2000000); }},
      {"page count huge", [](std::string& b) { SetHeaderField<uint64_t>(b, lf::kOffPageCount, ~uint64_t{0} / 2); }},
      {"page count one more", [&](std::string& b) { SetHeaderField<uint64_t>(b, lf::kOffPageCount, pages_.size() + 1); }},
      {"page count one less", [&](std::string& b) { SetHeaderField<uint64_t>(b, lf::kOffPageCount, pages_.size() - 1); }},
      {"relation count huge", [](std::string& b) { SetHeaderField<uint64_t>(b, lf::kOffRelCount, ~uint64_t{0}); }},
      {"relation count one more", [](std::string& b) { SetHeaderField<uint64_t>(b, lf::kOffRelCount, 4); }},
      {"files past the end", [&](std::string& b) { SetHeaderField<uint64_t>(b, lf::kOffFilesOffset, size + 100); }},
      {"files far past the end", [](std::string& b) { SetHeaderField<uint64_t>(b, lf::kOffFilesOffset, ~uint64_t{0} - 10); }},
      {"files overlap the pages", [&](std::string& b) { SetHeaderField<uint64_t>(b, lf::kOffFilesOffset, files_off - 1); }},
      {"files size huge", [](std::string& b) { SetHeaderField<uint64_t>(b, lf::kOffFilesSize, ~uint64_t{0} - 2); }},
      {"files size into the index", [&](std::string& b) { SetHeaderField<uint64_t>(b, lf::kOffFilesSize, index_off - files_off + 1); }},
      {"index past the end", [&](std::string& b) { SetHeaderField<uint64_t>(b, lf::kOffIndexOffset, size + 4096); }},
      {"index far past the end", [](std::string& b) { SetHeaderField<uint64_t>(b, lf::kOffIndexOffset, ~uint64_t{0} - 27); }},
      {"index inside the files", [&](std::string& b) { SetHeaderField<uint64_t>(b, lf::kOffIndexOffset, index_off - 4); }},
      {"relations past the end", [&](std::string& b) { SetHeaderField<uint64_t>(b, lf::kOffRelOffset, size + 1); }},
      {"relations far past the end", [](std::string& b) { SetHeaderField<uint64_t>(b, lf::kOffRelOffset, ~uint64_t{0} - 23); }},
      {"relations inside the index", [&](std::string& b) { SetHeaderField<uint64_t>(b, lf::kOffRelOffset, rel_off - 1); }},
      {"empty sections past the end, CRCs to match", [&](std::string& b) {
         SetHeaderField<uint64_t>(b, lf::kOffPageCount, 0);
         SetHeaderField<uint64_t>(b, lf::kOffRelCount, 0);
         SetHeaderField<uint64_t>(b, lf::kOffFilesSize, 0);
         for (uint32_t field : {lf::kOffFilesOffset, lf::kOffIndexOffset, lf::kOffRelOffset}) {
           SetHeaderField<uint64_t>(b, field, size + 8192);
         }
         for (uint32_t field : {lf::kOffFilesCrc, lf::kOffIndexCrc, lf::kOffRelCrc}) {
           SetHeaderField<uint32_t>(b, field, ComputeCrc32c(nullptr, 0));
         }
       }},
      {"every section past the end, in order", [&](std::string& b) {
         const uint64_t index_size = pages_.size() * lf::kIndexEntrySize;
         SetHeaderField<uint64_t>(b, lf::kOffFilesOffset, size + 1);
         SetHeaderField<uint64_t>(b, lf::kOffFilesSize, 100);
         SetHeaderField<uint64_t>(b, lf::kOffIndexOffset, size + 101);
         SetHeaderField<uint64_t>(b, lf::kOffRelOffset, size + 101 + index_size);
       }},
      {"index out of order", [&](std::string& b) {
         std::string first = b.substr(index_off, lf::kIndexEntrySize);
         b.replace(index_off, lf::kIndexEntrySize, b.substr(index_off + lf::kIndexEntrySize, lf::kIndexEntrySize));
         b.replace(index_off + lf::kIndexEntrySize, lf::kIndexEntrySize, first);
         auto index = AsBytes(b).subspan(index_off, pages_.size() * lf::kIndexEntrySize);
         SetHeaderField<uint32_t>(b, lf::kOffIndexCrc, ComputeCrc32c(index));
       }},
      {"relation table naming fork 9", [&](std::string& b) {
         b[rel_off + 12] = 9;
         auto rels = AsBytes(b).subspan(rel_off, 3 * lf::kRelEntrySize);
         SetHeaderField<uint32_t>(b, lf::kOffRelCrc, ComputeCrc32c(rels));
       }},
      {"index entry pointing past the pages", [&](std::string& b) {
         std::span<uint8_t> bytes(reinterpret_cast<uint8_t*>(b.data()), b.size());
         StoreAt<uint32_t>(bytes, index_off + 20, 1000);
         auto index = bytes.subspan(index_off, pages_.size() * lf::kIndexEntrySize);
         SetHeaderField<uint32_t>(b, lf::kOffIndexCrc, ComputeCrc32c(index));
       }},
  };
  for (const auto& lie : lies) {
    std::string bytes = *whole;
    lie.apply(bytes);
    Overwrite(path, bytes);
    ExpectCorruption(LayerFile::Open(path), path, lie.what);
  }
}

// Random damage from a fixed seed, header CRC recomputed so that it gets
// past the first check: Open is Corruption, or the layer reads within its
// bounds (AddressSanitizer watches).
TEST_F(LayerFileTest, SeededRandomDamageNeverReadsOutsideTheFile) {
  const std::string path = WriteLayer();
  auto whole = ReadFileToString(path);
  ASSERT_TRUE(whole.ok());
  std::mt19937_64 rng(0x5eed);
  int opened = 0, refused = 0;
  for (int round = 0; round < 400; ++round) {
    std::string bytes = *whole;
    const int damage = 1 + static_cast<int>(rng() % 4);
    for (int i = 0; i < damage; ++i) {
      switch (rng() % 4) {
        case 0:  // a header field gets a random or nearby value
          SetHeaderField<uint64_t>(bytes, 8 * (4 + rng() % 10),
                                   rng() % 2 ? rng() : rng() % (bytes.size() + 2 * kPageSize));
          break;
        case 1:
          bytes[rng() % bytes.size()] ^= static_cast<char>(1 + rng() % 255);
          break;
        case 2:
          bytes.resize(rng() % (bytes.size() + 1));
          break;
        default:
          bytes.append(rng() % 9000, static_cast<char>(rng()));
          break;
      }
      if (bytes.size() < lf::kHeaderUsed) break;
    }
    Overwrite(path, bytes);
    auto layer = LayerFile::Open(path);
    if (layer.ok()) {
      ReadEverything(**layer, pages_);
      ++opened;
    } else {
      EXPECT_EQ(layer.status().code(), StatusCode::kCorruption) << layer.status().ToString();
      ++refused;
    }
  }
  EXPECT_GT(refused, 100);
}

}  // namespace
}  // namespace zenith::pageserver
