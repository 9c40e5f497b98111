// LayerFile: read access to one immutable snapshot layer (layer_format.h).
//
// The file is memory-mapped read-only. Memory use is the kernel's page
// cache, shared and reclaimable: it does not grow with the database in the
// process's private memory. A lookup is a binary search in the mapped index:
// O(log n) with no allocation.
//
// Thread-safety: immutable after Open(); any number of threads may read.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "common/lsn.h"
#include "common/relation_path.h"
#include "common/status.h"
#include "pageserver/client/page_protocol.h"
#include "pageserver/timeline_id.h"

namespace zenith::pageserver {

class LayerFile {
 public:
  // Maps and validates `path` (header, section bounds, index and relation
  // CRCs). Corruption with the path in the message if anything is off.
  static Result<std::shared_ptr<const LayerFile>> Open(const std::string& path);
  ~LayerFile();
  LayerFile(const LayerFile&) = delete;
  LayerFile& operator=(const LayerFile&) = delete;

  const std::string& path() const { return path_; }
  const TimelineId& timeline_id() const { return timeline_id_; }
  const SnapshotLsns& lsns() const { return lsns_; }
  uint64_t page_count() const { return page_count_; }
  uint64_t relation_count() const { return rel_count_; }

  // The page of (rel, block) if this layer holds it: nullopt if absent;
  // Corruption if its CRC does not match. The span lives as long as *this.
  Result<std::optional<std::span<const uint8_t>>> FindPage(const RelTag& rel, uint32_t block) const;
  // The relation's entry, or nullopt if the relation does not exist here.
  std::optional<RelationInfo> FindRelation(const RelTag& rel) const;
  // Calls fn for every relation, in order.
  template <typename Fn>
  void ForEachRelation(Fn&& fn) const {
    for (uint64_t i = 0; i < rel_count_; ++i) fn(RelAt(i), RelInfoAt(i));
  }
  // The tar body of non-relation files (no trailer); CRC-checked at Open.
  std::span<const uint8_t> files_tar() const { return files_; }

 private:
  LayerFile() = default;
  Status Validate();
  RelTag RelAt(uint64_t i) const;
  RelationInfo RelInfoAt(uint64_t i) const;

  std::string path_;
  const uint8_t* map_ = nullptr;
  size_t map_size_ = 0;
  TimelineId timeline_id_;
  SnapshotLsns lsns_;
  uint64_t page_count_ = 0, rel_count_ = 0;
  std::span<const uint8_t> pages_, files_, index_, rels_;
};

}  // namespace zenith::pageserver
