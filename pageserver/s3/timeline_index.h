// What the bucket says about a repository's timelines and branches
// (docs/design.md §12): the index of a timeline, the only commit point of
// its objects, and the refs, each stored under a key carrying its writer's
// generation and a sequence number, never written twice. Also the keys of
// layers and WAL pieces, and how to find the newest index or refs a
// generation may read.
//
// Thread-safety: value types; the functions are reentrant (the store must
// be safe to share, as ObjectStore is).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string_view>
#include <string>
#include <vector>

#include "common/lsn.h"
#include "common/status.h"
#include "pageserver/s3/object_store.h"
#include "pageserver/s3/s3_settings.h"

namespace zenith::s3 {

// One layer file of a timeline as uploaded: its local name (§5) and the
// generation whose key holds it.
struct IndexLayer {
  std::string name;
  uint64_t generation = 0;
  uint64_t size = 0;
  Lsn start, redo, checkpoint, valid;
  bool image = false;
  bool operator==(const IndexLayer&) const = default;
};

// WAL bytes [start, end) of one segment (both inside it, or end its end).
struct IndexWalPiece {
  uint64_t segno = 0;
  Lsn start, end;
  uint64_t generation = 0;
  bool operator==(const IndexWalPiece&) const = default;
};

struct TimelineIndex {
  std::string timeline;                   // 32 hex digits
  std::optional<std::string> ancestor;    // with ancestor_lsn, the branch point
  Lsn ancestor_lsn;
  Lsn gc_cutoff;
  // A prepared branch's first readable point (Timeline::readable_from).
  std::optional<Lsn> readable_from;
  // The WAL a compute on this timeline reads is in the bucket up to here.
  Lsn wal_uploaded;
  std::vector<IndexLayer> layers;         // oldest first
  std::vector<IndexWalPiece> wal;         // in LSN order

  bool operator==(const TimelineIndex&) const = default;
  std::string ToJson() const;
  // Corruption naming what is wrong.
  static Result<TimelineIndex> FromJson(const std::string& text);
};

// Branch name -> timeline id.
struct Refs {
  std::map<std::string, std::string> branches;
  bool operator==(const Refs&) const = default;
  std::string ToJson() const;
  static Result<Refs> FromJson(const std::string& text);
};

// "%020llu": generations and sequence numbers in keys.
std::string PaddedNumber(uint64_t n);

std::string TimelinePrefix(const S3Url& url, const std::string& timeline);  // ".../timelines/<id>/"
std::string LayerKey(const S3Url& url, const std::string& timeline, const std::string& name, uint64_t generation);
std::string WalPieceKey(const S3Url& url, const std::string& timeline, const IndexWalPiece& piece);
std::string IndexKey(const S3Url& url, const std::string& timeline, uint64_t generation, uint64_t seq);
std::string RefsKey(const S3Url& url, uint64_t generation, uint64_t seq);

// A generation and sequence number parsed back from an index or refs key.
struct Version {
  uint64_t generation = 0, seq = 0;
  auto operator<=>(const Version&) const = default;
};

// The newest version under `dir_prefix` whose key is "<dir_prefix><stem>-<g>-<seq>.json"
// with g <= max_generation, or nullopt if none.
Result<std::optional<Version>> NewestVersion(ObjectStore& store, const std::string& dir_prefix,
                                             const std::string& stem, uint64_t max_generation);

// The newest index of `timeline` a page server of generation
// `max_generation` may read, with its version; nullopt if it has none.
struct VersionedIndex {
  Version version;
  TimelineIndex index;
};
Result<std::optional<VersionedIndex>> ReadNewestIndex(ObjectStore& store, const S3Url& url,
                                                      const std::string& timeline, uint64_t max_generation);
struct VersionedRefs {
  Version version;
  Refs refs;
};
Result<std::optional<VersionedRefs>> ReadNewestRefs(ObjectStore& store, const S3Url& url, uint64_t max_generation);

// What deletion needs (docs/design.md §12, "Deletion"): the version of an
// index key ("index-<g>-<seq>.json"), the generation any other object key
// of a timeline carries (its last "-<g>"), and every key an index names.
std::optional<Version> IndexKeyVersion(std::string_view key);
std::optional<uint64_t> KeyGeneration(std::string_view key);
std::set<std::string> NamedKeys(const S3Url& url, const TimelineIndex& index);

// The timeline ids that have any object under the prefix.
Result<std::vector<std::string>> ListRemoteTimelines(ObjectStore& store, const S3Url& url);

}  // namespace zenith::s3
