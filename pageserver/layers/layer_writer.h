// LayerWriter: builds one snapshot layer file (layer_format.h) and makes it
// appear atomically.
//
// Pages are streamed to a temp file as they arrive (buffered, written in
// large chunks); the index (28 bytes a page) and the relation table are kept
// in memory and written at Finish().
// Finish() fsyncs the file, renames it to its final name and fsyncs the
// directory: a crash before the rename leaves only a temp file, which no
// reader looks at and Timeline::Load removes. Any failure (a short write,
// EIO, ENOSPC, a failed fsync) is returned naming the file, and leaves
// neither the temp file nor the layer.
//
// Thread-safety: one thread uses a writer.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/crc32c.h"
#include "common/file_util.h"
#include "common/relation_path.h"
#include "common/status.h"
#include "common/unique_fd.h"
#include "pageserver/layers/layer_file.h"

namespace zenith::pageserver {

// "<valid>-<start>.layer", or "<valid>-<start>-image.layer" for an image,
// each LSN as 16 hex digits: layers sort by name in LSN order, and a merged
// layer never takes the name of one it replaces.
std::string LayerFileName(const LayerMeta& meta);
// True for names LayerFileName makes, and for the "<valid>.layer" of
// version-1 layers (temp files and others are not layers).
bool IsLayerFileName(std::string_view name);

class LayerWriter {
 public:
  // Starts a layer of timeline `timeline` in directory `dir`.
  static Result<std::unique_ptr<LayerWriter>> Create(const std::string& dir, const TimelineId& timeline);
  ~LayerWriter();  // removes the temp file unless Finish() succeeded
  LayerWriter(const LayerWriter&) = delete;
  LayerWriter& operator=(const LayerWriter&) = delete;

  // A page image (8192 bytes). REQUIRES: no AppendFilesTar() call yet.
  // The same (rel, block) twice is an InvalidArgument at Finish().
  Status AddPage(const RelTag& rel, uint32_t block, std::span<const uint8_t> page);
  // The non-zero pages among `pages` (whole pages of `rel` from block
  // `first_block` on), as an import adds a relation file's contents: zero
  // pages are left out, implied by a floor of 0. Same REQUIRES as AddPage.
  Status AddNonZeroPages(const RelTag& rel, uint32_t first_block, std::span<const uint8_t> pages);
  // Appends bytes of the tar body of non-relation files (no trailer).
  Status AppendFilesTar(std::span<const uint8_t> bytes);
  // The relation's size and floor at this snapshot; once per relation.
  Status SetRelation(const RelTag& rel, RelationInfo info);

  uint64_t page_count() const { return index_.size(); }

  // Writes the index, relation table and header, makes the layer durable
  // under LayerFileName(meta) and returns its path. kAlreadyExists if a
  // layer with that name exists. REQUIRES: an image's floors are all 0.
  Result<std::string> Finish(const LayerMeta& meta);

 private:
  struct IndexEntry {
    RelTag rel;
    uint32_t block;
    uint32_t page_no;
    uint32_t crc;
  };
  struct RelEntry {
    RelTag rel;
    RelationInfo info;
  };
  LayerWriter() = default;
  Status WriteTables(uint64_t* index_off, uint64_t* rel_off, uint32_t* index_crc, uint32_t* rel_crc);
  Status WriteHeader(const LayerMeta& meta, uint64_t index_off, uint64_t rel_off, uint32_t index_crc,
                     uint32_t rel_crc);
  Status FlushPages();

  std::unique_ptr<LiveTempFile> temp_;  // registered while this writer lives
  std::string dir_, temp_path_;
  TimelineId timeline_;
  UniqueFd fd_;
  bool finished_ = false;
  bool files_started_ = false;
  std::string page_buf_;        // pages not written yet, in order
  uint64_t page_buf_offset_ = 0;  // where page_buf_ goes in the file
  uint64_t writeback_from_ = 0;   // writeback started up to here
  uint64_t files_offset_ = 0, files_size_ = 0;
  Crc32c files_crc_;
  std::vector<IndexEntry> index_;
  std::vector<RelEntry> rels_;
};

}  // namespace zenith::pageserver
