// Prewarming: a fresh mount at full speed sooner. A mount records which
// blocks its PostgreSQL read or wrote (Segment::NoteUsed), saves that hot
// list next to its scratch every minute and at unmount, and the next mount
// of the branch reads those blocks through its own mount point, a megabyte
// at a time and in file order, while PostgreSQL runs there: the pages reach
// the kernel's page cache through the ordinary read path (so what they hold
// is exactly what a read by PostgreSQL would get), many at once and before
// PostgreSQL asks for them.
//
// Only while PostgreSQL runs on the mount (its postmaster.pid is in the
// scratch): `zenith umount` is refused then, so prewarming never holds a
// file open when the mount is taken down; it stops within one chunk of
// PostgreSQL stopping. The page cache bounds the memory, as for any file.
//
// Thread-safety: the functions are reentrant; Prewarmer runs a thread of
// its own.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/relation_path.h"
#include "common/status.h"

namespace zenith::fs {

// A run of blocks of one relation segment file (a datadir-relative path).
struct HotRun {
  std::string path;
  uint32_t first = 0, count = 0;
  bool operator==(const HotRun&) const = default;
};

// One line per run: "<path> <first block> <count>".
std::string FormatHotList(const std::map<RelSegment, std::vector<uint32_t>>& used);
// Lines not of that form are skipped: the list is a hint.
std::vector<HotRun> ParseHotList(std::string_view text);
// The runs of files a mount has (`sizes`: path -> bytes), cut to their
// sizes, in file order.
std::vector<HotRun> RunsWithin(const std::vector<HotRun>& runs, const std::map<std::string, uint64_t>& sizes);

// Writes the list to `path` through a temp file and a rename; not synced.
Status SaveHotList(const std::string& path, const std::map<RelSegment, std::vector<uint32_t>>& used);

// Saves the mount's hot list to `path` every minute and once more when
// destroyed (a mount killed with kill -9 leaves the last minute's).
class HotListKeeper {
 public:
  using UsedBlocks = std::function<std::map<RelSegment, std::vector<uint32_t>>()>;
  HotListKeeper(std::string path, UsedBlocks used);
  ~HotListKeeper();
  HotListKeeper(const HotListKeeper&) = delete;
  HotListKeeper& operator=(const HotListKeeper&) = delete;

 private:
  void Save();
  const std::string path_;
  const UsedBlocks used_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;  // guarded by mu_
  std::thread thread_;
};

class Prewarmer {
 public:
  Prewarmer(std::string mountpoint, std::string scratch_dir, std::vector<HotRun> runs);
  ~Prewarmer();  // stops it
  Prewarmer(const Prewarmer&) = delete;
  Prewarmer& operator=(const Prewarmer&) = delete;

 private:
  void Run();
  const std::string mountpoint_, scratch_dir_;
  const std::vector<HotRun> runs_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace zenith::fs
