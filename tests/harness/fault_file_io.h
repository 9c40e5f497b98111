// FaultFileIo: a FileIo (common/file_io.h) for tests that injects the faults
// storage code must survive, and models what a crash before fsync loses.
//
// Faults. Rules say which call fails and how: "the 3rd write to a path
// containing 'layers/' is short", "every fsync from the 2nd on fails with
// EIO", "ENOSPC on every write" (a full disk), "the next read of a layer
// file fails with EIO". A short write writes the first half of the buffer
// and returns that count, as write(2) does when a disk fills mid-way; a
// short read reads the first half, as read(2) may; a kCrash fault kills the "process" before that call:
// it and every later call that changes something fail with EIO until
// SimulateCrash().
//
// Crash model, after LevelDB's FaultInjectionTestEnv. Every file written
// through this FileIo remembers its size at its last fsync; every entry
// created, renamed, linked or removed remembers its directory until that
// directory is fsynced. SimulateCrash() then does to the disk what a power
// cut may: it cuts each file back to its last synced size and either undoes
// the unsynced directory entries (kDropUnsyncedEntries, newest first: a
// rename goes back, a created file or directory goes, a removed or replaced
// file comes back with its synced contents) or keeps them
// (kKeepUnsyncedEntries). Both are states a real file system may leave. A
// test then reopens the repository from disk.
// Limits: a file is assumed durable when first seen (created before this
// FileIo was installed); overwrites inside the synced size are kept; a
// RemoveTree is not undone.
//
// Thread-safety: thread-safe (one mutex around everything, including the
// real system calls).
#pragma once

#include <sys/stat.h>

#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/file_io.h"

namespace zenith::testing {

// The calls rules match. kOpen counts only opens that may create or write
// (opens for reading never fault); kWrite counts pwrite and write; kFsync
// files and directories; kRead preads (PreadFull's). kAny is every one
// that creates or writes: open, write, fsync, rename, link, mkdir (not the
// removals, which are clean-up, nor reads). Reads are not counted by
// Calls() and go on after a crash (they change nothing).
enum class FileOp { kOpen, kWrite, kFsync, kRename, kLink, kUnlink, kMkdir, kRemoveTree, kRead, kAny };

enum class Fault {
  kShortWrite,  // writes only: half the buffer is written and its length returned
  kShortRead,   // reads only: half the buffer is read and its length returned
  kEio,
  kEnospc,
  kCrash,  // the process dies before this call (see the file comment)
};

struct FaultRule {
  static constexpr int kForever = -1;
  FileOp op = FileOp::kAny;
  std::string path_contains;  // "" matches every path
  int nth = 1;                // the nth matching call (counting from 1) is the first to fault
  int times = 1;              // and so many in a row, or kForever
  Fault fault = Fault::kEio;
};

class FaultFileIo : public FileIo {
 public:
  enum class CrashMode { kDropUnsyncedEntries, kKeepUnsyncedEntries };

  // Passes the calls on to `base` (the real system calls by default).
  explicit FaultFileIo(FileIo& base = PosixFileIo()) : base_(base) {}

  void AddRule(FaultRule rule);
  void ClearRules();
  // How many faults were injected, and the path the last one was for.
  int faults_injected() const;
  std::string last_fault_path() const;
  bool crashed() const;
  // The calls of kind `op` on a path containing `path_contains` so far.
  int Calls(FileOp op, std::string_view path_contains = "") const;

  // Does what a crash may to what was not synced (see the file comment),
  // then forgets every rule and all tracking: the next "process" starts
  // with the disk as it is.
  Status SimulateCrash(CrashMode mode);

  Result<UniqueFd> Open(const std::string& path, int flags, mode_t mode) override;
  Result<size_t> Pwrite(int fd, std::span<const uint8_t> buf, uint64_t offset, std::string_view path) override;
  Result<size_t> Write(int fd, std::span<const uint8_t> buf, std::string_view path) override;
  Result<size_t> Pread(int fd, std::span<uint8_t> buf, uint64_t offset, std::string_view path) override;
  Status Fsync(int fd, std::string_view path) override;
  void StartWriteback(int fd, uint64_t offset, uint64_t length) override;
  Status Rename(const std::string& from, const std::string& to) override;
  Status Link(const std::string& from, const std::string& to) override;
  Status Unlink(const std::string& path) override;
  Status Mkdir(const std::string& path, mode_t mode) override;
  Status RemoveTree(const std::string& path) override;

 private:
  using InodeKey = std::pair<dev_t, ino_t>;
  struct FileState {
    uint64_t synced_size = 0;
    std::set<std::string> paths;  // where it was seen (it may have moved since)
  };
  struct SavedFile {
    std::string contents;
    mode_t mode;
  };
  // A directory entry changed since its directory was last fsynced.
  struct EntryChange {
    enum Kind { kCreate, kMkdir, kRename, kLink, kUnlink } kind;
    std::string path, from;  // from: a rename's source
    InodeKey dir;
    std::optional<SavedFile> saved;  // what a rename replaced or an unlink removed
  };
  struct ActiveRule {
    FaultRule rule;
    int seen = 0;
  };

  // REQUIRES: mu_ held (all below).
  // The fault to inject into this call, if any; counts it.
  std::optional<Fault> Check(FileOp op, std::string_view path, std::string_view path2 = "");
  // The fault the rules give this call, if any (counts the rules' matches).
  std::optional<Fault> Match(FileOp op, std::string_view path, std::string_view path2);
  // An error for a faulted call, or nullopt to go ahead (a short write
  // goes ahead, shortened).
  std::optional<Status> FailureFor(std::optional<Fault> fault, const char* what, std::string_view path);
  FileState& Track(int fd, const std::string& path, bool fresh);
  std::optional<SavedFile> Save(const std::string& path);
  void Record(EntryChange::Kind kind, const std::string& path, const std::string& from = "",
              std::optional<SavedFile> saved = std::nullopt);
  Status TruncateUnsynced();
  Status UndoEntries();
  Result<size_t> DoWrite(int fd, std::span<const uint8_t> buf, std::optional<uint64_t> offset, std::string_view path);

  FileIo& base_;
  mutable std::mutex mu_;
  std::vector<ActiveRule> rules_;
  std::vector<std::pair<FileOp, std::string>> calls_;
  int faults_ = 0;
  std::string last_fault_path_;
  bool crashed_ = false;
  std::map<InodeKey, FileState> files_;
  std::vector<EntryChange> entries_;  // oldest first
};

}  // namespace zenith::testing
