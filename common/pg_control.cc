#include "common/pg_control.h"

#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "common/byte_io.h"
#include "common/crc32c.h"
#include "common/pg_abi.h"

namespace zenith {

namespace {

// Decoding and encoding walk the same list of (offset, field) pairs, so the
// two can never disagree about a field: MapCheckPointFields and
// MapControlFields call `io(offset, field)` once per field, and the Io is a
// FieldLoader or a FieldStorer. Both REQUIRE the buffer to cover every offset.
class FieldLoader {
 public:
  explicit FieldLoader(std::span<const uint8_t> bytes) : bytes_(bytes) {}
  // Integers, enums with a fixed underlying type, Lsn, double and byte arrays
  // are stored exactly as PostgreSQL's own types are.
  template <typename T>
  void operator()(uint32_t offset, T& field) const {
    field = LoadAt<T>(bytes_, offset);
  }
  // C's bool is one byte; any non-zero byte is true.
  void operator()(uint32_t offset, bool& field) const { field = LoadU8(bytes_, offset) != 0; }

 private:
  std::span<const uint8_t> bytes_;
};

class FieldStorer {
 public:
  explicit FieldStorer(std::span<uint8_t> bytes) : bytes_(bytes) {}
  template <typename T>
  void operator()(uint32_t offset, const T& field) const {
    StoreAt(bytes_, offset, field);
  }
  void operator()(uint32_t offset, const bool& field) const {
    StoreAt(bytes_, offset, static_cast<uint8_t>(field ? 1 : 0));
  }

 private:
  std::span<uint8_t> bytes_;
};

// `C` is CheckPointData or const CheckPointData.
template <typename Io, typename C>
void MapCheckPointFields(const Io& io, C& c) {
  const ZenithCheckPointOffsets& o = kZenithPgAbi.checkpoint;
  io(o.redo, c.redo);
  io(o.this_timeline_id, c.this_timeline_id);
  io(o.prev_timeline_id, c.prev_timeline_id);
  io(o.full_page_writes, c.full_page_writes);
  io(o.next_xid, c.next_full_xid);
  io(o.next_oid, c.next_oid);
  io(o.next_multi, c.next_multi);
  io(o.next_multi_offset, c.next_multi_offset);
  io(o.oldest_xid, c.oldest_xid);
  io(o.oldest_xid_db, c.oldest_xid_db);
  io(o.oldest_multi, c.oldest_multi);
  io(o.oldest_multi_db, c.oldest_multi_db);
  io(o.time, c.time);
  io(o.oldest_commit_ts_xid, c.oldest_commit_ts_xid);
  io(o.newest_commit_ts_xid, c.newest_commit_ts_xid);
  io(o.oldest_active_xid, c.oldest_active_xid);
}

// Every field of ControlFileData except checkPointCopy (mapped separately,
// relative to its own offset) and crc (computed, not copied).
// `C` is ControlFile or const ControlFile.
template <typename Io, typename C>
void MapControlFields(const Io& io, C& c) {
  const ZenithControlOffsets& o = kZenithPgAbi.control;
  io(o.system_identifier, c.system_identifier);
  io(o.pg_control_version, c.pg_control_version);
  io(o.catalog_version_no, c.catalog_version_no);
  io(o.state, c.state);
  io(o.time, c.time);
  io(o.checkpoint, c.checkpoint);
  io(o.unlogged_lsn, c.unlogged_lsn);
  io(o.min_recovery_point, c.min_recovery_point);
  io(o.min_recovery_point_tli, c.min_recovery_point_tli);
  io(o.backup_start_point, c.backup_start_point);
  io(o.backup_end_point, c.backup_end_point);
  io(o.backup_end_required, c.backup_end_required);
  io(o.wal_level, c.wal_level);
  io(o.wal_log_hints, c.wal_log_hints);
  io(o.max_connections, c.max_connections);
  io(o.max_worker_processes, c.max_worker_processes);
  io(o.max_wal_senders, c.max_wal_senders);
  io(o.max_prepared_xacts, c.max_prepared_xacts);
  io(o.max_locks_per_xact, c.max_locks_per_xact);
  io(o.track_commit_timestamp, c.track_commit_timestamp);
  io(o.max_align, c.max_align);
  io(o.float_format, c.float_format);
  io(o.blcksz, c.blcksz);
  io(o.relseg_size, c.relseg_size);
  io(o.xlog_blcksz, c.xlog_blcksz);
  io(o.xlog_seg_size, c.xlog_seg_size);
  io(o.name_data_len, c.name_data_len);
  io(o.index_max_keys, c.index_max_keys);
  io(o.toast_max_chunk_size, c.toast_max_chunk_size);
  io(o.loblksize, c.loblksize);
  io(o.float8_by_val, c.float8_by_val);
  io(o.data_checksum_version, c.data_checksum_version);
  io(o.mock_authentication_nonce, c.mock_authentication_nonce);
}

std::string Hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08" PRIX32, v);
  return buf;
}

// The bytes the CRC covers: everything before the crc field.
std::span<const uint8_t> CrcCovered(std::span<const uint8_t> file) {
  return file.first(kZenithPgAbi.control.crc);
}

std::span<const uint8_t> CheckPointCopyBytes(std::span<const uint8_t> file) {
  return file.subspan(kZenithPgAbi.control.checkpoint_copy, kZenithPgAbi.checkpoint.size);
}

Status CheckSize(std::span<const uint8_t> bytes) {
  const uint32_t want = kZenithPgAbi.control_file_size;
  if (bytes.size() == want) return Status::Ok();
  return Corruption("pg_control is " + std::to_string(bytes.size()) + " bytes long, expected " +
                    std::to_string(want) + "; the file is truncated or is not a PostgreSQL " +
                    std::to_string(kZenithPgAbi.pg_version_major) + " control file");
}

// A file from another PostgreSQL version has another layout, so its CRC
// sits elsewhere and the check fails; say so rather than just "corrupt".
std::string OtherVersionHint(uint32_t version) {
  if (version == kZenithPgAbi.control_version) return "";
  return " (or it was written by another PostgreSQL version: its pg_control_version reads " +
         std::to_string(version) + ", PostgreSQL " + std::to_string(kZenithPgAbi.pg_version_major) +
         " writes " + std::to_string(kZenithPgAbi.control_version) + ")";
}

Status CheckCrc(std::span<const uint8_t> bytes) {
  const uint32_t stored = LoadU32(bytes, kZenithPgAbi.control.crc);
  const uint32_t computed = ComputeCrc32c(CrcCovered(bytes));
  if (stored == computed) return Status::Ok();
  return Corruption("pg_control has a bad CRC: its contents hash to " + Hex32(computed) + " but the stored CRC is " +
                    Hex32(stored) + "; the file is corrupt" +
                    OtherVersionHint(LoadU32(bytes, kZenithPgAbi.control.pg_control_version)));
}

Status CheckVersions(const ControlFile& c) {
  const uint32_t want = kZenithPgAbi.control_version;
  const std::string pg = "PostgreSQL " + std::to_string(kZenithPgAbi.pg_version_major);
  if (c.pg_control_version != want && c.pg_control_version % 65536 == 0 && c.pg_control_version / 65536 != 0) {
    return InvalidArgument("pg_control_version is " + std::to_string(c.pg_control_version) + " (" +
                           Hex32(c.pg_control_version) + "), which looks like a version number in the other "
                           "byte order: the cluster was probably created on a machine of different endianness "
                           "and cannot be used here");
  }
  if (c.pg_control_version != want) {
    return InvalidArgument("pg_control_version is " + std::to_string(c.pg_control_version) + " but " + pg +
                           " uses " + std::to_string(want) + ": the cluster was created by another PostgreSQL "
                           "version; zenith works with " + pg + " clusters only");
  }
  if (c.catalog_version_no != kZenithPgAbi.catalog_version) {
    return InvalidArgument("the cluster's catalog version is " + std::to_string(c.catalog_version_no) +
                           " but this " + pg + " build expects " + std::to_string(kZenithPgAbi.catalog_version) +
                           ": initdb the cluster with the same " + pg + " zenith was built against");
  }
  return Status::Ok();
}

struct BuildParameter {
  const char* name;
  uint32_t found;
  uint32_t expected;
};

// The build parameters ReadControlFile() compares with the server's own.
Status CheckBuildParameters(const ControlFile& c) {
  const ZenithPgAbi& abi = kZenithPgAbi;
  const BuildParameter params[] = {
      {"maximum data alignment", c.max_align, abi.max_align},
      {"database block size (BLCKSZ)", c.blcksz, abi.blcksz},
      {"blocks per relation segment (RELSEG_SIZE)", c.relseg_size, abi.relseg_size},
      {"WAL block size (XLOG_BLCKSZ)", c.xlog_blcksz, abi.xlog_blcksz},
      {"maximum identifier length (NAMEDATALEN)", c.name_data_len, abi.name_data_len},
      {"maximum index columns (INDEX_MAX_KEYS)", c.index_max_keys, abi.index_max_keys},
      {"TOAST chunk size (TOAST_MAX_CHUNK_SIZE)", c.toast_max_chunk_size, abi.toast_max_chunk_size},
      {"large-object chunk size (LOBLKSIZE)", c.loblksize, abi.loblksize},
      {"float8 passed by value (USE_FLOAT8_BYVAL)", c.float8_by_val ? 1u : 0u, abi.float8_by_val ? 1u : 0u},
  };
  for (const BuildParameter& p : params) {
    if (p.found == p.expected) continue;
    return InvalidArgument("the cluster was initialized with " + std::string(p.name) + " " +
                           std::to_string(p.found) + " but this PostgreSQL build uses " +
                           std::to_string(p.expected) + "; it needs a server built the same way");
  }
  if (c.float_format != abi.float_format) {
    return InvalidArgument("the cluster's floating-point format check value is " + std::to_string(c.float_format) +
                           ", not " + std::to_string(abi.float_format) +
                           ": it was created on a machine with another floating-point format");
  }
  return Status::Ok();
}

bool IsPowerOfTwo(uint32_t v) { return v != 0 && (v & (v - 1)) == 0; }

Status CheckValues(const ControlFile& c) {
  const ZenithPgAbi& abi = kZenithPgAbi;
  if (!IsPowerOfTwo(c.xlog_seg_size) || c.xlog_seg_size < abi.wal_seg_min_size ||
      c.xlog_seg_size > abi.wal_seg_max_size) {
    return Corruption("pg_control gives a WAL segment size of " + std::to_string(c.xlog_seg_size) +
                      " bytes, which is not a power of two between 1 MB and 1 GB; the file is corrupt");
  }
  if (static_cast<uint32_t>(c.state) > abi.db_in_production) {
    return Corruption("pg_control has an unknown cluster state " + std::to_string(static_cast<uint32_t>(c.state)) +
                      "; the file is corrupt");
  }
  const auto level = static_cast<int32_t>(c.wal_level);
  if (level < abi.wal_level_minimal || level > abi.wal_level_logical) {
    return Corruption("pg_control has an unknown wal_level " + std::to_string(level) + "; the file is corrupt");
  }
  return Status::Ok();
}

}  // namespace

std::string_view DbStateName(DbState state) {
  switch (state) {
    case DbState::kStartup: return "starting up";
    case DbState::kShutdowned: return "shut down";
    case DbState::kShutdownedInRecovery: return "shut down in recovery";
    case DbState::kShutdowning: return "shutting down";
    case DbState::kInCrashRecovery: return "in crash recovery";
    case DbState::kInArchiveRecovery: return "in archive recovery";
    case DbState::kInProduction: return "in production";
  }
  return "unrecognized status code";
}

std::string_view WalLevelName(WalLevel level) {
  switch (level) {
    case WalLevel::kMinimal: return "minimal";
    case WalLevel::kReplica: return "replica";
    case WalLevel::kLogical: return "logical";
  }
  return "unrecognized wal_level";
}

Result<CheckPointData> DecodeCheckPoint(std::span<const uint8_t> bytes) {
  const uint32_t want = kZenithPgAbi.checkpoint.size;
  if (bytes.size() != want) {
    return Corruption("checkpoint data is " + std::to_string(bytes.size()) + " bytes long, expected " +
                      std::to_string(want) + " (sizeof(CheckPoint))");
  }
  CheckPointData c;
  MapCheckPointFields(FieldLoader(bytes), c);
  return c;
}

Result<ControlFile> DecodeControlFile(std::span<const uint8_t> bytes) {
  ZENITH_RETURN_IF_ERROR(CheckSize(bytes));
  ZENITH_RETURN_IF_ERROR(CheckCrc(bytes));
  ControlFile c;
  MapControlFields(FieldLoader(bytes), c);
  ZENITH_ASSIGN_OR_RETURN(c.checkpoint_copy, DecodeCheckPoint(CheckPointCopyBytes(bytes)));
  c.crc = LoadU32(bytes, kZenithPgAbi.control.crc);
  ZENITH_RETURN_IF_ERROR(CheckVersions(c));
  ZENITH_RETURN_IF_ERROR(CheckBuildParameters(c));
  ZENITH_RETURN_IF_ERROR(CheckValues(c));
  return c;
}

std::string EncodeControlFile(const ControlFile& control) {
  std::string out(kZenithPgAbi.control_file_size, '\0');
  std::span<uint8_t> bytes(reinterpret_cast<uint8_t*>(out.data()), out.size());
  MapControlFields(FieldStorer(bytes), control);
  MapCheckPointFields(FieldStorer(bytes.subspan(kZenithPgAbi.control.checkpoint_copy, kZenithPgAbi.checkpoint.size)),
                      control.checkpoint_copy);
  StoreAt(bytes, kZenithPgAbi.control.crc, ComputeCrc32c(CrcCovered(bytes)));
  return out;
}

}  // namespace zenith
