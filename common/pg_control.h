// pg_control: PostgreSQL 15's control file (global/pg_control) and the
// CheckPoint struct it embeds, which is also the main data of a WAL
// checkpoint record.
//
// On disk the file is PG_CONTROL_FILE_SIZE (8192) bytes: ControlFileData at
// the start, whose last field is a CRC-32C of every byte before it, then
// zeros. PostgreSQL rewrites the whole file in one write of a struct that
// fits one 512-byte sector, so it is never torn in practice; the CRC catches
// the file that is torn or corrupted anyway, and the version and build
// checks catch a file written by a different PostgreSQL. A decoder that
// accepted such a file would hand the page server a wrong redo point and
// make PostgreSQL replay from the wrong place.
//
// Fields are read at the offsets PostgreSQL's own headers give (pg_abi.h),
// in host byte order. Decoding does no I/O: callers pass the bytes.
//
// Thread-safety: pure functions over caller-owned bytes; the structs are
// plain values.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "common/lsn.h"
#include "common/status.h"

namespace zenith {

// Where pg_control lives in a data directory.
inline constexpr std::string_view kPgControlPath = "global/pg_control";

// PostgreSQL's DBState: what the server was doing when it last wrote
// pg_control. Values are PostgreSQL's (pinned against its headers by a test).
enum class DbState : uint32_t {
  kStartup = 0,
  kShutdowned = 1,
  kShutdownedInRecovery = 2,
  kShutdowning = 3,
  kInCrashRecovery = 4,
  kInArchiveRecovery = 5,
  kInProduction = 6,
};

// The words pg_controldata prints for a state ("shut down", "in
// production", ...); "unrecognized status code" for a value outside the enum.
std::string_view DbStateName(DbState state);

// PostgreSQL's WalLevel (the wal_level setting the server last ran with).
enum class WalLevel : int32_t {
  kMinimal = 0,
  kReplica = 1,
  kLogical = 2,
};

// "minimal", "replica", "logical", as pg_controldata prints them;
// "unrecognized wal_level" otherwise.
std::string_view WalLevelName(WalLevel level);

// PostgreSQL's CheckPoint. Transaction ids, OIDs and multixact ids keep
// PostgreSQL's 32-bit widths.
struct CheckPointData {
  Lsn redo;                       // where replay starts: the redo pointer (a record start)
  TimeLineId this_timeline_id = 0;
  TimeLineId prev_timeline_id = 0;  // differs only on the first checkpoint of a new timeline
  bool full_page_writes = false;
  uint64_t next_full_xid = 0;     // epoch in the high 32 bits, xid in the low 32
  uint32_t next_oid = 0;
  uint32_t next_multi = 0;
  uint32_t next_multi_offset = 0;
  uint32_t oldest_xid = 0;        // cluster-wide minimum datfrozenxid
  uint32_t oldest_xid_db = 0;
  uint32_t oldest_multi = 0;
  uint32_t oldest_multi_db = 0;
  int64_t time = 0;               // pg_time_t: seconds since the Unix epoch
  uint32_t oldest_commit_ts_xid = 0;
  uint32_t newest_commit_ts_xid = 0;
  uint32_t oldest_active_xid = 0;  // 0 unless an online checkpoint at wal_level >= replica

  uint32_t next_xid_epoch() const { return static_cast<uint32_t>(next_full_xid >> 32); }
  uint32_t next_xid() const { return static_cast<uint32_t>(next_full_xid); }

  bool operator==(const CheckPointData&) const = default;
};

// Decodes a CheckPoint: `bytes` must be exactly the struct (sizeof(CheckPoint),
// 88 bytes on 64-bit builds), e.g. a checkpoint record's main data or the
// copy inside pg_control. Returns kCorruption when the length is wrong; the
// fields themselves are not validated.
Result<CheckPointData> DecodeCheckPoint(std::span<const uint8_t> bytes);

inline constexpr size_t kMockAuthNonceLen = 32;  // MOCK_AUTH_NONCE_LEN

// PostgreSQL's ControlFileData, field by field.
struct ControlFile {
  uint64_t system_identifier = 0;
  uint32_t pg_control_version = 0;
  uint32_t catalog_version_no = 0;
  DbState state = DbState::kStartup;
  int64_t time = 0;               // pg_time_t of the last update of the file
  // The *start* of the latest checkpoint record (PostgreSQL's convention,
  // unlike zenith's record-end LSNs).
  Lsn checkpoint;
  CheckPointData checkpoint_copy;  // that record's contents
  Lsn unlogged_lsn;               // fake LSN counter for unlogged relations
  Lsn min_recovery_point;
  TimeLineId min_recovery_point_tli = 0;
  Lsn backup_start_point;
  Lsn backup_end_point;
  bool backup_end_required = false;
  WalLevel wal_level = WalLevel::kMinimal;
  bool wal_log_hints = false;
  int32_t max_connections = 0;
  int32_t max_worker_processes = 0;
  int32_t max_wal_senders = 0;
  int32_t max_prepared_xacts = 0;
  int32_t max_locks_per_xact = 0;
  bool track_commit_timestamp = false;
  // Build parameters the server must share with the cluster.
  uint32_t max_align = 0;
  double float_format = 0;        // the constant 1234567.0
  uint32_t blcksz = 0;
  uint32_t relseg_size = 0;
  uint32_t xlog_blcksz = 0;
  uint32_t xlog_seg_size = 0;
  uint32_t name_data_len = 0;
  uint32_t index_max_keys = 0;
  uint32_t toast_max_chunk_size = 0;
  uint32_t loblksize = 0;
  bool float8_by_val = false;
  uint32_t data_checksum_version = 0;  // 0: data checksums off
  std::array<uint8_t, kMockAuthNonceLen> mock_authentication_nonce{};
  // The CRC stored in the file. EncodeControlFile ignores it and computes
  // a fresh one.
  uint32_t crc = 0;

  bool operator==(const ControlFile&) const = default;
};

// Decodes and validates the contents of a pg_control file. `bytes` must be
// the whole file: exactly PG_CONTROL_FILE_SIZE bytes. Checks, in order:
//   - the size (kCorruption: truncated or not a pg_control);
//   - the CRC-32C over the bytes before the crc field (kCorruption);
//   - pg_control_version and catalog_version_no (kInvalidArgument: the
//     cluster belongs to another PostgreSQL version);
//   - the build parameters PostgreSQL checks at startup: max_align,
//     float_format, blcksz, relseg_size, xlog_blcksz, name_data_len,
//     index_max_keys, toast_max_chunk_size, loblksize, float8_by_val
//     (kInvalidArgument: the cluster needs a differently built server);
//   - xlog_seg_size a power of two between 1 MB and 1 GB, state and
//     wal_level known values (kCorruption).
// Never reads outside `bytes`. Messages name the file and say what to do.
Result<ControlFile> DecodeControlFile(std::span<const uint8_t> bytes);

// The PG_CONTROL_FILE_SIZE bytes PostgreSQL would write for `control`:
// every field at its offset, zeros elsewhere, and a freshly computed CRC.
// Does not validate. EncodeControlFile(*DecodeControlFile(f)) == f for any
// file PostgreSQL wrote.
std::string EncodeControlFile(const ControlFile& control);

}  // namespace zenith
