#include "common/datadir_scan.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>

#include "common/backup_rules.h"
#include "common/byte_io.h"
#include "common/file_util.h"
#include "common/pg_abi.h"

namespace zenith {

namespace {

// Appends the entries below `rel_dir` ("" for the root) in sorted order.
Status ScanDirectory(const std::string& root, const std::string& rel_dir, std::vector<DatadirEntry>* out) {
  const std::string abs_dir = rel_dir.empty() ? root : root + "/" + rel_dir;
  auto names = ListDirectory(abs_dir);
  if (!names.ok()) {
    if (names.status().code() == StatusCode::kNotFound && !rel_dir.empty()) return Status::Ok();  // vanished
    return names.status();
  }
  for (const auto& name : *names) {
    const std::string rel = rel_dir.empty() ? name : rel_dir + "/" + name;
    if (rel == "pg_wal") continue;
    struct stat st;
    if (::lstat((root + "/" + rel).c_str(), &st) != 0) {
      if (errno == ENOENT) continue;
      return ErrnoStatus("stat", root + "/" + rel, errno);
    }
    const bool is_dir = S_ISDIR(st.st_mode);
    if (IsExcludedFromBackup(rel, is_dir)) continue;
    DatadirEntry e;
    e.path = rel;
    e.mode = st.st_mode & 07777;
    e.mtime = st.st_mtime;
    if (is_dir) {
      e.kind = DatadirEntryKind::kDirectory;
      out->push_back(e);
      if (!IsDirectoryContentExcluded(rel)) ZENITH_RETURN_IF_ERROR(ScanDirectory(root, rel, out));
    } else if (S_ISLNK(st.st_mode)) {
      char target[PATH_MAX];
      ssize_t n = ::readlink((root + "/" + rel).c_str(), target, sizeof target);
      if (n < 0) {
        if (errno == ENOENT) continue;
        return ErrnoStatus("read link", root + "/" + rel, errno);
      }
      e.kind = DatadirEntryKind::kSymlink;
      e.link_target.assign(target, static_cast<size_t>(n));
      out->push_back(e);
    } else if (S_ISREG(st.st_mode)) {
      e.kind = DatadirEntryKind::kFile;
      e.size = static_cast<uint64_t>(st.st_size);
      e.relation = ParseRelationPath(rel);
      out->push_back(e);
    }
    // Sockets, fifos and devices have no place in a data directory.
  }
  return Status::Ok();
}

}  // namespace

Result<std::vector<DatadirEntry>> ScanDatadir(const std::string& datadir) {
  std::vector<DatadirEntry> entries;
  ZENITH_RETURN_IF_ERROR(ScanDirectory(datadir, "", &entries));
  return entries;
}

std::map<RelTag, uint32_t> RelationSizes(const std::vector<DatadirEntry>& entries) {
  std::map<RelTag, std::map<uint32_t, uint64_t>> segments;
  for (const auto& e : entries) {
    if (e.relation) segments[e.relation->tag][e.relation->segno] = e.size;
  }
  const uint32_t blcksz = kZenithPgAbi.blcksz, per_segment = kZenithPgAbi.relseg_size;
  std::map<RelTag, uint32_t> sizes;
  for (const auto& [tag, segs] : segments) {
    if (!segs.contains(0)) continue;
    uint64_t nblocks = 0;
    for (uint32_t segno = 0;; ++segno) {
      auto it = segs.find(segno);
      if (it == segs.end()) break;
      uint64_t blocks = std::min<uint64_t>(it->second / blcksz, per_segment);
      nblocks = uint64_t{segno} * per_segment + blocks;
      if (blocks < per_segment) break;
    }
    sizes[tag] = static_cast<uint32_t>(std::min<uint64_t>(nblocks, kMaxBlockNumber));
  }
  return sizes;
}

std::vector<std::pair<std::string, uint64_t>> RelationSegmentFiles(const RelTag& rel, uint32_t nblocks) {
  const uint32_t per_segment = kZenithPgAbi.relseg_size;
  std::vector<std::pair<std::string, uint64_t>> files;
  uint32_t segno = 0;
  uint32_t left = nblocks;
  do {
    uint32_t blocks = std::min(left, per_segment);
    files.emplace_back(RelationSegmentPath(rel, segno), uint64_t{blocks} * kZenithPgAbi.blcksz);
    left -= blocks;
    ++segno;
  } while (left > 0);
  return files;
}

Status WriteNonRelationFiles(const std::string& datadir, const std::vector<DatadirEntry>& entries,
                             const std::map<std::string, std::string>& overrides, TarWriter& writer) {
  for (const auto& e : entries) {
    switch (e.kind) {
      case DatadirEntryKind::kDirectory:
        ZENITH_RETURN_IF_ERROR(writer.AddDirectory(e.path, e.mode, e.mtime));
        break;
      case DatadirEntryKind::kSymlink:
        ZENITH_RETURN_IF_ERROR(writer.AddSymlink(e.path, e.link_target, e.mtime));
        break;
      case DatadirEntryKind::kFile: {
        if (e.relation) break;
        if (auto it = overrides.find(e.path); it != overrides.end()) {
          ZENITH_RETURN_IF_ERROR(writer.AddFile(e.path, e.mode, e.mtime, AsBytes(it->second)));
          break;
        }
        // Read whole: the file may change size while we read, and a tar
        // header promises one. Non-relation files are small.
        auto contents = ReadFileToString(datadir + "/" + e.path);
        if (!contents.ok()) {
          if (contents.status().code() == StatusCode::kNotFound) break;  // vanished
          return contents.status();
        }
        ZENITH_RETURN_IF_ERROR(writer.AddFile(e.path, e.mode, e.mtime, AsBytes(*contents)));
        break;
      }
    }
  }
  return Status::Ok();
}

}  // namespace zenith
