#include "pageserver/layer_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <tuple>

#include "common/byte_io.h"
#include "common/crc32c.h"
#include "common/file_util.h"
#include "pageserver/layer_format.h"

namespace zenith::pageserver {

namespace lf = layer_format;

namespace {

using RelKey = std::tuple<uint32_t, uint32_t, uint32_t, uint8_t>;

RelKey KeyOf(const RelTag& r) { return {r.spc, r.db, r.rel, static_cast<uint8_t>(r.fork)}; }

RelKey LoadRelKey(std::span<const uint8_t> entry) {
  return {LoadU32(entry, 0), LoadU32(entry, 4), LoadU32(entry, 8), LoadU8(entry, 12)};
}

}  // namespace

LayerFile::~LayerFile() {
  if (map_ != nullptr) munmap(const_cast<uint8_t*>(map_), map_size_);
}

Result<std::shared_ptr<const LayerFile>> LayerFile::Open(const std::string& path) {
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
  layer->map_ = static_cast<const uint8_t*>(map);
  layer->map_size_ = static_cast<size_t>(st.st_size);
  Status s = layer->Validate();
  if (!s.ok()) return s;
  return std::shared_ptr<const LayerFile>(std::move(layer));
}

Status LayerFile::Validate() {
  std::span<const uint8_t> file(map_, map_size_);
  auto corrupt = [&](const std::string& what) { return Corruption("layer file \"" + path_ + "\" is corrupt: " + what); };
  if (std::memcmp(file.data(), lf::kMagic, sizeof lf::kMagic) != 0) return corrupt("bad magic");
  if (LoadU32(file, lf::kOffHeaderCrc) != ComputeCrc32c(file.data(), lf::kOffHeaderCrc)) return corrupt("header CRC mismatch");
  if (LoadU32(file, lf::kOffVersion) != lf::kVersion) {
    return corrupt("unsupported format version " + std::to_string(LoadU32(file, lf::kOffVersion)));
  }
  std::memcpy(timeline_id_.bytes.data(), file.data() + lf::kOffTimelineId, 16);
  lsns_ = {Lsn(LoadU64(file, lf::kOffRedo)), Lsn(LoadU64(file, lf::kOffCheckpoint)), Lsn(LoadU64(file, lf::kOffValid))};
  page_count_ = LoadU64(file, lf::kOffPageCount);
  rel_count_ = LoadU64(file, lf::kOffRelCount);
  uint64_t files_off = LoadU64(file, lf::kOffFilesOffset), files_size = LoadU64(file, lf::kOffFilesSize);
  uint64_t index_off = LoadU64(file, lf::kOffIndexOffset), rel_off = LoadU64(file, lf::kOffRelOffset);
  // Every section must lie inside the file, in order. Counts are bounded by
  // the file size before any multiplication, and each offset before it is
  // subtracted from the size, so nothing can overflow.
  const uint64_t size = map_size_;
  auto inside = [size](uint64_t off, uint64_t len) { return off <= size && len <= size - off; };
  if (page_count_ > size / lf::kPageSize || rel_count_ > size / lf::kRelEntrySize) return corrupt("absurd counts");
  uint64_t pages_end = lf::kHeaderSize + page_count_ * lf::kPageSize;
  uint64_t index_size = page_count_ * lf::kIndexEntrySize, rel_size = rel_count_ * lf::kRelEntrySize;
  if (pages_end > size || files_off < pages_end || !inside(files_off, files_size) ||
      index_off < files_off + files_size || !inside(index_off, index_size) || rel_off < index_off + index_size ||
      !inside(rel_off, rel_size)) {
    return corrupt("section bounds outside the file");
  }
  pages_ = file.subspan(lf::kHeaderSize, pages_end - lf::kHeaderSize);
  files_ = file.subspan(files_off, files_size);
  index_ = file.subspan(index_off, index_size);
  rels_ = file.subspan(rel_off, rel_size);
  if (ComputeCrc32c(files_) != LoadU32(file, lf::kOffFilesCrc)) return corrupt("files section CRC mismatch");
  if (ComputeCrc32c(index_) != LoadU32(file, lf::kOffIndexCrc)) return corrupt("index CRC mismatch");
  if (ComputeCrc32c(rels_) != LoadU32(file, lf::kOffRelCrc)) return corrupt("relation table CRC mismatch");
  for (uint64_t i = 0; i < page_count_; ++i) {
    if (LoadU32(index_, i * lf::kIndexEntrySize + 20) >= page_count_) return corrupt("index points past the pages");
  }
  return Status::Ok();
}

Result<std::optional<std::span<const uint8_t>>> LayerFile::FindPage(const RelTag& rel, uint32_t block) const {
  const auto key = std::make_tuple(KeyOf(rel), block);
  uint64_t lo = 0, hi = page_count_;
  while (lo < hi) {  // first entry whose key >= key
    uint64_t mid = lo + (hi - lo) / 2;
    auto entry = index_.subspan(mid * lf::kIndexEntrySize, lf::kIndexEntrySize);
    if (std::make_tuple(LoadRelKey(entry), LoadU32(entry, 16)) < key) lo = mid + 1;
    else hi = mid;
  }
  if (lo == page_count_) return std::optional<std::span<const uint8_t>>();
  auto entry = index_.subspan(lo * lf::kIndexEntrySize, lf::kIndexEntrySize);
  if (std::make_tuple(LoadRelKey(entry), LoadU32(entry, 16)) != key) return std::optional<std::span<const uint8_t>>();
  auto page = pages_.subspan(uint64_t{LoadU32(entry, 20)} * lf::kPageSize, lf::kPageSize);
  if (ComputeCrc32c(page) != LoadU32(entry, 24)) {
    return Corruption("layer file \"" + path_ + "\" is corrupt: bad CRC of block " + std::to_string(block) +
                      " of relation " + rel.ToString());
  }
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
  auto e = rels_.subspan(i * lf::kRelEntrySize, lf::kRelEntrySize);
  return RelTag{LoadU32(e, 0), LoadU32(e, 4), LoadU32(e, 8), static_cast<ForkNumber>(LoadU8(e, 12))};
}

RelationInfo LayerFile::RelInfoAt(uint64_t i) const {
  auto e = rels_.subspan(i * lf::kRelEntrySize, lf::kRelEntrySize);
  return RelationInfo{LoadU32(e, 16), LoadU32(e, 20)};
}

}  // namespace zenith::pageserver
