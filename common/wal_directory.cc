#include "common/wal_directory.h"

#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <mutex>
#include <vector>

#include "common/file_util.h"
#include "common/unique_fd.h"

namespace zenith {

namespace {

// FindEndOfWal walks segments in order; a handful of open files is plenty.
constexpr size_t kMaxOpenSegments = 4;

struct OpenSegment {
  UniqueFd fd;
  std::string path;
};

// The open segment files of one directory, least recently used evicted.
// Entries are shared_ptrs so that a reader holding one keeps its fd open
// even if another thread evicts it meanwhile.
class SegmentFiles {
 public:
  SegmentFiles(std::string dir, TimeLineId tli) : dir_(std::move(dir)), tli_(tli) {}

  // Segment `segno`, or nullptr if its file does not exist (not cached: it
  // may appear later).
  Result<std::shared_ptr<const OpenSegment>> Get(uint64_t segno) {
    if (auto cached = Lookup(segno)) return cached;
    auto segment = std::make_shared<OpenSegment>();
    segment->path = dir_ + "/" + WalSegmentFileName(tli_, segno);
    Result<UniqueFd> fd = OpenFile(segment->path, O_RDONLY | O_CLOEXEC);
    if (!fd.ok()) {
      if (fd.status().sys_errno() == ENOENT) return std::shared_ptr<const OpenSegment>();
      return fd.status();
    }
    segment->fd = std::move(fd).value();
    return Insert(segno, std::move(segment));
  }

 private:
  struct Entry {
    uint64_t segno;
    std::shared_ptr<const OpenSegment> segment;
    uint64_t last_use;
  };

  std::shared_ptr<const OpenSegment> Lookup(uint64_t segno) {
    std::lock_guard<std::mutex> lock(mu_);
    for (Entry& e : entries_) {
      if (e.segno == segno) {
        e.last_use = ++clock_;
        return e.segment;
      }
    }
    return nullptr;
  }

  // Adds a freshly opened segment, unless another thread got there first.
  std::shared_ptr<const OpenSegment> Insert(uint64_t segno, std::shared_ptr<const OpenSegment> segment) {
    std::lock_guard<std::mutex> lock(mu_);
    for (Entry& e : entries_) {
      if (e.segno == segno) return e.segment;
    }
    if (entries_.size() >= kMaxOpenSegments) {
      auto oldest = std::min_element(entries_.begin(), entries_.end(),
                                     [](const Entry& a, const Entry& b) { return a.last_use < b.last_use; });
      entries_.erase(oldest);
    }
    entries_.push_back(Entry{segno, segment, ++clock_});
    return segment;
  }

  const std::string dir_;
  const TimeLineId tli_;
  std::mutex mu_;                // guards entries_ and clock_
  std::vector<Entry> entries_;
  uint64_t clock_ = 0;
};

Result<size_t> ReadWal(SegmentFiles& files, Lsn pos, std::span<uint8_t> buf) {
  size_t done = 0;
  while (done < buf.size()) {
    const Lsn at = pos + done;
    const size_t n = std::min<size_t>(buf.size() - done, kWalSegmentSize - at.segment_offset());
    ZENITH_ASSIGN_OR_RETURN(std::shared_ptr<const OpenSegment> segment, files.Get(at.segment_number()));
    if (segment == nullptr) break;
    ZENITH_ASSIGN_OR_RETURN(size_t got,
                            PreadFull(segment->fd.get(), buf.subspan(done, n), at.segment_offset(), segment->path));
    done += got;
    if (got < n) break;  // a short file: the WAL that exists ends here
  }
  return done;
}

Result<uint64_t> OldestSegment(const std::string& dir, TimeLineId tli) {
  ZENITH_ASSIGN_OR_RETURN(std::vector<std::string> names, ListDirectory(dir));
  std::optional<uint64_t> oldest;
  for (const std::string& name : names) {
    std::optional<WalSegmentName> seg = ParseWalSegmentFileName(name);
    if (seg && seg->tli == tli && (!oldest || seg->segno < *oldest)) oldest = seg->segno;
  }
  if (!oldest) return NotFound("no WAL segment of timeline " + std::to_string(tli) + " in \"" + dir + "\"");
  return *oldest;
}

}  // namespace

WalReadFn MakeWalDirectoryReader(std::string dir, TimeLineId tli) {
  auto files = std::make_shared<SegmentFiles>(std::move(dir), tli);
  return [files](Lsn pos, std::span<uint8_t> buf) { return ReadWal(*files, pos, buf); };
}

Result<Lsn> FindEndOfWalInDirectory(const std::string& dir, TimeLineId tli, uint64_t system_id, Lsn start) {
  WalReadFn read = MakeWalDirectoryReader(dir, tli);
  if (!start.valid()) {
    ZENITH_ASSIGN_OR_RETURN(uint64_t oldest, OldestSegment(dir, tli));
    std::string why;
    ZENITH_ASSIGN_OR_RETURN(std::optional<Lsn> first, FindFirstRecordInSegment(read, oldest, system_id, &why));
    if (!first) {
      return Corruption("WAL segment \"" + dir + "/" + WalSegmentFileName(tli, oldest) +
                        "\" does not begin with a valid page: " + why);
    }
    start = *first;
  }
  return FindEndOfWal(read, start, system_id);
}

}  // namespace zenith
