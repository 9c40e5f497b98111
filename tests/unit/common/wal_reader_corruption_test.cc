// WalReader on damaged WAL: torn, truncated, missing, foreign or random
// bytes. Each case ends the WAL cleanly before the damage (never an error,
// never a record that is not what PostgreSQL wrote), and where pg_waldump can
// read the same files, exactly where and why it stops too.
#include <gtest/gtest.h>
#include <unistd.h>

#include <random>

#include "common/byte_io.h"
#include "common/pg_abi.h"
#include "common/wal_directory.h"
#include "common/wal_reader.h"
#include "tests/unit/common/wal_test_util.h"

namespace zenith::testing {
namespace {

const ZenithPgAbi& Abi() { return kZenithPgAbi; }

// The real WAL, and every record in it, once per test process.
struct Fixture {
  RealWal wal;
  Lsn first;
  ReadAll all;
  uint64_t sysid() const { return wal.control.system_id; }

  // Index of the first record matching `pred`.
  template <typename Pred>
  size_t Find(Pred pred) const {
    for (size_t i = 0; i < all.records.size(); ++i) {
      if (pred(all.records[i])) return i;
    }
    ADD_FAILURE() << "no such record in the test WAL";
    return 0;
  }
  // The 40000-byte logical message: spans several pages.
  size_t MultiPageRecord() const {
    return Find([](const WalRecord& r) { return r.main_data_length > 40000 && r.main_data_length < 41000; });
  }
  // The record that starts in one segment and ends in the next.
  size_t SegmentSpanningRecord() const {
    return Find([&](const WalRecord& r) { return r.start_lsn == wal.span_record; });
  }
  // A small record in the middle of a page with main data, well into the WAL.
  size_t OnePageRecord() const {
    size_t i = Find([](const WalRecord& r) {
      return r.start_lsn.page_offset() > 1024 && r.start_lsn.page_offset() < 4096 && r.main_data_length >= 2 &&
             r.total_length < 200 && !r.blocks.empty() && r.start_lsn.value > 0x1100000;
    });
    return i;
  }
};

// A static object, so its directory is removed at exit.
const Fixture& F() {
  static const Fixture f = [] {
    Fixture fx{MakeRealWal("wal-corruption")};
    auto first = FindFirstRecordInSegment(MakeWalDirectoryReader(fx.wal.wal_dir, 1), fx.wal.segments.front(),
                                          fx.sysid());
    EXPECT_TRUE(first.ok() && first->has_value());
    if (first.ok() && first->has_value()) fx.first = **first;
    fx.all = ReadAllRecords(MakeWalDirectoryReader(fx.wal.wal_dir, 1), fx.first, fx.sysid());
    return fx;
  }();
  return f;
}

// Reads `dir` with our reader and with pg_waldump; expects the same records,
// and the same reason when pg_waldump's reader (not its file access) named
// one. Returns ours.
ReadAll ExpectSameAsPgWaldump(const std::string& dir) {
  const Fixture& f = F();
  std::vector<uint64_t> segs = SegmentsIn(dir);
  WalDump dump = RunPgWaldump(dir, segs.front(), segs.back());
  ReadAll ours = ReadAllRecords(MakeWalDirectoryReader(dir, 1), f.first, f.sysid());
  EXPECT_EQ(ours.records.size(), dump.records.size()) << "ours: " << ours.end_reason << "\npg_waldump: "
                                                      << dump.stderr_text;
  if (!ours.records.empty() && ours.records.size() == dump.records.size()) {
    EXPECT_EQ(ours.records.back().start_lsn, dump.records.back().lsn);
  }
  if (!dump.error.empty()) {
    EXPECT_EQ(ours.end_reason, dump.error);
  }
  return ours;
}

// The records we read equal the first `n` of the intact WAL, and it ends there.
void ExpectIntactPrefix(const ReadAll& got, size_t n) {
  const Fixture& f = F();
  ASSERT_EQ(got.records.size(), n) << "ended: " << got.end_reason;
  for (size_t i = 0; i < n; ++i) {
    ASSERT_EQ(got.records[i].start_lsn, f.all.records[i].start_lsn);
    ASSERT_EQ(got.records[i].bytes, f.all.records[i].bytes);
  }
  EXPECT_EQ(got.end, n == 0 ? f.first : f.all.records[n - 1].end_lsn);
}

void Truncate(const std::string& path, uint64_t size) { ASSERT_EQ(::truncate(path.c_str(), size), 0) << path; }

void RemoveSegmentsAfter(const std::string& dir, uint64_t segno) {
  for (uint64_t s : SegmentsIn(dir)) {
    if (s > segno) {
      ASSERT_EQ(::unlink(SegmentPath(dir, s).c_str()), 0);
    }
  }
}

// Overwrites [pos, end of its segment) with zeros, like a preallocated file
// whose tail was never written.
void ZeroFrom(const std::string& dir, Lsn pos) {
  std::string path = SegmentPath(dir, pos.segment_number());
  auto data = ReadFileToString(path);
  ASSERT_TRUE(data.ok());
  std::fill(data->begin() + pos.segment_offset(), data->end(), '\0');
  ASSERT_TRUE(WriteFileDurably(path, *data).ok());
}

TEST(WalReaderCorruption, FlippedPayloadByteEndsWalBeforeThatRecord) {
  const Fixture& f = F();
  for (size_t victim : {f.MultiPageRecord(), f.OnePageRecord()}) {
    TempDir tmp("wal-flip");
    CopyWalDir(f.wal.wal_dir, tmp.Sub("wal"));
    const WalRecord& r = f.all.records[victim];
    const Lsn pos = LsnOfRecordByte(r, r.main_data_offset + r.main_data_length / 2);
    MemoryWal mem = MemoryWal::Load(tmp.Sub("wal"));
    mem.At(pos) ^= 0x01;
    auto& seg = mem.segments[pos.segment_number()];
    ASSERT_TRUE(WriteFileDurably(SegmentPath(tmp.Sub("wal"), pos.segment_number()), AsStringView(seg)).ok());
    ReadAll got = ExpectSameAsPgWaldump(tmp.Sub("wal"));
    ExpectIntactPrefix(got, victim);
    EXPECT_EQ(got.end_reason, "incorrect resource manager data checksum in record at " + r.start_lsn.ToString());
  }
}

// The seed's case: a compute that crashed (or has not flushed yet) after
// writing the first page of a record that spans pages.
TEST(WalReaderCorruption, RecordWhoseSecondHalfIsNotWrittenEndsWalBeforeIt) {
  const Fixture& f = F();
  const size_t victim = f.MultiPageRecord();
  const Lsn second_page = f.all.records[victim].start_lsn.page_start() + kWalPageSize;
  for (uint64_t cut : {uint64_t{0}, uint64_t{1000}}) {  // the file ends at the page, or inside it
    TempDir tmp("wal-torn");
    CopyWalDir(f.wal.wal_dir, tmp.Sub("wal"));
    const Lsn end_of_file = second_page + cut;
    Truncate(SegmentPath(tmp.Sub("wal"), end_of_file.segment_number()), end_of_file.segment_offset());
    RemoveSegmentsAfter(tmp.Sub("wal"), end_of_file.segment_number());
    ExpectIntactPrefix(ExpectSameAsPgWaldump(tmp.Sub("wal")), victim);
    auto end = FindEndOfWalInDirectory(tmp.Sub("wal"), 1, f.sysid(), Lsn());
    ASSERT_TRUE(end.ok()) << end.status().ToString();
    EXPECT_EQ(*end, f.all.records[victim - 1].end_lsn);
  }
  // A preallocated segment: the unwritten half reads as zeros.
  TempDir tmp("wal-zeroed");
  CopyWalDir(f.wal.wal_dir, tmp.Sub("wal"));
  ZeroFrom(tmp.Sub("wal"), second_page);
  RemoveSegmentsAfter(tmp.Sub("wal"), second_page.segment_number());
  ReadAll got = ExpectSameAsPgWaldump(tmp.Sub("wal"));
  ExpectIntactPrefix(got, victim);
  EXPECT_EQ(got.end_reason.rfind("invalid magic number 0000 in log segment ", 0), 0u) << got.end_reason;
}

TEST(WalReaderCorruption, SegmentCutInsideAPageHeaderEndsWalBeforeTheRecordOnIt) {
  const Fixture& f = F();
  const size_t multi = f.MultiPageRecord();
  const size_t span = f.SegmentSpanningRecord();
  const Lsn next_segment((f.wal.span_record.segment_number() + 1) * kWalSegmentSize);
  struct Case {
    Lsn cut;
    size_t records;
  } cases[] = {
      {f.all.records[multi].start_lsn.page_start() + kWalPageSize + 12, multi},  // inside a short header
      {next_segment + 20, span},                                                 // inside a long header
  };
  for (const Case& c : cases) {
    TempDir tmp("wal-cut-header");
    CopyWalDir(f.wal.wal_dir, tmp.Sub("wal"));
    Truncate(SegmentPath(tmp.Sub("wal"), c.cut.segment_number()), c.cut.segment_offset());
    RemoveSegmentsAfter(tmp.Sub("wal"), c.cut.segment_number());
    ExpectIntactPrefix(ExpectSameAsPgWaldump(tmp.Sub("wal")), c.records);
  }
}

TEST(WalReaderCorruption, MissingOrEmptyNextSegmentEndsWalBeforeTheRecordThatCrossesIntoIt) {
  const Fixture& f = F();
  const size_t span = f.SegmentSpanningRecord();
  const uint64_t next = f.wal.span_record.segment_number() + 1;
  for (bool zero_length : {false, true}) {
    TempDir tmp("wal-missing");
    CopyWalDir(f.wal.wal_dir, tmp.Sub("wal"));
    RemoveSegmentsAfter(tmp.Sub("wal"), next);
    if (zero_length) {
      Truncate(SegmentPath(tmp.Sub("wal"), next), 0);
    } else {
      ASSERT_EQ(::unlink(SegmentPath(tmp.Sub("wal"), next).c_str()), 0);
    }
    ReadAll got = ReadAllRecords(MakeWalDirectoryReader(tmp.Sub("wal"), 1), f.first, f.sysid());
    ExpectIntactPrefix(got, span);
    auto end = FindEndOfWalInDirectory(tmp.Sub("wal"), 1, f.sysid(), Lsn());
    ASSERT_TRUE(end.ok()) << end.status().ToString();
    EXPECT_EQ(*end, f.all.records[span - 1].end_lsn);
  }
  if (::testing::Test::HasFailure()) return;
  TempDir tmp("wal-missing-pgwaldump");
  CopyWalDir(f.wal.wal_dir, tmp.Sub("wal"));
  RemoveSegmentsAfter(tmp.Sub("wal"), next - 1);
  ExpectSameAsPgWaldump(tmp.Sub("wal"));
}

TEST(WalReaderCorruption, GarbageIsNeverWal) {
  const Fixture& f = F();
  std::mt19937_64 rng(20240611);
  std::string garbage(1 << 20, '\0');
  for (char& c : garbage) c = static_cast<char>(rng());
  // A directory holding nothing but garbage.
  TempDir tmp("wal-garbage");
  ASSERT_TRUE(MakeDirectories(tmp.Sub("only")).ok());
  ASSERT_TRUE(WriteFileDurably(SegmentPath(tmp.Sub("only"), 1), garbage).ok());
  auto end = FindEndOfWalInDirectory(tmp.Sub("only"), 1, 0, Lsn());
  EXPECT_EQ(end.status().code(), StatusCode::kCorruption) << end.status().ToString();
  std::string why;
  auto first = FindFirstRecordInSegment(MakeWalDirectoryReader(tmp.Sub("only"), 1), 1, 0, &why);
  ASSERT_TRUE(first.ok());
  EXPECT_FALSE(first->has_value());
  EXPECT_FALSE(why.empty());
  const Lsn start(kWalSegmentSize + Abi().page_header.long_size);
  auto from_start = FindEndOfWal(MakeWalDirectoryReader(tmp.Sub("only"), 1), start, 0);
  ASSERT_TRUE(from_start.ok());
  EXPECT_EQ(*from_start, start);
  // Garbage where the next segment should be.
  CopyWalDir(f.wal.wal_dir, tmp.Sub("wal"));
  const uint64_t next = f.wal.span_record.segment_number() + 1;
  RemoveSegmentsAfter(tmp.Sub("wal"), next);
  ASSERT_TRUE(WriteFileDurably(SegmentPath(tmp.Sub("wal"), next), garbage).ok());
  ReadAll got = ExpectSameAsPgWaldump(tmp.Sub("wal"));
  ExpectIntactPrefix(got, f.SegmentSpanningRecord());
  EXPECT_EQ(got.end_reason.rfind("invalid magic number", 0), 0u) << got.end_reason;
}

// A segment PostgreSQL recycled (renamed from an old one) still holds the old
// WAL: its pages name other addresses.
TEST(WalReaderCorruption, RecycledSegmentIsNotRead) {
  const Fixture& f = F();
  TempDir tmp("wal-recycled");
  CopyWalDir(f.wal.wal_dir, tmp.Sub("wal"));
  const uint64_t next = f.wal.span_record.segment_number() + 1;
  RemoveSegmentsAfter(tmp.Sub("wal"), next);
  auto old = ReadFileToString(SegmentPath(tmp.Sub("wal"), f.wal.segments.front()));
  ASSERT_TRUE(old.ok());
  ASSERT_TRUE(WriteFileDurably(SegmentPath(tmp.Sub("wal"), next), *old).ok());
  ReadAll got = ExpectSameAsPgWaldump(tmp.Sub("wal"));
  ExpectIntactPrefix(got, f.SegmentSpanningRecord());
  EXPECT_EQ(got.end_reason.rfind("unexpected pageaddr ", 0), 0u) << got.end_reason;
}

// A complete, CRC-valid record that is not the successor of the last one
// (left over on a torn page, say): the prev-link gives it away.
TEST(WalReaderCorruption, StaleValidRecordAfterTheEndIsNotBelieved) {
  const Fixture& f = F();
  const WalRecord& last = f.all.records.back();
  const WalRecord& stale = f.all.records[f.all.records.size() - 2];
  ASSERT_LE(last.end_lsn.page_offset() + stale.total_length, kWalPageSize) << "pick another record";
  ASSERT_NE(last.end_lsn.page_offset(), 0u);
  TempDir tmp("wal-stale");
  CopyWalDir(f.wal.wal_dir, tmp.Sub("wal"));
  MemoryWal mem = MemoryWal::Load(tmp.Sub("wal"));
  for (size_t i = 0; i < stale.total_length; ++i) mem.At(last.end_lsn + i) = stale.bytes[i];
  const uint64_t segno = last.end_lsn.segment_number();
  ASSERT_TRUE(WriteFileDurably(SegmentPath(tmp.Sub("wal"), segno), AsStringView(mem.segments[segno])).ok());
  ReadAll got = ExpectSameAsPgWaldump(tmp.Sub("wal"));
  ExpectIntactPrefix(got, f.all.records.size());
  EXPECT_EQ(got.end_reason, "record with incorrect prev-link " + stale.prev.ToString() + " at " +
                                last.end_lsn.ToString());
}

TEST(WalReaderCorruption, NoSegmentOrOnlyAnEmptyOneIsAClearError) {
  TempDir tmp("wal-empty");
  ASSERT_TRUE(MakeDirectories(tmp.Sub("wal")).ok());
  auto none = FindEndOfWalInDirectory(tmp.Sub("wal"), 1, 0, Lsn());
  EXPECT_EQ(none.status().code(), StatusCode::kNotFound) << none.status().ToString();
  ASSERT_TRUE(WriteFileDurably(SegmentPath(tmp.Sub("wal"), 1), "").ok());
  auto empty = FindEndOfWalInDirectory(tmp.Sub("wal"), 1, 0, Lsn());
  EXPECT_EQ(empty.status().code(), StatusCode::kCorruption) << empty.status().ToString();
  const Lsn start(kWalSegmentSize + Abi().page_header.long_size);
  auto from_start = FindEndOfWalInDirectory(tmp.Sub("wal"), 1, 0, start);
  ASSERT_TRUE(from_start.ok());
  EXPECT_EQ(*from_start, start);
}

TEST(WalReaderCorruption, WrongSystemIdIsAnotherDatabasesWal) {
  const Fixture& f = F();
  const uint64_t other = f.sysid() ^ 0x5a5a;
  const std::string expected_reason =
      "WAL file is from different database system: WAL file database system identifier is " +
      std::to_string(f.sysid()) + ", pg_control database system identifier is " + std::to_string(other);
  auto dir_end = FindEndOfWalInDirectory(f.wal.wal_dir, 1, other, Lsn());
  EXPECT_EQ(dir_end.status().code(), StatusCode::kCorruption);
  EXPECT_NE(dir_end.status().message().find(expected_reason), std::string::npos) << dir_end.status().ToString();
  // Starting in the middle of a segment still checks the segment's long header.
  const WalRecord& mid = f.all.records[f.OnePageRecord()];
  WalReader reader(MakeWalDirectoryReader(f.wal.wal_dir, 1), other, mid.start_lsn);
  auto r = reader.Next();
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->has_value());
  EXPECT_EQ(reader.end_reason(), expected_reason);
  // One foreign segment in the middle of ours ends the WAL before it.
  MemoryWal mem = MemoryWal::Load(f.wal.wal_dir);
  const Lsn next_segment((f.wal.span_record.segment_number() + 1) * kWalSegmentSize);
  StoreAt<uint64_t>(mem.segments.at(next_segment.segment_number()), Abi().page_header.sysid, other);
  ReadAll got = ReadAllRecords(mem.Reader(), f.first, f.sysid());
  ExpectIntactPrefix(got, f.SegmentSpanningRecord());
  EXPECT_EQ(got.end_reason, "WAL file is from different database system: WAL file database system identifier is " +
                                std::to_string(other) + ", pg_control database system identifier is " +
                                std::to_string(f.sysid()));
}

TEST(WalReaderCorruption, CorruptRecordLengthNeverReadsOrAllocatesWhatIsNotThere) {
  const Fixture& f = F();
  const size_t victim = f.OnePageRecord();
  const WalRecord& r = f.all.records[victim];
  const Lsn next_page = r.start_lsn.page_start() + kWalPageSize;
  const uint32_t first_part = kWalPageSize - r.start_lsn.page_offset();
  struct Case {
    uint32_t total_len;
    bool consistent_next_page;  // also forge the next page's header to agree
    std::string reason_prefix;
  } cases[] = {
      {0x7ffffff0u, false, ""},  // the next page disagrees (no contrecord flag, or another length)
      {0x7ffffff0u, true, "record length 2147483632 at " + r.start_lsn.ToString() + " too long"},
      {200u << 20, true, ""},    // allowed length: read page by page, end where the pages disagree
  };
  for (const Case& c : cases) {
    MemoryWal mem = MemoryWal::Load(f.wal.wal_dir);
    StoreAt<uint32_t>(mem.segments.at(r.start_lsn.segment_number()),
                      r.start_lsn.segment_offset() + Abi().record.tot_len, c.total_len);
    if (c.consistent_next_page) {
      auto& seg = mem.segments.at(next_page.segment_number());
      const size_t hdr = next_page.segment_offset();
      const uint16_t info = LoadU16(seg, hdr + Abi().page_header.info);
      StoreAt<uint16_t>(seg, hdr + Abi().page_header.info, info | Abi().xlp_first_is_contrecord);
      StoreAt<uint32_t>(seg, hdr + Abi().page_header.rem_len, c.total_len - first_part);
    }
    ReadAll got = ReadAllRecords(mem.Reader(), f.all.records[victim - 1].start_lsn, f.sysid());
    ASSERT_EQ(got.records.size(), 1u) << got.end_reason;
    EXPECT_EQ(got.end, r.start_lsn);
    if (!c.reason_prefix.empty()) {
      EXPECT_EQ(got.end_reason, c.reason_prefix);
    }
    EXPECT_LT(mem.bytes_read, 8u * kWalPageSize) << "read far past a corrupt header: " << got.end_reason;
  }
}

// Random damage to real WAL, many times over: the reader never crashes,
// always stops, and every record it returns is one PostgreSQL wrote (same
// place, same bytes), in order, without skipping any: so nothing past the
// damage with a bad CRC ever comes out. Records wholly before the damage
// must all come out.
class FuzzWindow {
 public:
  FuzzWindow(const Fixture& f, size_t first, size_t last, uint64_t tail)
      : f_(f), first_(first), last_(last), mem_(MemoryWal::Load(f.wal.wal_dir)) {
    begin_ = f.all.records[first].start_lsn;
    end_ = f.all.records[last].end_lsn + tail;
    mem_.cut = end_;  // the window is all the WAL there is
  }

  void FlipBytes(std::mt19937_64& rng) {
    std::uniform_int_distribution<uint64_t> where(begin_.value, end_.value - 1);
    std::vector<std::pair<Lsn, uint8_t>> saved;
    Lsn lowest(UINT64_MAX);
    for (int n = 1 + static_cast<int>(rng() % 3); n > 0; --n) {
      Lsn pos(where(rng));
      if (!Present(pos)) continue;
      saved.emplace_back(pos, mem_.At(pos));
      mem_.At(pos) ^= static_cast<uint8_t>(1u << (rng() % 8));
      lowest = std::min(lowest, pos);
    }
    Check(lowest.page_start(), Lsn(UINT64_MAX));
    for (auto it = saved.rbegin(); it != saved.rend(); ++it) mem_.At(it->first) = it->second;
  }

  void Truncate(std::mt19937_64& rng) {
    std::uniform_int_distribution<uint64_t> where(begin_.value, end_.value);
    mem_.cut = Lsn(where(rng));
    Check(*mem_.cut, *mem_.cut);
    mem_.cut = end_;
  }

 private:
  bool Present(Lsn pos) const {
    auto it = mem_.segments.find(pos.segment_number());
    return it != mem_.segments.end() && pos.segment_offset() < it->second.size();
  }

  // Everything read is an intact prefix of the window's records; every
  // record ending by `intact_until` is there; nothing starts at or after
  // `absent_from`.
  void Check(Lsn intact_until, Lsn absent_from) {
    ReadAll got = ReadAllRecords(mem_.Reader(), begin_, f_.sysid());
    const size_t available = last_ + 1 - first_;
    ASSERT_LE(got.records.size(), available);
    size_t must = 0;
    while (must < available && f_.all.records[first_ + must].end_lsn <= intact_until) ++must;
    ASSERT_GE(got.records.size(), must) << "lost a record before the damage: " << got.end_reason;
    for (size_t i = 0; i < got.records.size(); ++i) {
      const WalRecord& want = f_.all.records[first_ + i];
      ASSERT_EQ(got.records[i].start_lsn, want.start_lsn);
      ASSERT_EQ(got.records[i].end_lsn, want.end_lsn);
      ASSERT_EQ(got.records[i].bytes, want.bytes) << "a damaged record came out at " << want.start_lsn.ToString();
      ASSERT_LT(got.records[i].start_lsn, absent_from);
    }
  }

  const Fixture& f_;
  size_t first_, last_;
  MemoryWal mem_;
  Lsn begin_, end_;
};

TEST(WalReaderCorruption, RandomDamageNeverYieldsADamagedRecord) {
  const Fixture& f = F();
  std::mt19937_64 rng(0x7a656e697468);  // fixed: failures reproduce
  const size_t n = f.all.records.size();
  const size_t multi = f.MultiPageRecord(), span = f.SegmentSpanningRecord();
  size_t sw = f.Find([](const WalRecord& r) { return r.is_xlog_switch(); });
  struct Window {
    size_t first, last;
    uint64_t tail;
  } windows[] = {
      {multi - 20, multi + 40, 0},              // a record over several pages
      {span - 20, span + 20, 0},                // a record over a segment boundary
      {sw - 10, sw + 20, 0},                    // XLOG_SWITCH and the next segment
      {n - 60, n - 1, 4 * kWalPageSize},        // FPIs, compressed FPIs, the end of WAL and the zeros after it
  };
  for (const Window& win : windows) {
    FuzzWindow fuzz(f, win.first, win.last, win.tail);
    for (int i = 0; i < 150; ++i) {
      fuzz.FlipBytes(rng);
      fuzz.Truncate(rng);
      if (::testing::Test::HasFatalFailure()) return;
    }
  }
}

}  // namespace
}  // namespace zenith::testing
