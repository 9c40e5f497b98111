// The page server's own message formats, carried inside the PostgreSQL
// protocol's CopyData messages. Shared by the server (pageserver/) and its
// clients (zenith-fs, zenith, tests). No I/O here.
//
// Commands (simple or extended query protocol; see page_service.h):
//   pagestream <timeline>       CopyBoth. Each CopyData from the client is
//                               one PageRequest; each reply one PageReply,
//                               in request order. Many may be in flight.
//   basebackup <timeline> [lsn] CopyOut. A tar: first the member
//                               "zenith.manifest" (BasebackupManifest as
//                               JSON), then the snapshot's non-relation
//                               files, then the end-of-archive marker.
//   put_snapshot <timeline>     CopyIn. A stream of SnapshotRecords: pages,
//                               then relations and files (any order among
//                               those two), then one End record.
//
// All integers little-endian.
//
// Thread-safety: pure functions and value types.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "common/lsn.h"
#include "common/pg_abi.h"
#include "common/relation_path.h"
#include "common/status.h"

namespace zenith::pageserver {

// ---- Snapshot LSNs and relation sizes (docs/design.md §5) ----

struct SnapshotLsns {
  Lsn redo;        // redo point of the checkpoint that produced the snapshot
  Lsn checkpoint;  // end of that checkpoint record
  Lsn valid;       // end of WAL observed after everything was collected
  bool operator==(const SnapshotLsns&) const = default;
};

struct RelationInfo {
  uint32_t nblocks = 0;
  // The smallest size the relation had since the timeline's previous
  // snapshot (0 if created, dropped or recreated since): blocks at or above
  // it that a snapshot does not hold read as zeros (see layer_format.h).
  uint32_t floor = 0;
  bool operator==(const RelationInfo&) const = default;
};

inline constexpr uint32_t kPageSize = kBlockSize;

// ---- pagestream ----

enum class PageRequestKind : uint8_t { kExists = 1, kNblocks = 2, kGetPage = 3 };

struct PageRequest {
  PageRequestKind kind = PageRequestKind::kGetPage;
  Lsn lsn;
  RelTag rel;
  uint32_t block = 0;  // kGetPage only
};

// kind u8, lsn u64, spc u32, db u32, rel u32, fork u8, block u32.
inline constexpr size_t kPageRequestSize = 26;

void AppendPageRequest(std::string* out, const PageRequest& req);
// InvalidArgument for a wrong size, an unknown kind or fork.
Result<PageRequest> DecodePageRequest(std::span<const uint8_t> msg);

enum class PageReplyKind : uint8_t { kExists = 101, kNblocks = 102, kPage = 103, kError = 104 };

// A reply refers to storage owned elsewhere (the message buffer).
struct PageReply {
  PageReplyKind kind = PageReplyKind::kError;
  bool exists = false;               // kExists
  uint32_t nblocks = 0;              // kNblocks
  std::span<const uint8_t> page;     // kPage: kPageSize bytes
  std::string error;                 // kError: the server's message
};

void AppendExistsReply(std::string* out, bool exists);
void AppendNblocksReply(std::string* out, uint32_t nblocks);
// A page reply is these bytes followed by the page's kPageSize bytes; the
// server sends the two parts as one message without joining them first.
std::span<const uint8_t> PageReplyHead();
void AppendErrorReply(std::string* out, std::string_view message);
// ProtocolError for anything malformed.
Result<PageReply> DecodePageReply(std::span<const uint8_t> msg);

// ---- put_snapshot ----

struct SnapshotPage {
  RelTag rel;
  uint32_t block;
  std::span<const uint8_t> page;  // kPageSize bytes, in the message buffer
};
struct SnapshotRelation {
  RelTag rel;
  RelationInfo info;
};
struct SnapshotFiles {
  std::span<const uint8_t> tar;  // a piece of the tar body of non-relation files
};
struct SnapshotEnd {
  SnapshotLsns lsns;
  uint64_t page_count;      // how many SnapshotPage records were sent
  uint64_t relation_count;  // how many SnapshotRelation records were sent
};
using SnapshotRecord = std::variant<SnapshotPage, SnapshotRelation, SnapshotFiles, SnapshotEnd>;

void AppendSnapshotPage(std::string* out, const RelTag& rel, uint32_t block, std::span<const uint8_t> page);
void AppendSnapshotRelation(std::string* out, const RelTag& rel, RelationInfo info);
void AppendSnapshotFiles(std::string* out, std::span<const uint8_t> tar);
void AppendSnapshotEnd(std::string* out, const SnapshotEnd& end);
// ProtocolError for anything malformed.
Result<SnapshotRecord> DecodeSnapshotRecord(std::span<const uint8_t> msg);

// ---- basebackup ----

inline constexpr const char* kManifestName = "zenith.manifest";

struct ManifestRelationFile {
  std::string path;   // "base/5/16384", "base/5/16384.1", "global/1262_vm", ...
  uint64_t size = 0;  // bytes
  bool operator==(const ManifestRelationFile&) const = default;
};

struct BasebackupManifest {
  std::string timeline_id;      // the timeline asked for
  std::string snapshot_timeline_id;  // the timeline whose layer the snapshot is
  SnapshotLsns snapshot;        // a mount reads every page at snapshot.valid
  uint64_t system_id = 0;
  std::vector<ManifestRelationFile> relations;  // every relation segment file

  std::string ToJson() const;
  static Result<BasebackupManifest> FromJson(std::string_view text);  // Corruption if malformed
};

}  // namespace zenith::pageserver
