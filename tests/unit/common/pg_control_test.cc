// pg_control decoding against files a real PostgreSQL 15 wrote, checked
// field by field against what pg_controldata prints for the same file.
#include "common/pg_control.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <ctime>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/byte_io.h"
#include "common/file_util.h"
#include "common/pg_abi.h"
#include "tests/harness/pg_cluster.h"
#include "tests/harness/temp_dir.h"
#include "tests/harness/test_env.h"

namespace zenith {
namespace {

using testing::PgBin;
using testing::PgCluster;
using testing::RunCommand;
using testing::RunResult;
using testing::TempDir;
using Bytes = std::vector<uint8_t>;
using Lines = std::vector<std::pair<std::string, std::string>>;

Bytes ReadBytes(const std::string& path) {
  Result<std::string> contents = ReadFileToString(path);
  EXPECT_TRUE(contents.ok()) << contents.status().ToString();
  if (!contents.ok()) return {};
  return Bytes(contents->begin(), contents->end());
}

// ---- pg_controldata's output, and our values formatted its way ----

// "Name:   value" lines into a map; the name never contains a colon.
std::map<std::string, std::string> ParseControldata(const std::string& out) {
  std::map<std::string, std::string> fields;
  size_t start = 0;
  while (start < out.size()) {
    size_t end = out.find('\n', start);
    if (end == std::string::npos) end = out.size();
    std::string line = out.substr(start, end - start);
    start = end + 1;
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    size_t value = line.find_first_not_of(' ', colon + 1);
    fields[line.substr(0, colon)] = value == std::string::npos ? "" : line.substr(value);
  }
  return fields;
}

// LC_ALL=C: untranslated labels, and the C locale's %c like this process's.
RunResult RunPgControldata(const std::string& datadir) {
  return RunCommand({PgBin("pg_controldata"), "-D", datadir}, {.env = {{"LC_ALL", "C"}}});
}

std::string OnOff(bool v) { return v ? "on" : "off"; }
std::string YesNo(bool v) { return v ? "yes" : "no"; }

// pg_controldata prints times with strftime("%c", localtime(t)).
std::string LocalTime(int64_t t) {
  time_t tt = static_cast<time_t>(t);
  struct tm tm;
  localtime_r(&tt, &tm);
  char buf[128];
  strftime(buf, sizeof buf, "%c", &tm);
  return buf;
}

std::string NonceHex(const std::array<uint8_t, kMockAuthNonceLen>& nonce) {
  std::string hex;
  char buf[3];
  for (uint8_t b : nonce) {
    std::snprintf(buf, sizeof buf, "%02x", b);
    hex += buf;
  }
  return hex;
}

Lines CheckPointLines(const CheckPointData& c) {
  const std::string p = "Latest checkpoint's ";
  return {
      {p + "REDO location", c.redo.ToString()},
      {p + "TimeLineID", std::to_string(c.this_timeline_id)},
      {p + "PrevTimeLineID", std::to_string(c.prev_timeline_id)},
      {p + "full_page_writes", OnOff(c.full_page_writes)},
      {p + "NextXID", std::to_string(c.next_xid_epoch()) + ":" + std::to_string(c.next_xid())},
      {p + "NextOID", std::to_string(c.next_oid)},
      {p + "NextMultiXactId", std::to_string(c.next_multi)},
      {p + "NextMultiOffset", std::to_string(c.next_multi_offset)},
      {p + "oldestXID", std::to_string(c.oldest_xid)},
      {p + "oldestXID's DB", std::to_string(c.oldest_xid_db)},
      {p + "oldestActiveXID", std::to_string(c.oldest_active_xid)},
      {p + "oldestMultiXid", std::to_string(c.oldest_multi)},
      {p + "oldestMulti's DB", std::to_string(c.oldest_multi_db)},
      {p + "oldestCommitTsXid", std::to_string(c.oldest_commit_ts_xid)},
      {p + "newestCommitTsXid", std::to_string(c.newest_commit_ts_xid)},
      {"Time of latest checkpoint", LocalTime(c.time)},
  };
}

Lines ControlLines(const ControlFile& c) {
  return {
      {"pg_control version number", std::to_string(c.pg_control_version)},
      {"Catalog version number", std::to_string(c.catalog_version_no)},
      {"Database system identifier", std::to_string(c.system_identifier)},
      {"Database cluster state", std::string(DbStateName(c.state))},
      {"pg_control last modified", LocalTime(c.time)},
      {"Latest checkpoint location", c.checkpoint.ToString()},
      {"Fake LSN counter for unlogged rels", c.unlogged_lsn.ToString()},
      {"Minimum recovery ending location", c.min_recovery_point.ToString()},
      {"Min recovery ending loc's timeline", std::to_string(c.min_recovery_point_tli)},
      {"Backup start location", c.backup_start_point.ToString()},
      {"Backup end location", c.backup_end_point.ToString()},
      {"End-of-backup record required", YesNo(c.backup_end_required)},
      {"wal_level setting", std::string(WalLevelName(c.wal_level))},
      {"wal_log_hints setting", OnOff(c.wal_log_hints)},
      {"max_connections setting", std::to_string(c.max_connections)},
      {"max_worker_processes setting", std::to_string(c.max_worker_processes)},
      {"max_wal_senders setting", std::to_string(c.max_wal_senders)},
      {"max_prepared_xacts setting", std::to_string(c.max_prepared_xacts)},
      {"max_locks_per_xact setting", std::to_string(c.max_locks_per_xact)},
      {"track_commit_timestamp setting", OnOff(c.track_commit_timestamp)},
      {"Maximum data alignment", std::to_string(c.max_align)},
      {"Database block size", std::to_string(c.blcksz)},
      {"Blocks per segment of large relation", std::to_string(c.relseg_size)},
      {"WAL block size", std::to_string(c.xlog_blcksz)},
      {"Bytes per WAL segment", std::to_string(c.xlog_seg_size)},
      {"Maximum length of identifiers", std::to_string(c.name_data_len)},
      {"Maximum columns in an index", std::to_string(c.index_max_keys)},
      {"Maximum size of a TOAST chunk", std::to_string(c.toast_max_chunk_size)},
      {"Size of a large-object chunk", std::to_string(c.loblksize)},
      {"Float8 argument passing", c.float8_by_val ? "by value" : "by reference"},
      {"Data page checksum version", std::to_string(c.data_checksum_version)},
      {"Mock authentication nonce", NonceHex(c.mock_authentication_nonce)},
  };
}

// Lines pg_controldata derives or hard-codes rather than reads from a field.
const std::set<std::string> kNotAField = {"Latest checkpoint's REDO WAL file", "Date/time type storage"};

// Every field we decode equals what pg_controldata printed, and every line
// pg_controldata printed is one we compared (so a field we forgot fails).
void ExpectMatchesPgControldata(const ControlFile& c, const std::string& controldata_out) {
  std::map<std::string, std::string> printed = ParseControldata(controldata_out);
  Lines ours = ControlLines(c);
  for (auto& line : CheckPointLines(c.checkpoint_copy)) ours.push_back(line);
  std::set<std::string> compared = kNotAField;
  for (const auto& [name, value] : ours) {
    compared.insert(name);
    auto it = printed.find(name);
    if (it == printed.end()) {
      ADD_FAILURE() << "pg_controldata printed no \"" << name << "\" line";
      continue;
    }
    EXPECT_EQ(value, it->second) << name;
  }
  for (const auto& [name, value] : printed) EXPECT_TRUE(compared.count(name)) << "not compared: " << name;
  EXPECT_EQ(c.float_format, 1234567.0);  // the one field pg_controldata does not print
}

// ---- real clusters ----

class PgControlTest : public ::testing::Test {
 protected:
  PgControlTest() : dir_("pg-control"), pg_(dir_.Sub("data"), dir_.path(), 5432) {}

  // initdb with data checksums; nothing started.
  void Initdb() { ASSERT_TRUE(pg_.Initdb({"-k"}).ok()); }

  // Starts with every pg_control setting off its default (so that a field
  // read at another field's offset cannot match by luck), writes data,
  // takes a multixact and checkpoints.
  void StartWithWorkload() {
    ASSERT_NO_FATAL_FAILURE(Initdb());
    ASSERT_TRUE(pg_.Start({"max_connections=37", "max_worker_processes=5", "max_wal_senders=3",
                           "max_prepared_transactions=2", "max_locks_per_transaction=77",
                           "track_commit_timestamp=on", "wal_log_hints=on", "wal_level=logical",
                           "full_page_writes=off", "autovacuum=off"})
                    .ok());
    pg_.Query("create table t (id int primary key, v text)");
    pg_.Query("insert into t select g, repeat('x', 100) from generate_series(1, 2000) g");
    // A row locked by a transaction and its subtransaction needs a multixact.
    pg_.Query("begin; select 1 from t where id = 1 for share; savepoint s; "
              "select 1 from t where id = 1 for update; commit");
    pg_.Query("checkpoint");
  }

  std::string ControlPath() const { return pg_.datadir() + "/global/pg_control"; }

  ControlFile MustDecode(const Bytes& bytes) {
    Result<ControlFile> c = DecodeControlFile(bytes);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? *c : ControlFile{};
  }

  // A running server may rewrite pg_control at any time: read it, run
  // pg_controldata, and retry until the file did not change in between.
  std::pair<Bytes, std::string> ReadWithControldata() {
    for (int attempt = 0; attempt < 10; ++attempt) {
      Bytes before = ReadBytes(ControlPath());
      RunResult r = RunPgControldata(pg_.datadir());
      EXPECT_TRUE(r.ok()) << r.Describe();
      if (ReadBytes(ControlPath()) == before) return {before, r.out};
    }
    ADD_FAILURE() << "pg_control kept changing";
    return {};
  }

  TempDir dir_;
  PgCluster pg_;
};

// ---- decoding what PostgreSQL wrote ----

TEST(PgControlAbiTest, EnumValuesAndNonceLengthArePostgresOwn) {
  const ZenithPgAbi& abi = kZenithPgAbi;
  EXPECT_EQ(static_cast<uint32_t>(DbState::kStartup), abi.db_startup);
  EXPECT_EQ(static_cast<uint32_t>(DbState::kShutdowned), abi.db_shutdowned);
  EXPECT_EQ(static_cast<uint32_t>(DbState::kShutdownedInRecovery), abi.db_shutdowned_in_recovery);
  EXPECT_EQ(static_cast<uint32_t>(DbState::kShutdowning), abi.db_shutdowning);
  EXPECT_EQ(static_cast<uint32_t>(DbState::kInCrashRecovery), abi.db_in_crash_recovery);
  EXPECT_EQ(static_cast<uint32_t>(DbState::kInArchiveRecovery), abi.db_in_archive_recovery);
  EXPECT_EQ(static_cast<uint32_t>(DbState::kInProduction), abi.db_in_production);
  EXPECT_EQ(static_cast<int32_t>(WalLevel::kMinimal), abi.wal_level_minimal);
  EXPECT_EQ(static_cast<int32_t>(WalLevel::kReplica), abi.wal_level_replica);
  EXPECT_EQ(static_cast<int32_t>(WalLevel::kLogical), abi.wal_level_logical);
  EXPECT_EQ(kMockAuthNonceLen, abi.mock_auth_nonce_len);
}

TEST_F(PgControlTest, StoppedClusterDecodesLikePgControldata) {
  ASSERT_NO_FATAL_FAILURE(StartWithWorkload());
  ASSERT_TRUE(pg_.Stop("fast").ok());
  Bytes bytes = ReadBytes(ControlPath());
  ControlFile c = MustDecode(bytes);
  EXPECT_EQ(c.state, DbState::kShutdowned);
  EXPECT_EQ(c.checkpoint, c.checkpoint_copy.redo) << "a shutdown checkpoint's redo point is the record itself";
  // The workload moved these off their initial values, so they test something.
  EXPECT_GT(c.checkpoint_copy.next_multi, 1u) << "no multixact was created";
  EXPECT_NE(c.checkpoint_copy.newest_commit_ts_xid, 0u);
  EXPECT_EQ(c.data_checksum_version, 1u);
  RunResult r = RunPgControldata(pg_.datadir());
  ASSERT_TRUE(r.ok()) << r.Describe();
  ExpectMatchesPgControldata(c, r.out);
}

TEST_F(PgControlTest, RunningClusterDecodesAsInProductionLikePgControldata) {
  ASSERT_NO_FATAL_FAILURE(StartWithWorkload());
  auto [bytes, printed] = ReadWithControldata();
  ControlFile c = MustDecode(bytes);
  EXPECT_EQ(c.state, DbState::kInProduction);
  EXPECT_EQ(DbStateName(c.state), "in production");
  EXPECT_NE(c.checkpoint_copy.oldest_active_xid, 0u) << "an online checkpoint records the oldest running xid";
  ExpectMatchesPgControldata(c, printed);
}

TEST_F(PgControlTest, EncodeOfDecodeReproducesRealFilesByteForByte) {
  ASSERT_NO_FATAL_FAILURE(StartWithWorkload());
  std::vector<Bytes> files = {ReadWithControldata().first};
  ASSERT_TRUE(pg_.Stop("fast").ok());
  files.push_back(ReadBytes(ControlPath()));
  for (const Bytes& real : files) {
    Result<ControlFile> c = DecodeControlFile(real);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    std::string encoded = EncodeControlFile(*c);
    EXPECT_EQ(Bytes(encoded.begin(), encoded.end()), real);
  }
}

// pg_control's copy of the checkpoint and the record itself hold the same
// struct: decoding the record's main data must give the same values.
TEST_F(PgControlTest, CheckPointRecordInWalDecodesLikeTheCopyInPgControl) {
  ASSERT_NO_FATAL_FAILURE(StartWithWorkload());
  ASSERT_TRUE(pg_.Stop("fast").ok());
  ControlFile c = MustDecode(ReadBytes(ControlPath()));
  const ZenithPgAbi& abi = kZenithPgAbi;
  Bytes segment = ReadBytes(pg_.datadir() + "/pg_wal/" +
                            WalSegmentFileName(c.checkpoint_copy.this_timeline_id, c.checkpoint.segment_number()));
  // The record: header, a short main-data header (id, length), the CheckPoint.
  const size_t main_data = abi.record.size + 2;
  size_t pos = c.checkpoint.segment_offset();
  Bytes record;
  while (record.size() < main_data + abi.checkpoint.size) {
    if (pos % kWalPageSize == 0) pos += abi.page_header.short_size;  // the record continues on the next page
    ASSERT_LT(pos, segment.size()) << "checkpoint record runs into the next segment";
    record.push_back(segment[pos++]);
  }
  EXPECT_EQ(LoadU32(record, abi.record.tot_len), record.size());
  EXPECT_EQ(record[abi.record.rmid], abi.rm_xlog_id);
  EXPECT_EQ(record[abi.record.info] & 0xF0, abi.xlog_checkpoint_shutdown);
  EXPECT_EQ(record[abi.record.size], abi.xlr_block_id_data_short);
  EXPECT_EQ(uint32_t{record[abi.record.size + 1]}, abi.checkpoint.size);
  Result<CheckPointData> decoded = DecodeCheckPoint(std::span(record).subspan(main_data));
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(*decoded, c.checkpoint_copy);
}

// Our state and wal_level words, for every value, are pg_controldata's:
// encode a pg_control with each value and ask pg_controldata, which also
// proves PostgreSQL's tools accept the CRC EncodeControlFile computes.
TEST_F(PgControlTest, EveryStateAndWalLevelNameIsWhatPgControldataPrints) {
  ASSERT_NO_FATAL_FAILURE(Initdb());
  ControlFile c = MustDecode(ReadBytes(ControlPath()));
  TempDir scratch("pg-control-names");
  ASSERT_TRUE(MakeDirectories(scratch.Sub("global")).ok());
  auto printed = [&](const ControlFile& variant, const std::string& line) {
    EXPECT_TRUE(WriteFileDurably(scratch.Sub("global/pg_control"), EncodeControlFile(variant)).ok());
    RunResult r = RunPgControldata(scratch.path());
    EXPECT_TRUE(r.ok()) << r.Describe();
    // pg_controldata checks our CRC the way PostgreSQL does.
    EXPECT_EQ(r.out.find("WARNING"), std::string::npos) << r.out;
    return ParseControldata(r.out)[line];
  };
  for (uint32_t s = 0; s <= 7; ++s) {  // 7: one past the last state
    c.state = static_cast<DbState>(s);
    EXPECT_EQ(DbStateName(c.state), printed(c, "Database cluster state")) << "state " << s;
  }
  c.state = DbState::kShutdowned;
  for (int32_t level = 0; level <= 3; ++level) {  // 3: one past the last level
    c.wal_level = static_cast<WalLevel>(level);
    EXPECT_EQ(WalLevelName(c.wal_level), printed(c, "wal_level setting")) << "wal_level " << level;
  }
}

// ---- bad input: never a crash, always an error that says what is wrong ----

TEST_F(PgControlTest, FlippedByteAnywhereUnderTheCrcIsReportedAsBadCrc) {
  ASSERT_NO_FATAL_FAILURE(Initdb());
  const Bytes real = ReadBytes(ControlPath());
  ASSERT_TRUE(DecodeControlFile(real).ok());
  // Every byte the CRC covers, and the CRC itself.
  for (size_t i = 0; i < kZenithPgAbi.control.crc + sizeof(uint32_t); ++i) {
    Bytes bad = real;
    bad[i] ^= 0x01;
    Result<ControlFile> c = DecodeControlFile(bad);
    ASSERT_FALSE(c.ok()) << "flipped byte " << i << " went unnoticed";
    EXPECT_EQ(c.status().code(), StatusCode::kCorruption) << "byte " << i;
    EXPECT_NE(c.status().message().find("pg_control has a bad CRC"), std::string::npos) << c.status().message();
  }
}

TEST_F(PgControlTest, WrongSizeIsCorruptionWithoutReadingPastTheBuffer) {
  ASSERT_NO_FATAL_FAILURE(Initdb());
  const Bytes real = ReadBytes(ControlPath());
  const size_t crc_end = kZenithPgAbi.control.crc + sizeof(uint32_t);
  for (size_t len : {size_t{0}, size_t{1}, crc_end - 1, crc_end, real.size() - 1, real.size() + 1}) {
    // An exact-size heap copy, so that the sanitizer sees any read past it.
    Bytes cut(len);
    std::copy_n(real.begin(), std::min(len, real.size()), cut.begin());
    Result<ControlFile> c = DecodeControlFile(cut);
    ASSERT_FALSE(c.ok()) << len << " bytes accepted";
    EXPECT_EQ(c.status().code(), StatusCode::kCorruption);
    EXPECT_NE(c.status().message().find("pg_control is " + std::to_string(len) + " bytes long, expected 8192"),
              std::string::npos)
        << c.status().message();
  }
}

TEST_F(PgControlTest, OtherPgControlVersionIsIncompatibleNotCorrupt) {
  ASSERT_NO_FATAL_FAILURE(Initdb());
  ControlFile c = MustDecode(ReadBytes(ControlPath()));
  c.pg_control_version = 1201;  // PostgreSQL 12's
  Result<ControlFile> old = DecodeControlFile(AsBytes(EncodeControlFile(c)));
  ASSERT_FALSE(old.ok());
  EXPECT_EQ(old.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(old.status().message().find("pg_control_version is 1201 but PostgreSQL 15 uses 1300"), std::string::npos)
      << old.status().message();

  c.pg_control_version = 1300u << 16;  // 1300 written by a machine of the other endianness
  Result<ControlFile> swapped = DecodeControlFile(AsBytes(EncodeControlFile(c)));
  ASSERT_FALSE(swapped.ok());
  EXPECT_EQ(swapped.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(swapped.status().message().find("other byte order"), std::string::npos) << swapped.status().message();
}

// Each value PostgreSQL compares with its own build at startup, when it
// differs (in a file with a valid CRC), is reported by name.
TEST_F(PgControlTest, BuildParameterMismatchIsIncompatibleAndNamed) {
  ASSERT_NO_FATAL_FAILURE(Initdb());
  const ControlFile real = MustDecode(ReadBytes(ControlPath()));
  const std::vector<std::pair<std::string, std::function<void(ControlFile&)>>> cases = {
      {"catalog version is 1", [](ControlFile& c) { c.catalog_version_no = 1; }},
      {"maximum data alignment 4 ", [](ControlFile& c) { c.max_align = 4; }},
      {"BLCKSZ) 4096 ", [](ControlFile& c) { c.blcksz = 4096; }},
      {"RELSEG_SIZE) 1 ", [](ControlFile& c) { c.relseg_size = 1; }},
      {"XLOG_BLCKSZ) 4096 ", [](ControlFile& c) { c.xlog_blcksz = 4096; }},
      {"NAMEDATALEN) 32 ", [](ControlFile& c) { c.name_data_len = 32; }},
      {"INDEX_MAX_KEYS) 64 ", [](ControlFile& c) { c.index_max_keys = 64; }},
      {"TOAST_MAX_CHUNK_SIZE) 1000 ", [](ControlFile& c) { c.toast_max_chunk_size = 1000; }},
      {"LOBLKSIZE) 1000 ", [](ControlFile& c) { c.loblksize = 1000; }},
      {"USE_FLOAT8_BYVAL) 0 ", [](ControlFile& c) { c.float8_by_val = !c.float8_by_val; }},
      {"floating-point format", [](ControlFile& c) { c.float_format = 1234567.5; }},
  };
  for (const auto& [needle, mutate] : cases) {
    ControlFile c = real;
    mutate(c);
    Result<ControlFile> d = DecodeControlFile(AsBytes(EncodeControlFile(c)));
    ASSERT_FALSE(d.ok()) << needle;
    EXPECT_EQ(d.status().code(), StatusCode::kInvalidArgument) << needle;
    EXPECT_NE(d.status().message().find(needle), std::string::npos) << d.status().message();
  }
}

TEST_F(PgControlTest, ImpossibleSegmentSizeStateOrWalLevelIsCorruption) {
  ASSERT_NO_FATAL_FAILURE(Initdb());
  const ControlFile real = MustDecode(ReadBytes(ControlPath()));
  const std::vector<std::pair<std::string, std::function<void(ControlFile&)>>> cases = {
      {"WAL segment size of 0 bytes", [](ControlFile& c) { c.xlog_seg_size = 0; }},
      {"WAL segment size of 3145728 bytes", [](ControlFile& c) { c.xlog_seg_size = 3 << 20; }},
      {"WAL segment size of 524288 bytes", [](ControlFile& c) { c.xlog_seg_size = 1 << 19; }},
      {"WAL segment size of 2147483648 bytes", [](ControlFile& c) { c.xlog_seg_size = 1u << 31; }},
      {"unknown cluster state 7", [](ControlFile& c) { c.state = static_cast<DbState>(7); }},
      {"unknown wal_level 3", [](ControlFile& c) { c.wal_level = static_cast<WalLevel>(3); }},
      {"unknown wal_level -1", [](ControlFile& c) { c.wal_level = static_cast<WalLevel>(-1); }},
  };
  for (const auto& [needle, mutate] : cases) {
    ControlFile c = real;
    mutate(c);
    Result<ControlFile> d = DecodeControlFile(AsBytes(EncodeControlFile(c)));
    ASSERT_FALSE(d.ok()) << needle;
    EXPECT_EQ(d.status().code(), StatusCode::kCorruption) << needle;
    EXPECT_NE(d.status().message().find(needle), std::string::npos) << d.status().message();
  }
  // The bounds themselves are valid sizes.
  for (uint32_t size : {1u << 20, 1u << 30}) {
    ControlFile c = real;
    c.xlog_seg_size = size;
    EXPECT_TRUE(DecodeControlFile(AsBytes(EncodeControlFile(c))).ok()) << size;
  }
}

TEST_F(PgControlTest, DecodeCheckPointRejectsAnythingButTheStructSize) {
  ASSERT_NO_FATAL_FAILURE(Initdb());
  const Bytes real = ReadBytes(ControlPath());
  const size_t size = kZenithPgAbi.checkpoint.size;
  const size_t at = kZenithPgAbi.control.checkpoint_copy;
  for (size_t len : {size_t{0}, size - 1, size + 1}) {
    Bytes cut(real.begin() + at, real.begin() + at + len);
    Result<CheckPointData> c = DecodeCheckPoint(cut);
    ASSERT_FALSE(c.ok()) << len;
    EXPECT_EQ(c.status().code(), StatusCode::kCorruption);
    EXPECT_NE(c.status().message().find("checkpoint data is " + std::to_string(len) + " bytes long"),
              std::string::npos)
        << c.status().message();
  }
  Result<CheckPointData> whole = DecodeCheckPoint(std::span(real).subspan(at, size));
  ASSERT_TRUE(whole.ok());
  EXPECT_EQ(*whole, MustDecode(real).checkpoint_copy);
}

}  // namespace
}  // namespace zenith
