/*
 * pg_abi: the binary layout of PostgreSQL 15's on-disk formats, taken from
 * the server's own headers at build time (pg_abi.c is the only file that
 * includes them). Decoders in this library read fields at these offsets, so
 * no layout is ever copied by hand.
 *
 * All multi-byte fields are host-endian (PostgreSQL writes them native;
 * zenith runs on the same machine as the compute).
 *
 * Thread-safety: a constant, initialised before main().
 */
#ifndef ZENITH_COMMON_PG_ABI_H
#define ZENITH_COMMON_PG_ABI_H

#include <stdint.h>

/* BLCKSZ as a compile-time constant, for zenith's own formats (layers, the
 * GetPage protocol) that store pages of it; pg_abi.c checks it against the
 * server's headers. */
#define ZENITH_BLCKSZ 8192

#ifdef __cplusplus
extern "C" {
#endif

/* Offsets inside ControlFileData (catalog/pg_control.h). */
struct ZenithControlOffsets {
  uint32_t system_identifier, pg_control_version, catalog_version_no, state, time, checkpoint,
      checkpoint_copy, unlogged_lsn, min_recovery_point, min_recovery_point_tli, backup_start_point,
      backup_end_point, backup_end_required, wal_level, wal_log_hints, max_connections,
      max_worker_processes, max_wal_senders, max_prepared_xacts, max_locks_per_xact,
      track_commit_timestamp, max_align, float_format, blcksz, relseg_size, xlog_blcksz, xlog_seg_size,
      name_data_len, index_max_keys, toast_max_chunk_size, loblksize, float8_by_val,
      data_checksum_version, mock_authentication_nonce, crc;
};

/* Offsets inside CheckPoint (catalog/pg_control.h), relative to its start. */
struct ZenithCheckPointOffsets {
  uint32_t redo, this_timeline_id, prev_timeline_id, full_page_writes, next_xid, next_oid, next_multi,
      next_multi_offset, oldest_xid, oldest_xid_db, oldest_multi, oldest_multi_db, time,
      oldest_commit_ts_xid, newest_commit_ts_xid, oldest_active_xid;
  uint32_t size; /* sizeof(CheckPoint): payload of a checkpoint record */
};

/* XLogPageHeaderData and XLogLongPageHeaderData (access/xlog_internal.h). */
struct ZenithWalPageHeaderOffsets {
  uint32_t magic, info, tli, pageaddr, rem_len;   /* short header */
  uint32_t sysid, seg_size, xlog_blcksz;          /* long header only */
  uint32_t short_size, long_size;                 /* SizeOfXLogShortPHD / LongPHD */
};

/* XLogRecord (access/xlogrecord.h). */
struct ZenithWalRecordOffsets {
  uint32_t tot_len, xid, prev, info, rmid, crc;
  uint32_t size; /* SizeOfXLogRecord */
};

/* PageHeaderData (storage/bufpage.h). */
struct ZenithPageHeaderOffsets {
  uint32_t lsn, checksum, flags, lower, upper, special, pagesize_version, prune_xid;
  uint32_t size; /* SizeOfPageHeaderData */
};

/* The unaligned fragment headers after XLogRecord (access/xlogrecord.h):
 * DecodeXLogRecord copies them field by field, at these offsets. */
struct ZenithWalBlockHeaderOffsets {
  uint32_t id, fork_flags, data_length;               /* XLogRecordBlockHeader */
  uint32_t image_length, image_hole_offset, image_info; /* XLogRecordBlockImageHeader */
  uint32_t compress_hole_length;                      /* XLogRecordBlockCompressHeader */
  uint32_t rel_spc, rel_db, rel_rel;                  /* RelFileNode */
  uint32_t block_number_size;                         /* sizeof(BlockNumber) */
  uint32_t data_short_size, data_long_size;           /* SizeOfXLogRecordDataHeaderShort/Long */
  uint32_t origin_size, toplevel_xid_size;            /* sizeof(RepOriginId), sizeof(TransactionId) */
};

struct ZenithPgAbi {
  uint32_t blcksz;          /* BLCKSZ */
  uint32_t relseg_size;     /* RELSEG_SIZE, blocks per relation segment file */
  uint32_t xlog_blcksz;     /* XLOG_BLCKSZ */
  uint32_t max_align;       /* MAXIMUM_ALIGNOF */
  uint32_t catalog_version; /* CATALOG_VERSION_NO */
  uint32_t pg_version_major; /* 15 */
  const char* tablespace_version_directory; /* "PG_15_<catversion>" */
  uint32_t global_tablespace_oid;  /* 1664 */
  uint32_t default_tablespace_oid; /* 1663 */

  /* pg_control */
  uint32_t control_file_size;    /* PG_CONTROL_FILE_SIZE: bytes PostgreSQL writes */
  uint32_t control_data_size;    /* sizeof(ControlFileData) */
  uint32_t control_version;      /* PG_CONTROL_VERSION */
  uint32_t mock_auth_nonce_len;  /* MOCK_AUTH_NONCE_LEN */
  struct ZenithControlOffsets control;
  struct ZenithCheckPointOffsets checkpoint;

  /* WAL */
  uint16_t xlog_page_magic;      /* XLOG_PAGE_MAGIC */
  uint16_t xlp_first_is_contrecord, xlp_long_header, xlp_bkp_removable,
      xlp_first_is_overwrite_contrecord, xlp_all_flags;
  struct ZenithWalPageHeaderOffsets page_header;
  struct ZenithWalRecordOffsets record;
  uint8_t xlr_info_mask, xlr_rmgr_info_mask;
  uint8_t xlr_max_block_id, xlr_block_id_data_short, xlr_block_id_data_long, xlr_block_id_origin,
      xlr_block_id_toplevel_xid;
  uint8_t bkpblock_fork_mask, bkpblock_has_image, bkpblock_has_data, bkpblock_will_init, bkpblock_same_rel;
  uint8_t bkpimage_has_hole, bkpimage_apply, bkpimage_compress_pglz, bkpimage_compress_lz4,
      bkpimage_compress_zstd;
  uint32_t block_header_size;         /* SizeOfXLogRecordBlockHeader */
  uint32_t block_image_header_size;   /* SizeOfXLogRecordBlockImageHeader */
  uint32_t block_compress_header_size;/* SizeOfXLogRecordBlockCompressHeader */
  uint32_t relfilenode_size;          /* sizeof(RelFileNode) */
  uint8_t rm_xlog_id;                 /* RM_XLOG_ID */
  uint8_t xlog_checkpoint_shutdown, xlog_checkpoint_online, xlog_switch;
  uint32_t rmgr_count;                /* RM_N_BUILTIN_IDS */
  const char* const* rmgr_names;      /* "XLOG", "Transaction", ... by rmgr id */
  /* WAL decoding (common/wal_record.cc, common/wal_reader.cc) */
  struct ZenithWalBlockHeaderOffsets wal_block;
  uint8_t rm_min_custom_id, rm_max_custom_id; /* RM_MIN_CUSTOM_ID, RM_MAX_CUSTOM_ID */
  uint8_t xlog_overwrite_contrecord;          /* XLOG_OVERWRITE_CONTRECORD */
  uint8_t xlog_backup_end;                    /* XLOG_BACKUP_END */
  uint32_t max_alloc_size;                    /* MaxAllocSize: bounds xlogreader's record buffer */
  /* Commit records (access/xact.h): rmgr, info bits, where xact_time is. */
  uint8_t rm_xact_id;                         /* RM_XACT_ID */
  uint8_t xlog_xact_opmask, xlog_xact_commit, xlog_xact_commit_prepared;
  uint32_t xact_commit_time;                  /* offsetof(xl_xact_commit, xact_time) */
  uint32_t xact_commit_min_size;              /* MinSizeOfXactCommit */
  int64_t unix_epoch_in_pg_usecs;             /* (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) days, in microseconds */

  /* data pages */
  struct ZenithPageHeaderOffsets page;

  /* pg_control: the values ReadControlFile() insists on, and enum values. */
  double float_format;            /* FLOATFORMAT_VALUE */
  uint32_t name_data_len;         /* NAMEDATALEN */
  uint32_t index_max_keys;        /* INDEX_MAX_KEYS */
  uint32_t toast_max_chunk_size;  /* TOAST_MAX_CHUNK_SIZE */
  uint32_t loblksize;             /* LOBLKSIZE */
  uint8_t float8_by_val;          /* FLOAT8PASSBYVAL */
  uint32_t data_checksum_version; /* PG_DATA_CHECKSUM_VERSION */
  uint32_t wal_seg_min_size, wal_seg_max_size; /* WalSegMinSize, WalSegMaxSize */
  uint32_t db_startup, db_shutdowned, db_shutdowned_in_recovery, db_shutdowning, db_in_crash_recovery,
      db_in_archive_recovery, db_in_production; /* enum DBState */
  int32_t wal_level_minimal, wal_level_replica, wal_level_logical; /* enum WalLevel */

  /* data pages: what PageIsVerifiedExtended() checks */
  uint16_t pd_valid_flag_bits;    /* PD_VALID_FLAG_BITS */
  uint8_t page_layout_version;    /* PG_PAGE_LAYOUT_VERSION */
  /* pd_lsn is a PageXLogRecPtr, two uint32 halves, not a uint64: their offsets */
  uint32_t page_lsn_xlogid, page_lsn_xrecoff;

  /* heap tuples (access/htup_details.h, storage/itemid.h), for the one
   * catalog zenith reads: pg_authid (catalog/pg_authid.h) */
  uint32_t item_id_size;          /* sizeof(ItemIdData) */
  uint8_t lp_normal;              /* LP_NORMAL */
  uint32_t tuple_xmin, tuple_xmax, tuple_infomask, tuple_hoff; /* offsets in HeapTupleHeaderData */
  uint32_t tuple_header_size;     /* SizeofHeapTupleHeader */
  uint16_t heap_xmin_invalid, heap_xmax_invalid, heap_xmax_lock_only, heap_xmax_is_multi; /* t_infomask bits */
  uint32_t authid_relation_oid;   /* AuthIdRelationId: global/1260 */
  uint32_t bootstrap_superuser_id; /* BOOTSTRAP_SUPERUSERID: the role initdb made */
  uint32_t authid_oid_offset, authid_rolname_offset; /* offsetof(FormData_pg_authid, oid / rolname) */
};

/* The offset, flags and length of the line pointer at `item` (4 bytes of
 * bitfields, whose order the compiler chooses: decoded by the server's own
 * macros). */
void ZenithDecodeItemId(const uint8_t* item, uint32_t* offset, uint32_t* flags, uint32_t* length);

extern const struct ZenithPgAbi kZenithPgAbi;

#ifdef __cplusplus
}

namespace zenith {
// A PostgreSQL page: BLCKSZ bytes.
inline constexpr uint32_t kBlockSize = ZENITH_BLCKSZ;
}  // namespace zenith
#endif

#endif /* ZENITH_COMMON_PG_ABI_H */
