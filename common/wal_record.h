// One decoded PostgreSQL 15 WAL record: its header, its block references and
// its main data, exactly as xlogreader's DecodeXLogRecord sees them.
//
// A record on disk is an XLogRecord header, then fragment headers (block
// references, origin, top-level xid, main data length), then the fragments'
// data in the same order: per block its image then its data, then the main
// data. WalRecord keeps the reassembled bytes and the offsets into them, so
// callers decode rmgr payloads (a checkpoint record, say) without copies.
//
// Every field is read at the offsets kZenithPgAbi takes from the server's
// headers; nothing here knows a layout by heart.
//
// Thread-safety: plain values; DecodeWalRecord is a pure function.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/lsn.h"
#include "common/status.h"

namespace zenith {

// One block reference (DecodedBkpBlock).
struct WalBlockRef {
  uint8_t block_id = 0;         // 0..XLR_MAX_BLOCK_ID, ascending within a record
  uint32_t tablespace = 0;      // RelFileNode.spcNode
  uint32_t database = 0;        // RelFileNode.dbNode
  uint32_t relfilenode = 0;     // RelFileNode.relNode
  uint8_t fork = 0;             // ForkNumber: 0 main, 1 fsm, 2 vm, 3 init
  uint32_t block = 0;           // BlockNumber
  uint8_t flags = 0;            // fork_flags as stored (BKPBLOCK_*)
  bool has_image = false;       // a full-page image is included
  bool image_applies = false;   // BKPIMAGE_APPLY: redo restores the image (else only for verification)
  bool has_data = false;        // BKPBLOCK_HAS_DATA
  bool will_init = false;       // BKPBLOCK_WILL_INIT: redo re-initialises the page
  uint16_t data_length = 0;     // rmgr payload bytes for this block
  uint16_t image_length = 0;    // bimg_len: image bytes stored in the record (after hole/compression)
  uint16_t hole_offset = 0;     // bytes before the hole
  uint16_t hole_length = 0;     // bytes of the (zero) hole left out
  uint8_t image_info = 0;       // bimg_info as stored (BKPIMAGE_*)
  uint32_t image_offset = 0;    // offset of the image bytes in WalRecord::bytes (if has_image)
  uint32_t data_offset = 0;     // offset of the block data in WalRecord::bytes (if has_data)

  bool image_has_hole() const;
  bool image_compressed() const;  // any of BKPIMAGE_COMPRESS_{PGLZ,LZ4,ZSTD}
};

struct WalRecord {
  Lsn start_lsn;          // where the record's header begins (ReadRecPtr)
  Lsn end_lsn;            // PostgreSQL's EndRecPtr: MAXALIGNed end; for XLOG_SWITCH the next segment's start
  Lsn prev;               // xl_prev: start of the previous record
  uint32_t total_length = 0;  // xl_tot_len
  uint32_t xid = 0;           // xl_xid
  uint8_t rmid = 0;           // xl_rmid
  uint8_t info = 0;           // xl_info (rmgr bits and XLR_* flags)
  uint16_t origin = 0;        // replication origin (0 = InvalidRepOriginId)
  uint32_t toplevel_xid = 0;  // top-level xid of a subtransaction's first record (0 = none)
  std::vector<WalBlockRef> blocks;  // in block id order
  uint32_t main_data_offset = 0;    // offset of the main data in `bytes`
  uint32_t main_data_length = 0;
  std::vector<uint8_t> bytes;       // the whole record, reassembled across pages (total_length bytes)

  // xl_info & XLR_RMGR_INFO_MASK: the record type within its rmgr.
  uint8_t rmgr_info() const;
  bool is_xlog_switch() const;
  // An online or shutdown checkpoint record (its main data is a CheckPoint).
  bool is_checkpoint() const;
  // A transaction's commit (or COMMIT PREPARED) record: its xact_time, in
  // PostgreSQL's TimestampTz (microseconds since 2000-01-01 00:00 UTC).
  // nullopt for any other record, or one too short to hold it.
  std::optional<int64_t> commit_time() const;
  // An end-of-backup record (XLOG_BACKUP_END, written when a base backup
  // stops): the start of the backup it ends. nullopt for any other record.
  std::optional<Lsn> backup_end_of() const;
  std::span<const uint8_t> main_data() const {
    return std::span<const uint8_t>(bytes).subspan(main_data_offset, main_data_length);
  }
  // Sum of the stored image lengths: pg_waldump's "tot - rec".
  uint32_t image_bytes() const;
};

// The rmgr's name as pg_waldump prints it ("Heap", "XLOG", "custom200"),
// or "invalid rmgr <id>" for ids PostgreSQL 15 rejects.
std::string WalRmgrName(uint8_t rmid);
// True for the ids PostgreSQL 15 accepts (built-in or custom).
bool WalRmgrIdIsValid(uint8_t rmid);

// Decodes record->bytes, a complete record whose CRC the caller has checked,
// into the header fields, block references and main data of *record, as
// DecodeXLogRecord does. REQUIRES: record->bytes.size() >= SizeOfXLogRecord
// and record->start_lsn set (it appears in messages). Reuses record->blocks'
// capacity. On a malformed record returns kCorruption with PostgreSQL's
// message ("out-of-order block_id 3 at 0/16B3A28"); *record is then partly
// filled and must not be used.
Status DecodeWalRecord(WalRecord* record);

}  // namespace zenith
