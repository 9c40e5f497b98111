// WalReader on WAL written after PostgreSQL recovered from a crash that tore
// a record: recovery writes XLOG_OVERWRITE_CONTRECORD where the record's lost
// continuation would have been, and readers must skip the torn record and
// carry on there, as PostgreSQL's own reader does.
#include <gtest/gtest.h>
#include <unistd.h>

#include "common/byte_io.h"
#include "common/pg_abi.h"
#include "common/wal_directory.h"
#include "common/wal_reader.h"
#include "tests/unit/common/wal_test_util.h"

namespace zenith::testing {
namespace {


// Zeroes [pos, end of segment) and removes later segments: the compute died
// before any of that reached the disk.
void LoseWalFrom(const std::string& wal_dir, Lsn pos) {
  const std::string path = SegmentPath(wal_dir, pos.segment_number());
  auto data = ReadFileToString(path);
  ASSERT_TRUE(data.ok());
  std::fill(data->begin() + pos.segment_offset(), data->end(), '\0');
  ASSERT_TRUE(WriteFileDurably(path, *data).ok());
  for (uint64_t s : SegmentsIn(wal_dir)) {
    if (s > pos.segment_number()) {
      ASSERT_EQ(::unlink(SegmentPath(wal_dir, s).c_str()), 0);
    }
  }
}

TEST(WalReaderRecovery, RecordOverwrittenAfterACrashIsSkippedLikePostgresDoes) {
  TempDir tmp("wal-overwrite");
  const std::string datadir = tmp.Sub("data"), wal_dir = datadir + "/pg_wal";
  PgCluster pg(datadir, tmp.path(), 5432);
  ASSERT_TRUE(pg.Initdb().ok());
  ASSERT_TRUE(pg.Start(TestServerSettings()).ok());
  pg.Query("CREATE TABLE t (id int, v text)");
  pg.Query("CHECKPOINT");
  pg.Query("INSERT INTO t VALUES (1, 'before')");
  pg.Query("SELECT pg_logical_emit_message(false, 'torn', repeat('t', 40000))");
  pg.Query("INSERT INTO t VALUES (2, 'lost')");  // its commit flushes the message too
  ASSERT_TRUE(pg.Stop("immediate").ok());

  // Only the first page of the message made it to disk.
  const ControlData control = ReadControlData(datadir);
  ReadAll crashed = ReadAllRecords(MakeWalDirectoryReader(wal_dir, 1), control.redo, control.system_id);
  auto torn = std::find_if(crashed.records.begin(), crashed.records.end(),
                           [](const WalRecord& r) { return r.main_data_length > 40000; });
  ASSERT_NE(torn, crashed.records.end());
  ASSERT_NE(torn, crashed.records.begin());
  const Lsn torn_start = torn->start_lsn, before_torn = (torn - 1)->start_lsn;
  const Lsn lost_page = torn_start.page_start() + kWalPageSize;
  LoseWalFrom(wal_dir, lost_page);
  auto end = FindEndOfWalInDirectory(wal_dir, 1, control.system_id, control.redo);
  ASSERT_TRUE(end.ok());
  EXPECT_EQ(*end, (torn - 1)->end_lsn) << "the torn record must not count";

  // Crash recovery ends at the torn record and writes the overwrite record.
  ASSERT_TRUE(pg.Start(TestServerSettings()).ok());
  pg.Query("INSERT INTO t VALUES (3, 'after')");
  ASSERT_TRUE(pg.Stop("fast").ok());

  std::vector<uint64_t> segs = SegmentsIn(wal_dir);
  WalDump dump = RunPgWaldump(wal_dir, segs.front(), segs.back());
  auto first = FindFirstRecordInSegment(MakeWalDirectoryReader(wal_dir, 1), segs.front(), control.system_id);
  ASSERT_TRUE(first.ok() && first->has_value());
  ReadAll ours = ReadAllRecords(MakeWalDirectoryReader(wal_dir, 1), **first, control.system_id);
  ASSERT_EQ(ours.records.size(), dump.records.size()) << ours.end_reason << "\n" << dump.stderr_text;
  for (size_t i = 0; i < ours.records.size(); ++i) {
    ASSERT_EQ(ours.records[i].start_lsn, dump.records[i].lsn);
    ASSERT_EQ(WalRmgrName(ours.records[i].rmid), dump.records[i].rmgr);
  }
  EXPECT_EQ(ours.end_reason, dump.error);

  auto overwrite = std::find_if(ours.records.begin(), ours.records.end(), [&](const WalRecord& r) {
    return r.rmid == kZenithPgAbi.rm_xlog_id && r.rmgr_info() == kZenithPgAbi.xlog_overwrite_contrecord;
  });
  ASSERT_NE(overwrite, ours.records.end());
  EXPECT_EQ(overwrite->start_lsn, lost_page + kZenithPgAbi.page_header.short_size);
  EXPECT_EQ(overwrite->prev, before_torn);
  ASSERT_GE(overwrite->main_data_length, 8u);
  EXPECT_EQ(Lsn(LoadU64(overwrite->main_data(), 0)), torn_start) << "xl_overwrite_contrecord.overwritten_lsn";
  for (const WalRecord& r : ours.records) EXPECT_NE(r.start_lsn, torn_start);

  auto final_end = FindEndOfWalInDirectory(wal_dir, 1, control.system_id, Lsn());
  ASSERT_TRUE(final_end.ok());
  EXPECT_EQ(*final_end, ours.end);
  EXPECT_EQ(LsnAfter(dump.error, "invalid record length at "), ours.end);
}

}  // namespace
}  // namespace zenith::testing
