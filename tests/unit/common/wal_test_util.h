// Test support for the WAL decoder: WAL a real PostgreSQL 15 wrote, what
// pg_waldump says about it, and WAL held in memory for tests that corrupt it.
//
// Header-only (tests/unit/common/*_test.cc are the binary's only sources).
// Thread-safety: one test thread.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "common/file_util.h"
#include "common/lsn.h"
#include "common/pg_abi.h"
#include "common/wal_reader.h"
#include "tests/harness/pg_cluster.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/temp_dir.h"
#include "tests/harness/test_env.h"

namespace zenith::testing {

// ---------------------------------------------------------------------------
// pg_waldump
// ---------------------------------------------------------------------------

struct DumpedBlock {
  int id = -1;
  uint32_t spc = 0, db = 0, rel = 0;
  std::string fork;
  uint32_t blk = 0;
  bool fpw = false;
  bool apply = false;  // "(FPW)" rather than "(FPW for WAL verification)"
  uint32_t hole_offset = 0, hole_length = 0;
  std::string method;  // compression method, "" if none
};

struct DumpedRecord {
  std::string rmgr;
  uint32_t rec_len = 0, tot_len = 0, xid = 0;
  Lsn lsn, prev;
  std::string desc;  // after "desc: "
  std::vector<DumpedBlock> blocks;
};

struct WalDump {
  std::vector<DumpedRecord> records;
  std::string error;  // what follows "error in WAL record at X: ", if anything
  std::string stderr_text;
};

inline DumpedBlock ParseDumpedBlock(const std::string& line) {
  DumpedBlock b;
  char fork[32] = {0};
  if (std::sscanf(line.c_str(), " blkref #%d: rel %u/%u/%u fork %31s blk %u", &b.id, &b.spc, &b.db, &b.rel, fork,
                  &b.blk) != 6) {
    ADD_FAILURE() << "unparsable pg_waldump block line: " << line;
  }
  b.fork = fork;
  b.fpw = line.find("(FPW") != std::string::npos;
  b.apply = b.fpw && line.find("for WAL verification") == std::string::npos;
  if (size_t h = line.find("hole: offset: "); h != std::string::npos) {
    std::sscanf(line.c_str() + h, "hole: offset: %u, length: %u", &b.hole_offset, &b.hole_length);
  }
  if (size_t m = line.find("method: "); m != std::string::npos) b.method = line.substr(m + 8);
  return b;
}

inline DumpedRecord ParseDumpedRecord(const std::string& line) {
  DumpedRecord r;
  char rmgr[64] = {0};
  unsigned lsn_hi, lsn_lo, prev_hi, prev_lo;
  if (std::sscanf(line.c_str(), "rmgr: %63s len (rec/tot): %u/ %u, tx: %u, lsn: %X/%X, prev %X/%X", rmgr, &r.rec_len,
                  &r.tot_len, &r.xid, &lsn_hi, &lsn_lo, &prev_hi, &prev_lo) != 8) {
    ADD_FAILURE() << "unparsable pg_waldump line: " << line.substr(0, 200);
    return r;
  }
  r.rmgr = rmgr;
  if (size_t d = line.find("desc: "); d != std::string::npos) r.desc = line.substr(d + 6);
  r.lsn = Lsn((uint64_t{lsn_hi} << 32) | lsn_lo);
  r.prev = Lsn((uint64_t{prev_hi} << 32) | prev_lo);
  return r;
}

// pg_waldump -b over the segments first..last of timeline 1 in `dir`.
inline WalDump RunPgWaldump(const std::string& dir, uint64_t first_segno, uint64_t last_segno) {
  RunResult r = RunCommand({PgBin("pg_waldump"), "-b", "-p", dir, WalSegmentFileName(1, first_segno),
                            WalSegmentFileName(1, last_segno)});
  WalDump dump;
  dump.stderr_text = r.err;
  std::istringstream lines(r.out);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("rmgr: ", 0) == 0) {
      dump.records.push_back(ParseDumpedRecord(line));
    } else if (line.rfind("\tblkref #", 0) == 0 && !dump.records.empty()) {
      dump.records.back().blocks.push_back(ParseDumpedBlock(line));
    }
  }
  const std::string marker = "error in WAL record at ";
  if (size_t at = r.err.find(marker); at != std::string::npos) {
    size_t colon = r.err.find(": ", at + marker.size());
    size_t eol = r.err.find('\n', at);
    if (colon != std::string::npos) {
      dump.error = r.err.substr(colon + 2, eol == std::string::npos ? std::string::npos : eol - colon - 2);
    }
  }
  return dump;
}

// The LSN in "invalid record length at X: ..." (pg_waldump's usual last word).
inline std::optional<Lsn> LsnAfter(const std::string& text, const std::string& prefix) {
  size_t at = text.find(prefix);
  if (at == std::string::npos) return std::nullopt;
  size_t begin = at + prefix.size();
  size_t end = text.find_first_of(": ,", begin);
  return Lsn::Parse(text.substr(begin, end == std::string::npos ? std::string::npos : end - begin));
}

inline std::string ForkName(uint8_t fork) {
  static const char* const kNames[] = {"main", "fsm", "vm", "init"};
  return fork < 4 ? kNames[fork] : "fork" + std::to_string(fork);
}

// ---------------------------------------------------------------------------
// Real WAL
// ---------------------------------------------------------------------------

struct ControlData {
  uint64_t system_id = 0;
  Lsn checkpoint, redo;
};

inline ControlData ReadControlData(const std::string& datadir) {
  RunResult r = RunCommand({PgBin("pg_controldata"), "-D", datadir}, {.env = {{"LC_ALL", "C"}}});
  EXPECT_TRUE(r.ok()) << r.Describe();
  ControlData c;
  std::istringstream lines(r.out);
  std::string line;
  auto value = [&](const std::string& key) -> std::optional<std::string> {
    if (line.rfind(key, 0) != 0) return std::nullopt;
    size_t v = line.find_first_not_of(' ', key.size());
    return v == std::string::npos ? "" : line.substr(v);
  };
  while (std::getline(lines, line)) {
    if (auto v = value("Database system identifier:")) c.system_id = std::stoull(*v);
    if (auto v = value("Latest checkpoint location:")) c.checkpoint = Lsn::Parse(*v).value_or(Lsn());
    if (auto v = value("Latest checkpoint's REDO location:")) c.redo = Lsn::Parse(*v).value_or(Lsn());
  }
  return c;
}

// The timeline-1 segment numbers in `dir`, ascending.
inline std::vector<uint64_t> SegmentsIn(const std::string& dir) {
  std::vector<uint64_t> segs;
  auto names = ListDirectory(dir);
  EXPECT_TRUE(names.ok()) << names.status().ToString();
  if (!names.ok()) return segs;
  for (const auto& name : *names) {
    if (auto seg = ParseWalSegmentFileName(name); seg && seg->tli == 1) segs.push_back(seg->segno);
  }
  std::sort(segs.begin(), segs.end());
  return segs;
}

// A stopped PostgreSQL 15 cluster whose WAL holds varied records.
struct RealWal {
  std::unique_ptr<TempDir> tmp;
  std::string datadir;
  std::string wal_dir;  // datadir/pg_wal
  ControlData control;
  std::vector<uint64_t> segments;  // present, ascending
  Lsn span_record;                 // start of a record that crosses a segment boundary
};

inline std::vector<std::string> TestServerSettings() {
  return {"wal_level=logical", "fsync=off", "wal_keep_size=1GB", "max_wal_size=1GB", "checkpoint_timeout=1h",
          "autovacuum=off"};
}

inline uint64_t BytesToSegmentEnd(const PgCluster& pg) {
  std::string r = pg.Query("SELECT 16777216 - ((pg_current_wal_insert_lsn() - '0/0')::bigint % 16777216)");
  return r.empty() ? 0 : std::stoull(r);
}

// Fills WAL with ordinary rows until the next segment boundary is near, then
// writes one record across it. Returns that record's start.
inline Lsn WriteRecordAcrossSegmentBoundary(const PgCluster& pg) {
  pg.Query("CREATE TABLE filler (id int, v text)");
  uint64_t left = BytesToSegmentEnd(pg);
  for (int i = 0; i < 20 && left > 200000; ++i) {
    pg.Query("INSERT INTO filler SELECT g, repeat('f', 1900) FROM generate_series(1, " +
             std::to_string((left - 100000) / 2100) + ") g");
    left = BytesToSegmentEnd(pg);
  }
  EXPECT_LE(left, 200000u);
  std::string start = pg.Query("SELECT pg_current_wal_insert_lsn()");
  pg.Query("SELECT pg_logical_emit_message(false, 'span', repeat('s', " + std::to_string(left + 20000) + "))");
  return Lsn::Parse(start).value_or(Lsn());
}

// initdb, a workload with varied records, a clean stop.
inline RealWal MakeRealWal(const std::string& name) {
  RealWal w;
  w.tmp = std::make_unique<TempDir>(name);
  w.datadir = w.tmp->Sub("data");
  w.wal_dir = w.datadir + "/pg_wal";
  PgCluster pg(w.datadir, w.tmp->path(), 5432);
  EXPECT_TRUE(pg.Initdb().ok());
  Status started = pg.Start(TestServerSettings());
  EXPECT_TRUE(started.ok()) << started.ToString();
  if (!started.ok()) return w;
  pg.Query("CREATE TABLE t (id int PRIMARY KEY, v text); CREATE INDEX t_v ON t (v)");
  pg.Query("INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 2000) g");
  pg.Query("UPDATE t SET v = v || 'u' WHERE id % 7 = 0");
  pg.Query("DELETE FROM t WHERE id % 11 = 0");
  pg.Query("SELECT pg_logical_emit_message(false, 'p', repeat('x', 40000))");
  pg.Query("BEGIN; INSERT INTO t VALUES (100001, 'a'); SAVEPOINT s; INSERT INTO t VALUES (100002, 'b'); COMMIT");
  pg.Query("SELECT pg_replication_origin_create('zenith_test')");
  pg.Query("SELECT pg_replication_origin_session_setup('zenith_test'); INSERT INTO t VALUES (100003, 'o')");
  w.span_record = WriteRecordAcrossSegmentBoundary(pg);
  pg.Query("INSERT INTO t SELECT g, md5(g::text) FROM generate_series(200000, 200300) g");
  pg.Query("SELECT pg_switch_wal()");
  pg.Query("INSERT INTO t SELECT g, md5(g::text) FROM generate_series(300000, 300300) g");
  pg.Query("CHECKPOINT");
  pg.Query("UPDATE t SET v = v || 'c' WHERE id < 100");
  pg.Query("CHECKPOINT");
  pg.Query("SET wal_compression = pglz; UPDATE t SET v = v || 'z' WHERE id < 600");
  EXPECT_TRUE(pg.Stop("fast").ok());
  w.control = ReadControlData(w.datadir);
  w.segments = SegmentsIn(w.wal_dir);
  return w;
}

// ---------------------------------------------------------------------------
// WAL in memory
// ---------------------------------------------------------------------------

// Segment files held in memory; a missing segment or bytes past a short one
// read as absent, like MakeWalDirectoryReader.
struct MemoryWal {
  std::map<uint64_t, std::vector<uint8_t>> segments;
  std::optional<Lsn> cut;  // if set, nothing at or after it exists
  size_t reads = 0;        // calls to the read function
  size_t bytes_read = 0;   // bytes it returned

  static MemoryWal Load(const std::string& dir) {
    MemoryWal m;
    for (uint64_t segno : SegmentsIn(dir)) {
      auto data = ReadFileToString(dir + "/" + WalSegmentFileName(1, segno));
      EXPECT_TRUE(data.ok()) << data.status().ToString();
      if (data.ok()) m.segments[segno].assign(data->begin(), data->end());
    }
    return m;
  }

  // The byte at `pos` (REQUIRES: present).
  uint8_t& At(Lsn pos) { return segments.at(pos.segment_number()).at(pos.segment_offset()); }

  // Keeps only the bytes before `pos`.
  void TruncateAt(Lsn pos) {
    for (auto it = segments.begin(); it != segments.end();) {
      if (it->first > pos.segment_number()) {
        it = segments.erase(it);
      } else {
        if (it->first == pos.segment_number()) it->second.resize(pos.segment_offset());
        ++it;
      }
    }
  }

  // A read function over this object (which must outlive it).
  WalReadFn Reader() {
    return [this](Lsn pos, std::span<uint8_t> buf) -> Result<size_t> {
      ++reads;
      size_t done = 0;
      size_t want = buf.size();
      if (cut) want = *cut <= pos ? 0 : std::min<uint64_t>(want, *cut - pos);
      while (done < want) {
        Lsn at = pos + done;
        auto it = segments.find(at.segment_number());
        if (it == segments.end() || at.segment_offset() >= it->second.size()) break;
        size_t n = std::min<size_t>(want - done, it->second.size() - at.segment_offset());
        std::memcpy(buf.data() + done, it->second.data() + at.segment_offset(), n);
        done += n;
        if (at.segment_offset() + n < kWalSegmentSize) break;  // a short segment ends the WAL
      }
      bytes_read += done;
      return done;
    };
  }
};

// Where byte `offset` of record `r` lies in the WAL (skipping page headers).
inline Lsn LsnOfRecordByte(const WalRecord& r, size_t offset) {
  const auto& ph = kZenithPgAbi.page_header;
  Lsn pos = r.start_lsn;
  size_t left = offset;
  while (true) {
    size_t room = kWalPageSize - pos.page_offset();
    if (left < room) return pos + left;
    left -= room;
    Lsn page = pos.page_start() + kWalPageSize;
    pos = page + (page.segment_offset() == 0 ? ph.long_size : ph.short_size);
  }
}

// Copies the timeline-1 segments of `from` into `to` (created).
inline void CopyWalDir(const std::string& from, const std::string& to) {
  ASSERT_TRUE(MakeDirectories(to).ok());
  for (uint64_t segno : SegmentsIn(from)) {
    auto data = ReadFileToString(from + "/" + WalSegmentFileName(1, segno));
    ASSERT_TRUE(data.ok()) << data.status().ToString();
    ASSERT_TRUE(WriteFileDurably(to + "/" + WalSegmentFileName(1, segno), *data).ok());
  }
}

inline std::string SegmentPath(const std::string& dir, uint64_t segno) {
  return dir + "/" + WalSegmentFileName(1, segno);
}

// Every record from `start` to the end of WAL, with why it ended.
struct ReadAll {
  std::vector<WalRecord> records;
  Lsn end;
  std::string end_reason;
};

inline ReadAll ReadAllRecords(const WalReadFn& read, Lsn start, uint64_t system_id) {
  ReadAll all;
  WalReader reader(read, system_id, start);
  while (true) {
    auto next = reader.Next();
    EXPECT_TRUE(next.ok()) << next.status().ToString();
    if (!next.ok() || !next->has_value()) break;
    all.records.push_back(std::move(**next));
  }
  all.end = reader.position();
  all.end_reason = reader.end_reason();
  return all;
}

}  // namespace zenith::testing
