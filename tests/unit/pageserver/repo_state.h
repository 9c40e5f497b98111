// RepoState: what a repository holds on disk, for tests that check that an
// operation which failed (or crashed) changed nothing. Every file,
// directory and symlink under the repository's root, by relative path,
// with a file's size and CRC-32C; only the runtime files of a running page
// server (its socket, lock, pid and log) are left out. Temp files are
// listed like any other file: one left behind is a difference.
//
// A RepoStateReader caches each file's digest by (inode, size, ctime),
// which every write, truncation or rename of the file changes, so reading
// a repository of many megabytes after each of many faults stays cheap.
//
// Header-only (tests/CMakeLists.txt builds only *_test.cc files).
// Thread-safety: one owner per reader; the free functions are reentrant.
#pragma once

#include <sys/stat.h>

#include <filesystem>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "common/crc32c.h"
#include "common/file_util.h"
#include "common/status.h"

namespace zenith::pageserver::testing {

// Relative path -> "dir", "file <size> <crc32c>" or "link <target>".
using RepoState = std::map<std::string, std::string>;

class RepoStateReader {
 public:
  explicit RepoStateReader(std::string root) : root_(std::move(root)) {}

  Result<RepoState> Read() {
    RepoState out;
    std::error_code ec;
    for (auto it = std::filesystem::recursive_directory_iterator(root_, ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
      const std::string path = it->path().string();
      const std::string rel = path.substr(root_.size() + 1);
      if (IsRuntimeFile(rel)) continue;
      struct stat st;
      if (::lstat(path.c_str(), &st) != 0) return ErrnoStatus("stat", path, errno);
      if (S_ISDIR(st.st_mode)) {
        out[rel] = "dir";
      } else if (S_ISLNK(st.st_mode)) {
        out[rel] = "link " + std::filesystem::read_symlink(path, ec).string();
      } else if (S_ISREG(st.st_mode)) {
        ZENITH_ASSIGN_OR_RETURN(out[rel], FileDigest(path, st));
      } else {
        out[rel] = "other";
      }
    }
    if (ec) return IoError("could not list \"" + root_ + "\": " + ec.message());
    return out;
  }

 private:
  // Files a running page server keeps in the root; none is repository data.
  static bool IsRuntimeFile(const std::string& rel) {
    return rel.starts_with(".s.PGSQL.") || rel == "pageserver.lock" || rel == "pageserver.pid" ||
           rel == "pageserver.log";
  }

  Result<std::string> FileDigest(const std::string& path, const struct stat& st) {
    const auto key = std::make_tuple(st.st_ino, st.st_size, st.st_ctim.tv_sec, st.st_ctim.tv_nsec);
    if (auto it = cache_.find(path); it != cache_.end() && it->second.first == key) return it->second.second;
    ZENITH_ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(path));
    std::string digest = "file " + std::to_string(bytes.size()) + " " + std::to_string(ComputeCrc32c(bytes.data(), bytes.size()));
    cache_[path] = {key, digest};
    return digest;
  }

  using Key = std::tuple<ino_t, off_t, time_t, long>;
  std::string root_;
  std::map<std::string, std::pair<Key, std::string>> cache_;
};

// How `now` differs from `before`, one line per path ("added: p",
// "missing: p", "changed: p (was ..., now ...)"); empty when equal.
inline std::vector<std::string> DiffRepoStates(const RepoState& before, const RepoState& now) {
  std::vector<std::string> out;
  for (const auto& [path, was] : before) {
    auto it = now.find(path);
    if (it == now.end()) {
      out.push_back("missing: " + path);
    } else if (it->second != was) {
      out.push_back("changed: " + path + " (was " + was + ", now " + it->second + ")");
    }
  }
  for (const auto& [path, is] : now) {
    if (!before.count(path)) out.push_back("added: " + path);
  }
  return out;
}

// The paths of `now` that `before` lacks.
inline std::vector<std::string> AddedPaths(const RepoState& before, const RepoState& now) {
  std::vector<std::string> out;
  for (const auto& [path, is] : now) {
    if (!before.count(path)) out.push_back(path);
  }
  return out;
}

// Whether every path of `before` is in `now`, unchanged.
inline bool KeepsEverything(const RepoState& before, const RepoState& now) {
  for (const auto& [path, was] : before) {
    auto it = now.find(path);
    if (it == now.end() || it->second != was) return false;
  }
  return true;
}

}  // namespace zenith::pageserver::testing
