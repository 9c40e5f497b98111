// LayerFile: read access to one immutable snapshot layer (layer_format.h).
//
// A layer is local (a file on this disk) or remote (an object in the
// repository's bucket only, docs/design.md §12 "The local disk is a
// cache"). A remote layer is opened with two range reads, the header and
// then everything after the pages (files, index and relation sections,
// CRC-checked as a local file's are); its pages are read on demand, a few
// at a time, through LayerRangeReader, and each is checked against its CRC
// before it is returned. Errors about a remote layer name its object.
//
// A local file is memory-mapped read-only. Memory use is the kernel's page
// cache, shared and reclaimable: it does not grow with the database in the
// process's private memory. A lookup is a binary search in the mapped index:
// O(log n) with no allocation. Opened with Fd::kKeep, the file also stays
// open, for readers that copy pages with pread (IndexOf, PageOffset,
// CheckPage) instead of through the mapping (the page server does not: it
// may hold many more layers than a process may hold files open).
//
// Thread-safety: immutable after Open(); any number of threads may read.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/lsn.h"
#include "common/relation_path.h"
#include "common/status.h"
#include "common/unique_fd.h"
#include "pageserver/api/page_protocol.h"
#include "pageserver/api/timeline_id.h"

namespace zenith::pageserver {

// Where a remote layer's bytes come from (in the page server: ranged GETs
// of its object, pageserver/repo/remote_layers.h).
// Thread-safety: implementations are safe to call from several threads.
class LayerRangeReader {
 public:
  virtual ~LayerRangeReader() = default;
  // Exactly out.size() bytes at `offset`, or an error naming the object.
  virtual Status ReadAt(uint64_t offset, std::span<uint8_t> out) = 0;
  // How messages name the layer ("s3://bucket/key").
  virtual std::string name() const = 0;
};

class RemotePages;

// What a layer's header says about it besides its contents (layer_format.h).
struct LayerMeta {
  SnapshotLsns lsns;
  // The layer replaces every layer of its timeline whose (start, valid]
  // lies within its own.
  Lsn start;
  bool image = false;       // holds every page of the timeline at lsns.valid
  int64_t created_at = 0;   // unix seconds when the snapshot was stored

  LayerMeta() = default;
  // A snapshot layer with nothing below it, stored now (tests, import).
  LayerMeta(const SnapshotLsns& l);  // NOLINT: implicit by design
  LayerMeta(const SnapshotLsns& l, Lsn s, bool img, int64_t created) : lsns(l), start(s), image(img), created_at(created) {}
};

class LayerFile {
 public:
  // Maps and validates `path` (header, section bounds, index and relation
  // CRCs). Corruption with the path in the message if anything is off.
  // Non-const only so that a version-1 layer's start can be filled in
  // (AssumeStart) before the layer is shared.
  enum class Fd { kClose, kKeep };
  static Result<std::shared_ptr<LayerFile>> Open(const std::string& path, Fd fd = Fd::kClose);
  // A layer that is in the bucket only: `path` is its local placeholder
  // (what path() returns and what removing the layer removes), `size` the
  // object's size. Reads the header and the sections after the pages;
  // Corruption naming the object if anything is off.
  static Result<std::shared_ptr<LayerFile>> OpenRemote(const std::string& path, uint64_t size,
                                                      std::shared_ptr<LayerRangeReader> reader);
  ~LayerFile();
  LayerFile(const LayerFile&) = delete;
  LayerFile& operator=(const LayerFile&) = delete;

  const std::string& path() const { return path_; }
  const TimelineId& timeline_id() const { return timeline_id_; }
  const SnapshotLsns& lsns() const { return meta_.lsns; }
  const LayerMeta& meta() const { return meta_; }
  uint32_t version() const { return version_; }
  uint64_t page_count() const { return page_count_; }
  uint64_t relation_count() const { return rel_count_; }
  uint64_t file_size() const { return size_; }
  // Its pages are in the bucket only (OpenRemote).
  bool remote() const { return remote_ != nullptr; }
  // Bytes of pages read from the bucket so far (remote layers).
  uint64_t remote_bytes_read() const;
  // When a page of it was last read here, or it was opened or Touch()ed
  // (steady clock, ms): what the cache evicts by (remote_layers.h).
  int64_t last_read() const { return last_read_.load(std::memory_order_relaxed); }
  void Touch() const;
  // Reads never fall through this layer: every relation's floor is 0 (an
  // image, the import, or a snapshot after which every relation was new).
  bool complete() const { return complete_; }
  // Version 1 layers do not record their start: the timeline fills it in
  // from the layer below. REQUIRES: version() == 1, before sharing.
  void AssumeStart(Lsn start) { meta_.start = start; }

  // The page of (rel, block) if this layer holds it: nullopt if absent;
  // Corruption if its CRC does not match. The span lives as long as *this,
  // or, for a remote layer, is `scratch` (kBlockSize bytes; a remote layer
  // without one is an Internal error).
  Result<std::optional<std::span<const uint8_t>>> FindPage(const RelTag& rel, uint32_t block,
                                                           std::span<uint8_t> scratch = {}) const;
  // The index position of (rel, block)'s page if this layer holds it; reads
  // only the index, never the page.
  std::optional<uint64_t> IndexOf(const RelTag& rel, uint32_t block) const;
  // Where the page at an index position lies in the file (for pread on fd()).
  uint64_t PageOffset(uint64_t index) const;
  // Corruption naming the block unless `page` (read from PageOffset(index))
  // matches the CRC the index holds for it.
  Status CheckPage(uint64_t index, std::span<const uint8_t> page) const;
  // The open file; -1 unless opened with Fd::kKeep.
  int fd() const { return fd_.get(); }
  // Index positions [first, second) of the pages held for `rel`, in block
  // order, for BlockAt/PageAt (merging layers walks them).
  std::pair<uint64_t, uint64_t> PageRange(const RelTag& rel) const;
  uint32_t BlockAt(uint64_t index) const;
  // The page at an index position; Corruption if its CRC does not match.
  // Where it lives as for FindPage.
  Result<std::span<const uint8_t>> PageAt(uint64_t index, std::span<uint8_t> scratch = {}) const;
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
  // The header at `header`, then the sections: from `tail` (the bytes from
  // tail_offset to the end of the file) when given, else the mapping.
  Status ValidateHeader(std::span<const uint8_t> header, int64_t mtime);
  Status ValidateSections(std::span<const uint8_t> header, std::span<const uint8_t> tail, uint64_t tail_offset);
  Status FetchRemoteTail();
  Status Corrupt(const std::string& what) const;
  RelTag RelAt(uint64_t i) const;
  RelationInfo RelInfoAt(uint64_t i) const;
  uint64_t LowerBound(const RelTag& rel, uint32_t block) const;

  std::string path_;
  std::string display_;  // how messages name it: the path, or the object
  UniqueFd fd_;
  const uint8_t* map_ = nullptr;
  size_t map_size_ = 0;
  uint64_t size_ = 0;
  std::vector<uint8_t> remote_header_, remote_tail_;  // a remote layer's sections
  std::unique_ptr<RemotePages> remote_;
  mutable std::atomic<int64_t> last_read_{0};
  uint32_t version_ = 0;
  TimelineId timeline_id_;
  LayerMeta meta_;
  bool complete_ = false;
  uint64_t page_count_ = 0, rel_count_ = 0;
  std::span<const uint8_t> pages_, files_, index_, rels_;
};

}  // namespace zenith::pageserver
