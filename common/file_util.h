// File helpers with errors as values, and the crash-safe write used for every
// file zenith creates in a repository.
//
// Durability protocol (WriteFileDurably): write "<dir>/.<name>.tmp.<pid>", fsync it,
// rename over <path>, fsync the parent directory. A crash at any point leaves
// either the old file or the new one, never a torn one; a stale temp file is
// harmless, ignored by readers and removed by RemoveStaleTempFiles.
// A failed call (a short write, EIO, ENOSPC, a failed fsync) changes
// nothing: it returns an error naming the file and leaves no temp file; if
// the directory could not be made durable after the rename, the old file
// (kept under a second temp name until then) goes back, or the new name
// goes. "Nothing" as far as the file system lets us: a directory fsync that
// failed once may have written part of what it was asked to.
//
// Every call that changes a file or a directory goes through the current
// FileIo (common/file_io.h), where tests inject faults; reads do not.
//
// Thread-safety: all functions are reentrant; concurrent writers of one path
// must be serialised by the caller.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "common/unique_fd.h"

namespace zenith {

// open(2); on failure the Status names the path. Through the FileIo when
// `flags` may create or write.
Result<UniqueFd> OpenFile(const std::string& path, int flags, mode_t mode = 0600);

// Reads a whole regular file.
Result<std::string> ReadFileToString(const std::string& path);

// pread/pwrite until done (or EOF for reads); return bytes transferred.
// Writes resume after a short write; a write that makes no progress is an
// error. `path` names the file in errors (and for fault injection).
Result<size_t> PreadFull(int fd, std::span<uint8_t> buf, uint64_t offset, std::string_view path_for_errors);
Status PwriteFull(int fd, std::span<const uint8_t> buf, uint64_t offset, std::string_view path);
Status WriteFull(int fd, std::span<const uint8_t> buf, std::string_view path);

// Crash-safe replacement of `path` with `contents` (see the file comment).
Status WriteFileDurably(const std::string& path, std::string_view contents, mode_t mode = 0600);

// Creates `path` only if it does not exist yet, crash-safely: the data is
// durable before the name appears. kAlreadyExists if the name is taken.
Status CreateFileDurablyExclusive(const std::string& path, std::string_view contents, mode_t mode = 0600);

// Gives `tmp` (written and fsynced by the caller) the name `path`, only if
// that name is free (kAlreadyExists otherwise), drops the name `tmp` and
// makes the directory durable. On any error `path` is left absent.
// REQUIRES: both in the same directory.
Status PublishFileExclusively(const std::string& tmp, const std::string& path);

// rename(2), link(2) and unlink(2) through the FileIo; errors name the path.
Status RenameFile(const std::string& from, const std::string& to);
Status RemoveFile(const std::string& path);

// Temp files: "." + name + ".tmp." + ..., the names WriteFileDurably and
// LayerWriter write before a rename. Every reader skips them.
bool IsTempFileName(std::string_view name);

// Marks a temp file as being written by this process while it lives, so
// that RemoveStaleTempFiles leaves it alone.
class LiveTempFile {
 public:
  explicit LiveTempFile(std::string path);
  ~LiveTempFile();
  LiveTempFile(const LiveTempFile&) = delete;
  LiveTempFile& operator=(const LiveTempFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Removes the temp files in `dir` (not below) that no LiveTempFile of this
// process holds: what a crash or a failed removal left. Returns their paths.
// REQUIRES: no other process writes temp files in `dir` (the page server
// holds the repository's lock).
Result<std::vector<std::string>> RemoveStaleTempFiles(const std::string& dir);

// fsync of a directory, so that entries created or renamed in it are durable.
Status FsyncDirectory(const std::string& path);
Status FsyncFd(int fd, std::string_view path_for_errors);

// mkdir -p; existing directories are fine. Does not fsync.
Status MakeDirectories(const std::string& path, mode_t mode = 0700);

// mkdir that fsyncs the parent, for directories the repository depends on.
Status MakeDirectoryDurably(const std::string& path, mode_t mode = 0700);

// Names in a directory (no "." or ".."), sorted.
Result<std::vector<std::string>> ListDirectory(const std::string& path);

bool PathExists(const std::string& path);

// The directory part of a path ("a/b/c" -> "a/b"; "c" -> ".").
std::string DirName(std::string_view path);
// The last part of a path ("a/b/c" -> "c"; "c" -> "c").
std::string BaseName(std::string_view path);

// Removes a tree, like rm -rf. Missing is fine.
Status RemoveTree(const std::string& path);

}  // namespace zenith
