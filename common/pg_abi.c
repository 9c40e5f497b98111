/*
 * The only translation unit that includes PostgreSQL's server headers: it
 * exports their layouts as data (see pg_abi.h).
 */
#include "postgres.h"

#include <stddef.h>

#include "access/heaptoast.h"
#include "access/rmgr.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "access/xlog_internal.h"
#include "access/xlogrecord.h"
#include "catalog/catversion.h"
#include "access/htup_details.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_control.h"
#include "catalog/pg_tablespace_d.h"
#include "common/relpath.h"
#include "storage/bufpage.h"
#include "datatype/timestamp.h"
#include "utils/memutils.h"
#include "storage/large_object.h"

#include "common/pg_abi.h"

#define CTL(f) offsetof(ControlFileData, f)
#define CKP(f) offsetof(CheckPoint, f)

_Static_assert(BLCKSZ == ZENITH_BLCKSZ, "zenith's formats store 8 kB pages: build PostgreSQL with the default BLCKSZ");

static const char* const kRmgrNames[] = {
#define PG_RMGR(symname, name, redo, desc, identify, startup, cleanup, mask, decode) name,
#include "access/rmgrlist.h"
#undef PG_RMGR
};

const struct ZenithPgAbi kZenithPgAbi = {
    .blcksz = BLCKSZ,
    .relseg_size = RELSEG_SIZE,
    .xlog_blcksz = XLOG_BLCKSZ,
    .max_align = MAXIMUM_ALIGNOF,
    .catalog_version = CATALOG_VERSION_NO,
    .pg_version_major = PG_MAJORVERSION_NUM,
    .tablespace_version_directory = TABLESPACE_VERSION_DIRECTORY,
    .global_tablespace_oid = GLOBALTABLESPACE_OID,
    .default_tablespace_oid = DEFAULTTABLESPACE_OID,

    .control_file_size = PG_CONTROL_FILE_SIZE,
    .control_data_size = sizeof(ControlFileData),
    .control_version = PG_CONTROL_VERSION,
    .mock_auth_nonce_len = MOCK_AUTH_NONCE_LEN,
    .control = {CTL(system_identifier), CTL(pg_control_version), CTL(catalog_version_no), CTL(state),
                CTL(time), CTL(checkPoint), CTL(checkPointCopy), CTL(unloggedLSN), CTL(minRecoveryPoint),
                CTL(minRecoveryPointTLI), CTL(backupStartPoint), CTL(backupEndPoint),
                CTL(backupEndRequired), CTL(wal_level), CTL(wal_log_hints), CTL(MaxConnections),
                CTL(max_worker_processes), CTL(max_wal_senders), CTL(max_prepared_xacts),
                CTL(max_locks_per_xact), CTL(track_commit_timestamp), CTL(maxAlign), CTL(floatFormat),
                CTL(blcksz), CTL(relseg_size), CTL(xlog_blcksz), CTL(xlog_seg_size), CTL(nameDataLen),
                CTL(indexMaxKeys), CTL(toast_max_chunk_size), CTL(loblksize), CTL(float8ByVal),
                CTL(data_checksum_version), CTL(mock_authentication_nonce), CTL(crc)},
    .checkpoint = {CKP(redo), CKP(ThisTimeLineID), CKP(PrevTimeLineID), CKP(fullPageWrites), CKP(nextXid),
                   CKP(nextOid), CKP(nextMulti), CKP(nextMultiOffset), CKP(oldestXid), CKP(oldestXidDB),
                   CKP(oldestMulti), CKP(oldestMultiDB), CKP(time), CKP(oldestCommitTsXid),
                   CKP(newestCommitTsXid), CKP(oldestActiveXid), sizeof(CheckPoint)},

    .xlog_page_magic = XLOG_PAGE_MAGIC,
    .xlp_first_is_contrecord = XLP_FIRST_IS_CONTRECORD,
    .xlp_long_header = XLP_LONG_HEADER,
    .xlp_bkp_removable = XLP_BKP_REMOVABLE,
    .xlp_first_is_overwrite_contrecord = XLP_FIRST_IS_OVERWRITE_CONTRECORD,
    .xlp_all_flags = XLP_ALL_FLAGS,
    .page_header = {offsetof(XLogPageHeaderData, xlp_magic), offsetof(XLogPageHeaderData, xlp_info),
                    offsetof(XLogPageHeaderData, xlp_tli), offsetof(XLogPageHeaderData, xlp_pageaddr),
                    offsetof(XLogPageHeaderData, xlp_rem_len), offsetof(XLogLongPageHeaderData, xlp_sysid),
                    offsetof(XLogLongPageHeaderData, xlp_seg_size),
                    offsetof(XLogLongPageHeaderData, xlp_xlog_blcksz), SizeOfXLogShortPHD, SizeOfXLogLongPHD},
    .record = {offsetof(XLogRecord, xl_tot_len), offsetof(XLogRecord, xl_xid), offsetof(XLogRecord, xl_prev),
               offsetof(XLogRecord, xl_info), offsetof(XLogRecord, xl_rmid), offsetof(XLogRecord, xl_crc),
               SizeOfXLogRecord},
    .xlr_info_mask = XLR_INFO_MASK,
    .xlr_rmgr_info_mask = XLR_RMGR_INFO_MASK,
    .xlr_max_block_id = XLR_MAX_BLOCK_ID,
    .xlr_block_id_data_short = XLR_BLOCK_ID_DATA_SHORT,
    .xlr_block_id_data_long = XLR_BLOCK_ID_DATA_LONG,
    .xlr_block_id_origin = XLR_BLOCK_ID_ORIGIN,
    .xlr_block_id_toplevel_xid = XLR_BLOCK_ID_TOPLEVEL_XID,
    .bkpblock_fork_mask = BKPBLOCK_FORK_MASK,
    .bkpblock_has_image = BKPBLOCK_HAS_IMAGE,
    .bkpblock_has_data = BKPBLOCK_HAS_DATA,
    .bkpblock_will_init = BKPBLOCK_WILL_INIT,
    .bkpblock_same_rel = BKPBLOCK_SAME_REL,
    .bkpimage_has_hole = BKPIMAGE_HAS_HOLE,
    .bkpimage_apply = BKPIMAGE_APPLY,
    .bkpimage_compress_pglz = BKPIMAGE_COMPRESS_PGLZ,
    .bkpimage_compress_lz4 = BKPIMAGE_COMPRESS_LZ4,
    .bkpimage_compress_zstd = BKPIMAGE_COMPRESS_ZSTD,
    .block_header_size = SizeOfXLogRecordBlockHeader,
    .block_image_header_size = SizeOfXLogRecordBlockImageHeader,
    .block_compress_header_size = SizeOfXLogRecordBlockCompressHeader,
    .relfilenode_size = sizeof(RelFileNode),
    .rm_xlog_id = RM_XLOG_ID,
    .xlog_checkpoint_shutdown = XLOG_CHECKPOINT_SHUTDOWN,
    .xlog_checkpoint_online = XLOG_CHECKPOINT_ONLINE,
    .xlog_switch = XLOG_SWITCH,
    .rmgr_count = RM_N_BUILTIN_IDS,
    .rmgr_names = kRmgrNames,
    .wal_block = {offsetof(XLogRecordBlockHeader, id), offsetof(XLogRecordBlockHeader, fork_flags),
                  offsetof(XLogRecordBlockHeader, data_length), offsetof(XLogRecordBlockImageHeader, length),
                  offsetof(XLogRecordBlockImageHeader, hole_offset),
                  offsetof(XLogRecordBlockImageHeader, bimg_info),
                  offsetof(XLogRecordBlockCompressHeader, hole_length), offsetof(RelFileNode, spcNode),
                  offsetof(RelFileNode, dbNode), offsetof(RelFileNode, relNode), sizeof(BlockNumber),
                  SizeOfXLogRecordDataHeaderShort, SizeOfXLogRecordDataHeaderLong, sizeof(RepOriginId),
                  sizeof(TransactionId)},
    .rm_min_custom_id = RM_MIN_CUSTOM_ID,
    .rm_max_custom_id = RM_MAX_CUSTOM_ID,
    .xlog_overwrite_contrecord = XLOG_OVERWRITE_CONTRECORD,
    .xlog_backup_end = XLOG_BACKUP_END,
    .max_alloc_size = MaxAllocSize,
    .rm_xact_id = RM_XACT_ID,
    .xlog_xact_opmask = XLOG_XACT_OPMASK,
    .xlog_xact_commit = XLOG_XACT_COMMIT,
    .xlog_xact_commit_prepared = XLOG_XACT_COMMIT_PREPARED,
    .xact_commit_time = offsetof(xl_xact_commit, xact_time),
    .xact_commit_min_size = MinSizeOfXactCommit,
    .unix_epoch_in_pg_usecs = (int64_t)(POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY * USECS_PER_SEC,

    .page = {offsetof(PageHeaderData, pd_lsn), offsetof(PageHeaderData, pd_checksum),
             offsetof(PageHeaderData, pd_flags), offsetof(PageHeaderData, pd_lower),
             offsetof(PageHeaderData, pd_upper), offsetof(PageHeaderData, pd_special),
             offsetof(PageHeaderData, pd_pagesize_version), offsetof(PageHeaderData, pd_prune_xid),
             SizeOfPageHeaderData},

    .float_format = FLOATFORMAT_VALUE,
    .name_data_len = NAMEDATALEN,
    .index_max_keys = INDEX_MAX_KEYS,
    .toast_max_chunk_size = TOAST_MAX_CHUNK_SIZE,
    .loblksize = LOBLKSIZE,
    .float8_by_val = FLOAT8PASSBYVAL,
    .data_checksum_version = PG_DATA_CHECKSUM_VERSION,
    .wal_seg_min_size = WalSegMinSize,
    .wal_seg_max_size = WalSegMaxSize,
    .db_startup = DB_STARTUP,
    .db_shutdowned = DB_SHUTDOWNED,
    .db_shutdowned_in_recovery = DB_SHUTDOWNED_IN_RECOVERY,
    .db_shutdowning = DB_SHUTDOWNING,
    .db_in_crash_recovery = DB_IN_CRASH_RECOVERY,
    .db_in_archive_recovery = DB_IN_ARCHIVE_RECOVERY,
    .db_in_production = DB_IN_PRODUCTION,
    .wal_level_minimal = WAL_LEVEL_MINIMAL,
    .wal_level_replica = WAL_LEVEL_REPLICA,
    .wal_level_logical = WAL_LEVEL_LOGICAL,

    .pd_valid_flag_bits = PD_VALID_FLAG_BITS,
    .page_layout_version = PG_PAGE_LAYOUT_VERSION,
    .page_lsn_xlogid = offsetof(PageXLogRecPtr, xlogid),
    .page_lsn_xrecoff = offsetof(PageXLogRecPtr, xrecoff),

    .item_id_size = sizeof(ItemIdData),
    .lp_normal = LP_NORMAL,
    .tuple_xmin = offsetof(HeapTupleHeaderData, t_choice.t_heap.t_xmin),
    .tuple_xmax = offsetof(HeapTupleHeaderData, t_choice.t_heap.t_xmax),
    .tuple_infomask = offsetof(HeapTupleHeaderData, t_infomask),
    .tuple_hoff = offsetof(HeapTupleHeaderData, t_hoff),
    .tuple_header_size = SizeofHeapTupleHeader,
    .heap_xmin_invalid = HEAP_XMIN_INVALID,
    .heap_xmax_invalid = HEAP_XMAX_INVALID,
    .heap_xmax_lock_only = HEAP_XMAX_LOCK_ONLY,
    .heap_xmax_is_multi = HEAP_XMAX_IS_MULTI,
    .authid_relation_oid = AuthIdRelationId,
    .bootstrap_superuser_id = BOOTSTRAP_SUPERUSERID,
    .authid_oid_offset = offsetof(FormData_pg_authid, oid),
    .authid_rolname_offset = offsetof(FormData_pg_authid, rolname),
};

void ZenithDecodeItemId(const uint8_t* item, uint32_t* offset, uint32_t* flags, uint32_t* length) {
  ItemIdData id;
  memcpy(&id, item, sizeof id);
  *offset = ItemIdGetOffset(&id);
  *flags = ItemIdGetFlags(&id);
  *length = ItemIdGetLength(&id);
}
