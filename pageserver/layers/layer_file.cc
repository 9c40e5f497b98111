#include "pageserver/layers/layer_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstring>
#include <tuple>

#include "common/byte_io.h"
#include "common/crc32c.h"
#include "common/file_util.h"
#include "pageserver/layers/layer_format.h"
#include "pageserver/layers/remote_pages.h"

namespace zenith::pageserver {

namespace lf = layer_format;

namespace {

using RelKey = std::tuple<uint32_t, uint32_t, uint32_t, uint8_t>;

// The files, index and relation sections of a remote layer are read into
// memory; a 32 GiB layer's index is about 110 MiB.
constexpr uint64_t kMaxRemoteTail = uint64_t{256} << 20;

RelKey KeyOf(const RelTag& r) { return {r.spc, r.db, r.rel, static_cast<uint8_t>(r.fork)}; }

RelKey LoadRelKey(std::span<const uint8_t> entry) {
  return {LoadU32(entry, 0), LoadU32(entry, 4), LoadU32(entry, 8), LoadU8(entry, 12)};
}

}  // namespace

LayerMeta::LayerMeta(const SnapshotLsns& l) : lsns(l), start(Lsn(0)), created_at(std::time(nullptr)) {}

LayerFile::~LayerFile() {
  if (map_ != nullptr) munmap(const_cast<uint8_t*>(map_), map_size_);
}

Result<std::shared_ptr<LayerFile>> LayerFile::Open(const std::string& path, Fd keep) {
  ZENITH_ASSIGN_OR_RETURN(UniqueFd fd, OpenFile(path, O_RDONLY));
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return ErrnoStatus("stat", path, errno);
  if (st.st_size < static_cast<off_t>(lf::kHeaderSize)) {
    return Corruption("layer file \"" + path + "\" is truncated (" + std::to_string(st.st_size) + " bytes)");
  }
  void* map = mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_SHARED, fd.get(), 0);
  if (map == MAP_FAILED) return ErrnoStatus("map", path, errno);
  std::shared_ptr<LayerFile> layer(new LayerFile());
  layer->path_ = path;
  layer->display_ = "layer file \"" + path + "\"";
  if (keep == Fd::kKeep) layer->fd_ = std::move(fd);
  layer->map_ = static_cast<const uint8_t*>(map);
  layer->map_size_ = layer->size_ = static_cast<size_t>(st.st_size);
  std::span<const uint8_t> file(layer->map_, layer->map_size_);
  ZENITH_RETURN_IF_ERROR(layer->ValidateHeader(file.first(lf::kHeaderSize), st.st_mtime));
  ZENITH_RETURN_IF_ERROR(layer->ValidateSections(file.first(lf::kHeaderSize), file, 0));
  layer->Touch();
  return layer;
}

Result<std::shared_ptr<LayerFile>> LayerFile::OpenRemote(const std::string& path, uint64_t size,
                                                         std::shared_ptr<LayerRangeReader> reader) {
  std::shared_ptr<LayerFile> layer(new LayerFile());
  layer->path_ = path;
  layer->display_ = "layer " + reader->name();
  layer->size_ = size;
  if (size < lf::kHeaderSize) return layer->Corrupt("it is truncated (" + std::to_string(size) + " bytes)");
  layer->remote_header_.resize(lf::kHeaderSize);
  ZENITH_RETURN_IF_ERROR(reader->ReadAt(0, layer->remote_header_));
  // A version 1 header's time is its file's mtime, which an object lacks:
  // the bucket holds version 2 layers only.
  ZENITH_RETURN_IF_ERROR(layer->ValidateHeader(layer->remote_header_, -1));
  if (layer->version_ == lf::kVersion1) return layer->Corrupt("a version 1 layer cannot be read remotely");
  // Everything after the pages, in one read.
  std::span<const uint8_t> header(layer->remote_header_);
  const uint64_t files_off = LoadU64(header, lf::kOffFilesOffset);
  if (files_off < lf::kHeaderSize || files_off > size) return layer->Corrupt("section bounds outside the file");
  // They are held in memory: a header (or an index) that claims more than
  // any real layer's is refused before anything is allocated.
  if (size - files_off > kMaxRemoteTail) {
    return layer->Corrupt("its sections after the pages claim " + std::to_string(size - files_off) + " bytes");
  }
  layer->remote_tail_.resize(size - files_off);
  if (!layer->remote_tail_.empty()) ZENITH_RETURN_IF_ERROR(reader->ReadAt(files_off, layer->remote_tail_));
  ZENITH_RETURN_IF_ERROR(layer->ValidateSections(header, layer->remote_tail_, files_off));
  layer->remote_ = std::make_unique<RemotePages>(std::move(reader), lf::kHeaderSize,
                                                 lf::kHeaderSize + layer->page_count_ * lf::kPageSize);
  layer->Touch();
  return layer;
}

void LayerFile::Touch() const {
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now().time_since_epoch()).count();
  // Stored at most once a millisecond: readers on many threads do not
  // contend for the line.
  if (last_read_.load(std::memory_order_relaxed) != now) last_read_.store(now, std::memory_order_relaxed);
}

uint64_t LayerFile::remote_bytes_read() const { return remote_ ? remote_->bytes_fetched() : 0; }

Status LayerFile::Corrupt(const std::string& what) const { return Corruption(display_ + " is corrupt: " + what); }

Status LayerFile::ValidateHeader(std::span<const uint8_t> file, int64_t mtime) {
  auto corrupt = [&](const std::string& what) { return Corrupt(what); };
  if (std::memcmp(file.data(), lf::kMagic, sizeof lf::kMagic) != 0) return corrupt("bad magic");
  version_ = LoadU32(file, lf::kOffVersion);
  if (version_ != lf::kVersion1 && version_ != lf::kVersion) {
    // The CRC's place depends on the version: check both before blaming it.
    bool crc_ok = LoadU32(file, lf::kOffHeaderCrc) == ComputeCrc32c(file.data(), lf::kOffHeaderCrc) ||
                  LoadU32(file, lf::kOffHeaderCrcV1) == ComputeCrc32c(file.data(), lf::kOffHeaderCrcV1);
    return corrupt(crc_ok ? "unsupported format version " + std::to_string(version_) : "header CRC mismatch");
  }
  const uint32_t crc_off = version_ == lf::kVersion1 ? lf::kOffHeaderCrcV1 : lf::kOffHeaderCrc;
  if (LoadU32(file, crc_off) != ComputeCrc32c(file.data(), crc_off)) return corrupt("header CRC mismatch");
  std::memcpy(timeline_id_.bytes.data(), file.data() + lf::kOffTimelineId, 16);
  meta_.lsns = {Lsn(LoadU64(file, lf::kOffRedo)), Lsn(LoadU64(file, lf::kOffCheckpoint)), Lsn(LoadU64(file, lf::kOffValid))};
  if (version_ == lf::kVersion1) {
    meta_.created_at = mtime;
    return Status::Ok();
  }
  meta_.start = Lsn(LoadU64(file, lf::kOffStart));
  meta_.created_at = static_cast<int64_t>(LoadU64(file, lf::kOffCreatedAt));
  const uint32_t flags = LoadU32(file, lf::kOffFlags);
  if ((flags & ~lf::kFlagImage) != 0) return corrupt("unknown flags " + std::to_string(flags));
  meta_.image = (flags & lf::kFlagImage) != 0;
  if (meta_.start > meta_.lsns.valid) return corrupt("start " + meta_.start.ToString() + " is past valid");
  return Status::Ok();
}

Status LayerFile::ValidateSections(std::span<const uint8_t> header, std::span<const uint8_t> tail,
                                   uint64_t tail_offset) {
  auto corrupt = [&](const std::string& what) { return Corrupt(what); };
  page_count_ = LoadU64(header, lf::kOffPageCount);
  rel_count_ = LoadU64(header, lf::kOffRelCount);
  uint64_t files_off = LoadU64(header, lf::kOffFilesOffset), files_size = LoadU64(header, lf::kOffFilesSize);
  uint64_t index_off = LoadU64(header, lf::kOffIndexOffset), rel_off = LoadU64(header, lf::kOffRelOffset);
  // Every section must lie inside the file, in order. Counts are bounded by
  // the file size before any multiplication, and each offset before it is
  // subtracted from the size, so nothing can overflow.
  const uint64_t size = size_;
  auto inside = [size](uint64_t off, uint64_t len) { return off <= size && len <= size - off; };
  if (page_count_ > size / lf::kPageSize || rel_count_ > size / lf::kRelEntrySize) return corrupt("absurd counts");
  uint64_t pages_end = lf::kHeaderSize + page_count_ * lf::kPageSize;
  uint64_t index_size = page_count_ * lf::kIndexEntrySize, rel_size = rel_count_ * lf::kRelEntrySize;
  if (pages_end > size || files_off < pages_end || !inside(files_off, files_size) ||
      index_off < files_off + files_size || !inside(index_off, index_size) || rel_off < index_off + index_size ||
      !inside(rel_off, rel_size) || files_off < tail_offset) {
    return corrupt("section bounds outside the file");
  }
  // `tail` holds the file from tail_offset on (the whole file when local).
  auto section = [&](uint64_t off, uint64_t len) { return tail.subspan(off - tail_offset, len); };
  if (tail_offset == 0) pages_ = section(lf::kHeaderSize, pages_end - lf::kHeaderSize);
  files_ = section(files_off, files_size);
  index_ = section(index_off, index_size);
  rels_ = section(rel_off, rel_size);
  if (ComputeCrc32c(files_) != LoadU32(header, lf::kOffFilesCrc)) return corrupt("files section CRC mismatch");
  if (ComputeCrc32c(index_) != LoadU32(header, lf::kOffIndexCrc)) return corrupt("index CRC mismatch");
  if (ComputeCrc32c(rels_) != LoadU32(header, lf::kOffRelCrc)) return corrupt("relation table CRC mismatch");
  // Lookups are binary searches: the tables must be sorted, without
  // duplicates, and name only forks PostgreSQL has.
  for (uint64_t i = 0; i < page_count_; ++i) {
    auto e = index_.subspan(i * lf::kIndexEntrySize, lf::kIndexEntrySize);
    if (LoadU32(e, 20) >= page_count_) return corrupt("index points past the pages");
    if (LoadU8(e, 12) > static_cast<uint8_t>(ForkNumber::kInit)) return corrupt("index names an unknown fork");
    if (i > 0) {
      auto prev = index_.subspan((i - 1) * lf::kIndexEntrySize, lf::kIndexEntrySize);
      if (std::make_tuple(LoadRelKey(prev), LoadU32(prev, 16)) >= std::make_tuple(LoadRelKey(e), LoadU32(e, 16))) {
        return corrupt("index is not sorted");
      }
    }
  }
  for (uint64_t i = 0; i < rel_count_; ++i) {
    auto e = rels_.subspan(i * lf::kRelEntrySize, lf::kRelEntrySize);
    if (LoadU8(e, 12) > static_cast<uint8_t>(ForkNumber::kInit)) return corrupt("relation table names an unknown fork");
    if (i > 0 && LoadRelKey(rels_.subspan((i - 1) * lf::kRelEntrySize, lf::kRelEntrySize)) >= LoadRelKey(e)) {
      return corrupt("relation table is not sorted");
    }
    if (LoadU32(e, 20) > LoadU32(e, 16)) return corrupt("a relation's floor is past its end");
  }
  complete_ = true;
  for (uint64_t i = 0; i < rel_count_ && complete_; ++i) complete_ = RelInfoAt(i).floor == 0;
  if (meta_.image && !complete_) return corrupt("an image layer with a relation floor above 0");
  return Status::Ok();
}

uint64_t LayerFile::LowerBound(const RelTag& rel, uint32_t block) const {
  const auto key = std::make_tuple(KeyOf(rel), block);
  uint64_t lo = 0, hi = page_count_;
  while (lo < hi) {  // first entry whose key >= key
    uint64_t mid = lo + (hi - lo) / 2;
    auto entry = index_.subspan(mid * lf::kIndexEntrySize, lf::kIndexEntrySize);
    if (std::make_tuple(LoadRelKey(entry), LoadU32(entry, 16)) < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

std::pair<uint64_t, uint64_t> LayerFile::PageRange(const RelTag& rel) const {
  const RelKey key = KeyOf(rel);
  uint64_t lo = LowerBound(rel, 0), hi = page_count_;
  const uint64_t first = lo;
  while (lo < hi) {  // first entry of a later relation
    uint64_t mid = lo + (hi - lo) / 2;
    if (LoadRelKey(index_.subspan(mid * lf::kIndexEntrySize, lf::kIndexEntrySize)) <= key) lo = mid + 1;
    else hi = mid;
  }
  return {first, lo};
}

uint32_t LayerFile::BlockAt(uint64_t index) const { return LoadU32(index_, index * lf::kIndexEntrySize + 16); }

uint64_t LayerFile::PageOffset(uint64_t index) const {
  return lf::kHeaderSize + uint64_t{LoadU32(index_, index * lf::kIndexEntrySize + 20)} * lf::kPageSize;
}

Status LayerFile::CheckPage(uint64_t index, std::span<const uint8_t> page) const {
  auto entry = index_.subspan(index * lf::kIndexEntrySize, lf::kIndexEntrySize);
  if (ComputeCrc32c(page) == LoadU32(entry, 24)) return Status::Ok();
  RelTag rel{LoadU32(entry, 0), LoadU32(entry, 4), LoadU32(entry, 8), static_cast<ForkNumber>(LoadU8(entry, 12))};
  return Corrupt("bad CRC of block " + std::to_string(BlockAt(index)) + " of relation " + rel.ToString());
}

Result<std::span<const uint8_t>> LayerFile::PageAt(uint64_t index, std::span<uint8_t> scratch) const {
  std::span<const uint8_t> page;
  if (remote_ == nullptr) {
    page = pages_.subspan(PageOffset(index) - lf::kHeaderSize, lf::kPageSize);
  } else {
    if (scratch.size() < lf::kPageSize) return Internal("a page of " + display_ + " was read without a buffer");
    scratch = scratch.first(lf::kPageSize);
    ZENITH_RETURN_IF_ERROR(remote_->Read(PageOffset(index), scratch));
    page = scratch;
  }
  ZENITH_RETURN_IF_ERROR(CheckPage(index, page));
  Touch();
  return page;
}

std::optional<uint64_t> LayerFile::IndexOf(const RelTag& rel, uint32_t block) const {
  const uint64_t i = LowerBound(rel, block);
  if (i == page_count_) return std::nullopt;
  auto entry = index_.subspan(i * lf::kIndexEntrySize, lf::kIndexEntrySize);
  if (LoadRelKey(entry) != KeyOf(rel) || LoadU32(entry, 16) != block) return std::nullopt;
  return i;
}

Result<std::optional<std::span<const uint8_t>>> LayerFile::FindPage(const RelTag& rel, uint32_t block,
                                                                     std::span<uint8_t> scratch) const {
  const std::optional<uint64_t> i = IndexOf(rel, block);
  if (!i) return std::optional<std::span<const uint8_t>>();
  ZENITH_ASSIGN_OR_RETURN(auto page, PageAt(*i, scratch));
  return std::optional<std::span<const uint8_t>>(page);
}

std::optional<RelationInfo> LayerFile::FindRelation(const RelTag& rel) const {
  const RelKey key = KeyOf(rel);
  uint64_t lo = 0, hi = rel_count_;
  while (lo < hi) {
    uint64_t mid = lo + (hi - lo) / 2;
    if (LoadRelKey(rels_.subspan(mid * lf::kRelEntrySize, lf::kRelEntrySize)) < key) lo = mid + 1;
    else hi = mid;
  }
  if (lo == rel_count_ || LoadRelKey(rels_.subspan(lo * lf::kRelEntrySize, lf::kRelEntrySize)) != key) {
    return std::nullopt;
  }
  return RelInfoAt(lo);
}

RelTag LayerFile::RelAt(uint64_t i) const {
  ByteReader r(rels_.subspan(i * lf::kRelEntrySize, lf::kRelEntrySize));
  return ReadRelTag(r).value_or(RelTag{});  // forks were checked at Open
}

RelationInfo LayerFile::RelInfoAt(uint64_t i) const {
  auto e = rels_.subspan(i * lf::kRelEntrySize, lf::kRelEntrySize);
  return RelationInfo{LoadU32(e, 16), LoadU32(e, 20)};
}

}  // namespace zenith::pageserver
