// WalReader against WAL a real PostgreSQL 15 wrote in the test, checked
// record by record against what pg_waldump (PostgreSQL's own reader) says.
#include "common/wal_reader.h"

#include <gtest/gtest.h>

#include "common/byte_io.h"
#include "common/pg_abi.h"
#include "common/pg_time.h"
#include "common/wal_directory.h"
#include "tests/unit/common/wal_test_util.h"

namespace zenith::testing {
namespace {

const ZenithPgAbi& Abi() { return kZenithPgAbi; }

// One cluster per test process (ctest runs each test in its own); a static
// object, so its directory is removed at exit.
const RealWal& Wal() {
  static const RealWal wal = MakeRealWal("wal-reader");
  return wal;
}

Lsn FirstRecord(const RealWal& w) {
  auto first = FindFirstRecordInSegment(MakeWalDirectoryReader(w.wal_dir, 1), w.segments.front(),
                                        w.control.system_id);
  EXPECT_TRUE(first.ok() && first->has_value());
  return first.ok() && first->has_value() ? **first : Lsn();
}

std::string CompressionMethod(const WalBlockRef& b) {
  if (b.image_info & Abi().bkpimage_compress_pglz) return "pglz";
  if (b.image_info & Abi().bkpimage_compress_lz4) return "lz4";
  if (b.image_info & Abi().bkpimage_compress_zstd) return "zstd";
  return "";
}

void ExpectSameBlock(const WalBlockRef& ours, const DumpedBlock& theirs, const std::string& where) {
  EXPECT_EQ(ours.block_id, theirs.id) << where;
  EXPECT_EQ(ours.tablespace, theirs.spc) << where;
  EXPECT_EQ(ours.database, theirs.db) << where;
  EXPECT_EQ(ours.relfilenode, theirs.rel) << where;
  EXPECT_EQ(ForkName(ours.fork), theirs.fork) << where;
  EXPECT_EQ(ours.block, theirs.blk) << where;
  EXPECT_EQ(ours.has_image, theirs.fpw) << where;
  if (!ours.has_image) return;
  EXPECT_EQ(ours.image_applies, theirs.apply) << where;
  EXPECT_EQ(ours.hole_offset, theirs.hole_offset) << where;
  EXPECT_EQ(ours.hole_length, theirs.hole_length) << where;
  EXPECT_EQ(CompressionMethod(ours), theirs.method) << where;
}

// Returns false after the first record that differs (to keep output short).
bool ExpectSameRecord(const WalRecord& ours, const DumpedRecord& theirs) {
  const std::string where = "record at " + theirs.lsn.ToString();
  EXPECT_EQ(ours.start_lsn, theirs.lsn) << where;
  EXPECT_EQ(ours.prev, theirs.prev) << where;
  EXPECT_EQ(WalRmgrName(ours.rmid), theirs.rmgr) << where;
  EXPECT_EQ(ours.total_length, theirs.tot_len) << where;
  EXPECT_EQ(ours.total_length - ours.image_bytes(), theirs.rec_len) << where;
  EXPECT_EQ(ours.xid, theirs.xid) << where;
  EXPECT_EQ(ours.bytes.size(), ours.total_length) << where;
  EXPECT_EQ(ours.blocks.size(), theirs.blocks.size()) << where;
  for (size_t i = 0; i < std::min(ours.blocks.size(), theirs.blocks.size()); ++i) {
    ExpectSameBlock(ours.blocks[i], theirs.blocks[i], where + " block " + std::to_string(i));
  }
  return !::testing::Test::HasFailure();
}

TEST(WalReader, DecodesEveryRecordExactlyLikePgWaldump) {
  const RealWal& w = Wal();
  ASSERT_GE(w.segments.size(), 3u) << "the workload should fill several segments";
  WalDump dump = RunPgWaldump(w.wal_dir, w.segments.front(), w.segments.back());
  ASSERT_GT(dump.records.size(), 1000u) << dump.stderr_text;
  ReadAll ours = ReadAllRecords(MakeWalDirectoryReader(w.wal_dir, 1), FirstRecord(w), w.control.system_id);
  ASSERT_EQ(ours.records.size(), dump.records.size()) << "ours ended: " << ours.end_reason
                                                      << "\npg_waldump: " << dump.stderr_text;
  for (size_t i = 0; i < ours.records.size(); ++i) {
    if (!ExpectSameRecord(ours.records[i], dump.records[i])) break;
  }
  // The end of WAL, and why, in PostgreSQL's words.
  EXPECT_EQ(ours.end_reason, dump.error);
  EXPECT_EQ(ours.end, LsnAfter(dump.error, "invalid record length at "));
}

// Guards the test above: the workload did make the records it is meant to.
TEST(WalReader, RealWalCoversTheHardCases) {
  const RealWal& w = Wal();
  ReadAll all = ReadAllRecords(MakeWalDirectoryReader(w.wal_dir, 1), FirstRecord(w), w.control.system_id);
  bool crosses_segment = false, multi_page = false, xlog_switch = false, compressed = false, hole = false;
  bool same_rel = false, origin = false, toplevel = false, long_main = false, short_main = false;
  for (const WalRecord& r : all.records) {
    crosses_segment |= r.start_lsn.segment_number() != (r.start_lsn + r.total_length).segment_number() &&
                       !r.is_xlog_switch();
    multi_page |= r.total_length > 3 * kWalPageSize;
    xlog_switch |= r.is_xlog_switch();
    origin |= r.origin != 0;
    toplevel |= r.toplevel_xid != 0;
    long_main |= r.main_data_length > 255;
    short_main |= r.main_data_length > 0 && r.main_data_length <= 255;
    for (const WalBlockRef& b : r.blocks) {
      compressed |= b.image_compressed();
      hole |= b.has_image && b.image_has_hole() && !b.image_compressed();
      same_rel |= (b.flags & Abi().bkpblock_same_rel) != 0;
    }
  }
  EXPECT_TRUE(crosses_segment);
  EXPECT_TRUE(multi_page);
  EXPECT_TRUE(xlog_switch);
  EXPECT_TRUE(compressed);
  EXPECT_TRUE(hole);
  EXPECT_TRUE(same_rel);
  EXPECT_TRUE(origin);
  EXPECT_TRUE(toplevel);
  EXPECT_TRUE(long_main);
  EXPECT_TRUE(short_main);
}

TEST(WalReader, EndOfWalInDirectoryIsWherePgWaldumpStops) {
  const RealWal& w = Wal();
  WalDump dump = RunPgWaldump(w.wal_dir, w.segments.front(), w.segments.back());
  std::optional<Lsn> theirs = LsnAfter(dump.error, "invalid record length at ");
  ASSERT_TRUE(theirs.has_value()) << dump.stderr_text;
  auto from_oldest = FindEndOfWalInDirectory(w.wal_dir, 1, w.control.system_id, Lsn());
  ASSERT_TRUE(from_oldest.ok()) << from_oldest.status().ToString();
  EXPECT_EQ(*from_oldest, *theirs);
  auto from_redo = FindEndOfWalInDirectory(w.wal_dir, 1, w.control.system_id, w.control.redo);
  ASSERT_TRUE(from_redo.ok()) << from_redo.status().ToString();
  EXPECT_EQ(*from_redo, *theirs);
  // Starting at the end finds nothing more: the end is the end.
  auto from_end = FindEndOfWal(MakeWalDirectoryReader(w.wal_dir, 1), *theirs, w.control.system_id);
  ASSERT_TRUE(from_end.ok());
  EXPECT_EQ(*from_end, *theirs);
}

TEST(WalReader, FirstRecordOfEverySegmentIsWherePgWaldumpStarts) {
  const RealWal& w = Wal();
  bool skipped_a_continuation = false;
  for (uint64_t segno : w.segments) {
    WalDump dump = RunPgWaldump(w.wal_dir, segno, segno);
    auto ours = FindFirstRecordInSegment(MakeWalDirectoryReader(w.wal_dir, 1), segno, w.control.system_id);
    ASSERT_TRUE(ours.ok()) << ours.status().ToString();
    if (dump.records.empty()) {
      // A segment after the end of WAL (preallocated, all zeros).
      EXPECT_FALSE(ours->has_value()) << WalSegmentFileName(1, segno);
      continue;
    }
    ASSERT_TRUE(ours->has_value()) << WalSegmentFileName(1, segno);
    EXPECT_EQ(**ours, dump.records.front().lsn) << WalSegmentFileName(1, segno);
    skipped_a_continuation |= (**ours).segment_offset() > kWalPageSize;
  }
  EXPECT_TRUE(skipped_a_continuation) << "a record spanning pages should begin some segment";
}

TEST(WalReader, CommitTimesAreThoseThatPgWaldumpPrints) {
  const RealWal& w = Wal();
  WalDump dump = RunPgWaldump(w.wal_dir, w.segments.front(), w.segments.back());
  ReadAll ours = ReadAllRecords(MakeWalDirectoryReader(w.wal_dir, 1), FirstRecord(w), w.control.system_id);
  ASSERT_EQ(ours.records.size(), dump.records.size()) << dump.stderr_text;
  size_t commits = 0;
  for (size_t i = 0; i < ours.records.size(); ++i) {
    const std::string& desc = dump.records[i].desc;
    const bool commit = desc.rfind("COMMIT ", 0) == 0;
    const auto time = ours.records[i].commit_time();
    ASSERT_EQ(time.has_value(), commit) << "record at " << dump.records[i].lsn.ToString() << ": " << desc;
    if (!commit) continue;
    ++commits;
    // "COMMIT 2026-11-29 14:30:25.693271 UTC; ...": pg_waldump prints in UTC here.
    std::string printed = desc.substr(7, desc.find(" UTC") - 7) + "+00";
    ASSERT_EQ(ParsePgTimestamp(printed), *time) << desc << " vs " << FormatPgTimestamp(*time);
  }
  EXPECT_GT(commits, 10u);
}

TEST(WalReader, ShutdownCheckpointPayloadDecodesFromMainData) {
  const RealWal& w = Wal();
  ReadAll all = ReadAllRecords(MakeWalDirectoryReader(w.wal_dir, 1), w.control.redo, w.control.system_id);
  ASSERT_FALSE(all.records.empty()) << all.end_reason;
  const WalRecord& ckpt = all.records.back();
  EXPECT_EQ(ckpt.start_lsn, w.control.checkpoint);
  EXPECT_EQ(ckpt.rmid, Abi().rm_xlog_id);
  EXPECT_EQ(ckpt.rmgr_info(), Abi().xlog_checkpoint_shutdown);
  ASSERT_EQ(ckpt.main_data_length, Abi().checkpoint.size);
  const Lsn redo(LoadU64(ckpt.main_data(), Abi().checkpoint.redo));
  EXPECT_EQ(redo, w.control.redo);
  EXPECT_EQ(all.end, ckpt.end_lsn);
  EXPECT_EQ(ckpt.end_lsn, ckpt.start_lsn + WalMaxAlign(ckpt.total_length));
}

TEST(WalReader, SwitchRecordEndsAtTheNextSegment) {
  const RealWal& w = Wal();
  ReadAll all = ReadAllRecords(MakeWalDirectoryReader(w.wal_dir, 1), FirstRecord(w), w.control.system_id);
  size_t i = 0;
  while (i < all.records.size() && !all.records[i].is_xlog_switch()) ++i;
  ASSERT_LT(i + 1, all.records.size());
  const WalRecord& sw = all.records[i];
  EXPECT_EQ(sw.end_lsn, Lsn((sw.start_lsn.segment_number() + 1) * kWalSegmentSize));
  EXPECT_EQ(all.records[i + 1].start_lsn, sw.end_lsn + Abi().page_header.long_size);
  // A reader may start at that segment boundary: it skips the long header.
  WalReader reader(MakeWalDirectoryReader(w.wal_dir, 1), w.control.system_id, sw.end_lsn);
  auto next = reader.Next();
  ASSERT_TRUE(next.ok() && next->has_value()) << reader.end_reason();
  EXPECT_EQ((*next)->start_lsn, all.records[i + 1].start_lsn);
}

TEST(WalReader, ReadRecordReturnsTheSameRecordsWithoutCopies) {
  const RealWal& w = Wal();
  WalReader a(MakeWalDirectoryReader(w.wal_dir, 1), w.control.system_id, w.control.redo);
  WalReader b(MakeWalDirectoryReader(w.wal_dir, 1), w.control.system_id, w.control.redo);
  size_t n = 0;
  while (true) {
    auto copy = a.Next();
    auto view = b.ReadRecord();
    ASSERT_TRUE(copy.ok() && view.ok());
    ASSERT_EQ(copy->has_value(), *view != nullptr);
    if (*view == nullptr) break;
    EXPECT_EQ((*copy)->start_lsn, (*view)->start_lsn);
    EXPECT_EQ((*copy)->bytes, (*view)->bytes);
    ++n;
  }
  EXPECT_GT(n, 0u);
  EXPECT_EQ(a.position(), b.position());
}

TEST(WalReader, StartingInsideAPageHeaderOrAtAContinuationIsEndOfWal) {
  const RealWal& w = Wal();
  ReadAll all = ReadAllRecords(MakeWalDirectoryReader(w.wal_dir, 1), FirstRecord(w), w.control.system_id);
  auto big = std::find_if(all.records.begin(), all.records.end(),
                          [](const WalRecord& r) { return r.total_length > 3 * kWalPageSize; });
  ASSERT_NE(big, all.records.end());
  const Lsn continuation_page = big->start_lsn.page_start() + kWalPageSize;
  WalReader at_page(MakeWalDirectoryReader(w.wal_dir, 1), w.control.system_id, continuation_page);
  auto r = at_page.Next();
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->has_value());
  EXPECT_EQ(at_page.end_reason(),
            "contrecord is requested by " + (continuation_page + Abi().page_header.short_size).ToString());
  WalReader in_header(MakeWalDirectoryReader(w.wal_dir, 1), w.control.system_id, continuation_page + 8);
  r = in_header.Next();
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->has_value());
  EXPECT_EQ(in_header.end_reason(), "invalid record offset at " + (continuation_page + 8).ToString());
  EXPECT_EQ(in_header.position(), continuation_page + 8);
}

TEST(WalReader, ResumesWhenTheRestOfARecordArrives) {
  const RealWal& w = Wal();
  MemoryWal mem = MemoryWal::Load(w.wal_dir);
  const Lsn first = FirstRecord(w);
  ReadAll all = ReadAllRecords(mem.Reader(), first, w.control.system_id);
  ASSERT_GE(all.records.size(), 3u);
  // A compute that flushed only part of the last records: the reader stops
  // before the first incomplete one, then continues once the rest is there.
  const WalRecord& torn = all.records[all.records.size() / 2];
  mem.cut = torn.start_lsn + torn.total_length / 2;
  WalReader reader(mem.Reader(), w.control.system_id, first);
  size_t n = 0;
  while (true) {
    auto next = reader.Next();
    ASSERT_TRUE(next.ok());
    if (!next->has_value()) break;
    ++n;
  }
  EXPECT_EQ(n, all.records.size() / 2);
  EXPECT_EQ(reader.position(), all.records[n - 1].end_lsn);
  mem.cut.reset();
  auto resumed = reader.Next();
  ASSERT_TRUE(resumed.ok() && resumed->has_value()) << reader.end_reason();
  EXPECT_EQ((*resumed)->start_lsn, torn.start_lsn);
  EXPECT_EQ((*resumed)->bytes, torn.bytes);
  auto end = FindEndOfWal(mem.Reader(), reader.position(), w.control.system_id);
  ASSERT_TRUE(end.ok());
  EXPECT_EQ(*end, all.end);
}

TEST(WalReader, ReadErrorsAreErrorsNotEndOfWal) {
  const RealWal& w = Wal();
  MemoryWal mem = MemoryWal::Load(w.wal_dir);
  WalReadFn inner = mem.Reader();
  int calls = 0;
  WalReadFn failing = [&](Lsn pos, std::span<uint8_t> buf) -> Result<size_t> {
    if (++calls == 3) return IoError("disk on fire");
    return inner(pos, buf);
  };
  WalReader reader(failing, w.control.system_id, FirstRecord(w));
  bool saw_error = false;
  Lsn before;
  for (int i = 0; i < 100000; ++i) {
    before = reader.position();
    auto next = reader.Next();
    if (!next.ok()) {
      saw_error = true;
      EXPECT_EQ(next.status().code(), StatusCode::kIoError);
      EXPECT_EQ(reader.position(), before) << "an error must not move the reader";
      break;
    }
    ASSERT_TRUE(next->has_value()) << reader.end_reason();
  }
  EXPECT_TRUE(saw_error);
  // Retrying after the failure carries on as if nothing happened.
  auto end = FindEndOfWal(inner, FirstRecord(w), w.control.system_id);
  ASSERT_TRUE(end.ok());
  auto rest = FindEndOfWal(failing, reader.position(), w.control.system_id);
  ASSERT_TRUE(rest.ok());
  EXPECT_EQ(*rest, *end);
}

}  // namespace
}  // namespace zenith::testing
