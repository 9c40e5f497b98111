// The on-disk format of a snapshot layer (docs/design.md §5).
//
// A layer is one immutable file, `timelines/<id>/layers/<name>` (names in
// layer_writer.h):
//
//   [0, 4096)          header (LayerHeader, zero-padded), CRC-protected
//   [4096, ...)        pages: page_count * 8192 bytes, in arrival order
//   files section      a tar body (no trailer) of the non-relation files
//   index section      page_count IndexEntry, sorted by (rel, block)
//   relations section  rel_count RelEntry, sorted by rel
//
// The index and relation sections carry CRCs checked when the layer is
// opened; each page carries its own CRC in its index entry, checked on
// every read, so a flipped bit in a 10 GB layer is caught without reading
// the whole file at open.
//
// Relations: a layer holds the complete table of relations (every fork that
// exists, with its size in blocks) as of the snapshot; a relation absent
// from it does not exist at that snapshot. `floor` is the smallest size the
// relation had since the previous layer of the timeline (0 if it was
// created, dropped or recreated since): blocks at or above the floor that
// this layer does not hold were cut away and must read as zeros, not fall
// through to older layers.
//
// Version 2 adds three header fields. `start` says which layers of its
// timeline the layer replaces: every one whose range (start, valid] lies
// within its own (a snapshot's start is the valid of the layer below it;
// a merged layer's, that of the oldest layer it merged). `created_at` is
// when the snapshot was stored (unix seconds; for a merged layer, its
// newest input's), which the point-in-time window is measured against.
// The image flag marks a layer that holds every page of the timeline at
// `valid` (its floors are all 0, so reads never fall through it).
// Version 1 files (no such fields) are still read: their start is the
// valid of the layer below them and their time the file's mtime.
//
// All integers little-endian. Crash safety: a layer is written to a temp
// file, fsynced, renamed to its final name, and the directory fsynced; a
// reader never sees a partial layer (LayerWriter).
#pragma once

#include <cstdint>

#include "common/pg_abi.h"

namespace zenith::pageserver::layer_format {

inline constexpr char kMagic[8] = {'Z', 'N', 'L', 'A', 'Y', 'E', 'R', '1'};
inline constexpr uint32_t kVersion1 = 1;
inline constexpr uint32_t kVersion = 2;  // written by LayerWriter
inline constexpr uint32_t kHeaderSize = 4096;
inline constexpr uint32_t kPageSize = kBlockSize;

// Field offsets inside the header.
enum HeaderOffset : uint32_t {
  kOffMagic = 0,          // char[8]
  kOffVersion = 8,        // u32
  kOffHeaderSize = 12,    // u32
  kOffTimelineId = 16,    // u8[16]: the timeline the layer belongs to
  kOffRedo = 32,          // u64 LSN
  kOffCheckpoint = 40,    // u64 LSN (end of the checkpoint record)
  kOffValid = 48,         // u64 LSN
  kOffPageCount = 56,     // u64
  kOffFilesOffset = 64,   // u64
  kOffFilesSize = 72,     // u64
  kOffIndexOffset = 80,   // u64
  kOffRelOffset = 88,     // u64
  kOffRelCount = 96,      // u64
  kOffFilesCrc = 104,     // u32
  kOffIndexCrc = 108,     // u32
  kOffRelCrc = 112,       // u32
  kOffHeaderCrcV1 = 116,  // u32, version 1 only: CRC of bytes [0, 116)
  kOffStart = 116,        // u64 LSN (version 2)
  kOffCreatedAt = 124,    // i64 unix seconds (version 2)
  kOffFlags = 132,        // u32 (version 2): kFlagImage
  kOffHeaderCrc = 136,    // u32 (version 2): CRC of bytes [0, 136)
  kHeaderUsed = 140,
};

inline constexpr uint32_t kFlagImage = 1;

// IndexEntry: spc u32, db u32, rel u32, fork u8, pad u8[3], block u32,
// page_no u32 (position in the pages section), page_crc u32.
inline constexpr uint32_t kIndexEntrySize = 28;
// RelEntry: spc u32, db u32, rel u32, fork u8, pad u8[3], nblocks u32, floor u32.
inline constexpr uint32_t kRelEntrySize = 24;

}  // namespace zenith::pageserver::layer_format
