#include "pageserver/layers/layer_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "common/byte_io.h"
#include "common/file_io.h"
#include "common/file_util.h"
#include "common/page_header.h"
#include "pageserver/layers/layer_format.h"

namespace zenith::pageserver {

namespace lf = layer_format;

namespace {

// A relation in an index or relation entry: its tag, padded to 16 bytes.
void PutRel(ByteWriter& w, const RelTag& r) {
  AppendRelTag(w, r);
  w.U8(0);
  w.U16(0);
}

constexpr size_t kPageBufferBytes = 1 << 20;
constexpr uint64_t kWritebackBytes = 8 << 20;

bool IsHex16(std::string_view s) {
  return s.size() == 16 && std::all_of(s.begin(), s.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
}

}  // namespace

std::string LayerFileName(const LayerMeta& meta) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%016" PRIX64 "-%016" PRIX64 "%s.layer", meta.lsns.valid.value, meta.start.value,
                meta.image ? "-image" : "");
  return buf;
}

bool IsLayerFileName(std::string_view name) {
  if (!name.ends_with(".layer")) return false;
  name.remove_suffix(6);
  if (name.size() == 16) return IsHex16(name);  // version 1
  if (name.ends_with("-image")) name.remove_suffix(6);
  return name.size() == 33 && name[16] == '-' && IsHex16(name.substr(0, 16)) && IsHex16(name.substr(17));
}

Result<std::unique_ptr<LayerWriter>> LayerWriter::Create(const std::string& dir, const TimelineId& timeline) {
  std::unique_ptr<LayerWriter> w(new LayerWriter());
  w->dir_ = dir;
  w->timeline_ = timeline;
  w->temp_ = std::make_unique<LiveTempFile>(dir + "/.layer.tmp." + std::to_string(getpid()) + "." +
                                             std::to_string(reinterpret_cast<uintptr_t>(w.get())));
  w->temp_path_ = w->temp_->path();
  auto fd = OpenFile(w->temp_path_, O_RDWR | O_CREAT | O_EXCL, 0600);
  if (!fd.ok()) {
    w->finished_ = true;  // nothing to remove: the name is not ours
    return fd.status();
  }
  w->fd_ = std::move(*fd);
  return w;
}

LayerWriter::~LayerWriter() {
  if (!finished_) IgnoreError(RemoveFile(temp_path_));
}

Status LayerWriter::AddPage(const RelTag& rel, uint32_t block, std::span<const uint8_t> page) {
  if (page.size() != lf::kPageSize) return InvalidArgument("a page must be 8192 bytes, got " + std::to_string(page.size()));
  if (files_started_) return Internal("LayerWriter::AddPage after the files section started");
  uint32_t page_no = static_cast<uint32_t>(index_.size());
  if (page_buf_.empty()) page_buf_offset_ = lf::kHeaderSize + uint64_t{page_no} * lf::kPageSize;
  page_buf_.append(reinterpret_cast<const char*>(page.data()), page.size());
  index_.push_back({rel, block, page_no, ComputeCrc32c(page)});
  if (page_buf_.size() >= kPageBufferBytes) return FlushPages();
  return Status::Ok();
}

Status LayerWriter::AddNonZeroPages(const RelTag& rel, uint32_t first_block, std::span<const uint8_t> pages) {
  for (size_t at = 0; at + lf::kPageSize <= pages.size(); at += lf::kPageSize) {
    const auto page = pages.subspan(at, lf::kPageSize);
    if (IsAllZeroPage(page)) continue;
    ZENITH_RETURN_IF_ERROR(AddPage(rel, first_block + static_cast<uint32_t>(at / lf::kPageSize), page));
  }
  return Status::Ok();
}

Status LayerWriter::FlushPages() {
  if (page_buf_.empty()) return Status::Ok();
  Status s = PwriteFull(fd_.get(), AsBytes(page_buf_), page_buf_offset_, temp_path_);
  const uint64_t end = page_buf_offset_ + page_buf_.size();
  page_buf_.clear();
  // Write-behind: every few MB, start writing back the new part, so dirty
  // data stays bounded and the fsync at Finish is short. Only started,
  // never waited for: waiting here (as checkpoint_flush_after effectively
  // does) made stall_bench's longest statement 1.7-2 s instead of ~0.1 s,
  // because the waits queue behind the computes' own fsyncs.
  if (s.ok() && end - writeback_from_ >= kWritebackBytes) {
    CurrentFileIo().StartWriteback(fd_.get(), writeback_from_, end - writeback_from_);
    writeback_from_ = end;
  }
  return s;
}

Status LayerWriter::AppendFilesTar(std::span<const uint8_t> bytes) {
  if (!files_started_) {
    ZENITH_RETURN_IF_ERROR(FlushPages());
    files_started_ = true;
    files_offset_ = lf::kHeaderSize + index_.size() * uint64_t{lf::kPageSize};
  }
  ZENITH_RETURN_IF_ERROR(PwriteFull(fd_.get(), bytes, files_offset_ + files_size_, temp_path_));
  files_size_ += bytes.size();
  files_crc_.Update(bytes);
  return Status::Ok();
}

Status LayerWriter::SetRelation(const RelTag& rel, RelationInfo info) {
  rels_.push_back({rel, info});
  return Status::Ok();
}

Status LayerWriter::WriteTables(uint64_t* index_off, uint64_t* rel_off, uint32_t* index_crc, uint32_t* rel_crc) {
  ZENITH_RETURN_IF_ERROR(FlushPages());
  // RelTag orders by (spc, db, rel, fork): the order LayerFile searches in.
  std::sort(index_.begin(), index_.end(), [](const IndexEntry& a, const IndexEntry& b) {
    return std::tie(a.rel, a.block) < std::tie(b.rel, b.block);
  });
  std::sort(rels_.begin(), rels_.end(), [](const RelEntry& a, const RelEntry& b) { return a.rel < b.rel; });
  std::string tables;
  ByteWriter w(&tables);
  for (size_t i = 0; i < index_.size(); ++i) {
    const IndexEntry& e = index_[i];
    if (i > 0 && e.rel == index_[i - 1].rel && e.block == index_[i - 1].block) {
      return InvalidArgument("block " + std::to_string(e.block) + " of relation " + e.rel.ToString() + " sent twice");
    }
    PutRel(w, e.rel);
    w.U32(e.block);
    w.U32(e.page_no);
    w.U32(e.crc);
  }
  size_t index_size = tables.size();
  for (size_t i = 0; i < rels_.size(); ++i) {
    if (i > 0 && rels_[i].rel == rels_[i - 1].rel) return InvalidArgument("relation " + rels_[i].rel.ToString() + " sent twice");
    PutRel(w, rels_[i].rel);
    w.U32(rels_[i].info.nblocks);
    w.U32(rels_[i].info.floor);
  }
  if (!files_started_) files_offset_ = lf::kHeaderSize + index_.size() * uint64_t{lf::kPageSize};
  *index_off = files_offset_ + files_size_;
  *rel_off = *index_off + index_size;
  auto bytes = AsBytes(tables);
  *index_crc = ComputeCrc32c(bytes.subspan(0, index_size));
  *rel_crc = ComputeCrc32c(bytes.subspan(index_size));
  return PwriteFull(fd_.get(), bytes, *index_off, temp_path_);
}

Status LayerWriter::WriteHeader(const LayerMeta& meta, uint64_t index_off, uint64_t rel_off, uint32_t index_crc,
                                uint32_t rel_crc) {
  std::string header(lf::kHeaderSize, '\0');
  std::span<uint8_t> h(reinterpret_cast<uint8_t*>(header.data()), header.size());
  std::memcpy(h.data() + lf::kOffMagic, lf::kMagic, sizeof lf::kMagic);
  StoreAt<uint32_t>(h, lf::kOffVersion, lf::kVersion);
  StoreAt<uint32_t>(h, lf::kOffHeaderSize, lf::kHeaderSize);
  std::memcpy(h.data() + lf::kOffTimelineId, timeline_.bytes.data(), 16);
  StoreAt<uint64_t>(h, lf::kOffRedo, meta.lsns.redo.value);
  StoreAt<uint64_t>(h, lf::kOffCheckpoint, meta.lsns.checkpoint.value);
  StoreAt<uint64_t>(h, lf::kOffValid, meta.lsns.valid.value);
  StoreAt<uint64_t>(h, lf::kOffPageCount, index_.size());
  StoreAt<uint64_t>(h, lf::kOffFilesOffset, files_offset_);
  StoreAt<uint64_t>(h, lf::kOffFilesSize, files_size_);
  StoreAt<uint64_t>(h, lf::kOffIndexOffset, index_off);
  StoreAt<uint64_t>(h, lf::kOffRelOffset, rel_off);
  StoreAt<uint64_t>(h, lf::kOffRelCount, rels_.size());
  StoreAt<uint32_t>(h, lf::kOffFilesCrc, files_crc_.Finish());
  StoreAt<uint32_t>(h, lf::kOffIndexCrc, index_crc);
  StoreAt<uint32_t>(h, lf::kOffRelCrc, rel_crc);
  StoreAt<uint64_t>(h, lf::kOffStart, meta.start.value);
  StoreAt<uint64_t>(h, lf::kOffCreatedAt, static_cast<uint64_t>(meta.created_at));
  StoreAt<uint32_t>(h, lf::kOffFlags, meta.image ? lf::kFlagImage : 0);
  StoreAt<uint32_t>(h, lf::kOffHeaderCrc, ComputeCrc32c(h.data(), lf::kOffHeaderCrc));
  return PwriteFull(fd_.get(), h, 0, temp_path_);
}

Result<std::string> LayerWriter::Finish(const LayerMeta& meta) {
  if (meta.start > meta.lsns.valid) {
    return InvalidArgument("layer start " + meta.start.ToString() + " is past its valid " + meta.lsns.valid.ToString());
  }
  uint64_t index_off = 0, rel_off = 0;
  uint32_t index_crc = 0, rel_crc = 0;
  ZENITH_RETURN_IF_ERROR(WriteTables(&index_off, &rel_off, &index_crc, &rel_crc));
  ZENITH_RETURN_IF_ERROR(WriteHeader(meta, index_off, rel_off, index_crc, rel_crc));
  ZENITH_RETURN_IF_ERROR(FsyncFd(fd_.get(), temp_path_));
  std::string final_path = dir_ + "/" + LayerFileName(meta);
  // Never replaces a layer; on failure neither name is left.
  finished_ = true;
  ZENITH_RETURN_IF_ERROR(PublishFileExclusively(temp_path_, final_path));
  return final_path;
}

}  // namespace zenith::pageserver
