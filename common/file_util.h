// File helpers with errors as values, and the crash-safe write used for every
// file zenith creates in a repository.
//
// Durability protocol (WriteFileDurably): write "<dir>/.<name>.tmp.<pid>", fsync it,
// rename over <path>, fsync the parent directory. A crash at any point leaves
// either the old file or the new one, never a torn one; a stale temp file is
// harmless and ignored by readers.
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

// open(2); on failure the Status names the path.
Result<UniqueFd> OpenFile(const std::string& path, int flags, mode_t mode = 0600);

// Reads a whole regular file.
Result<std::string> ReadFileToString(const std::string& path);

// pread/pwrite until done (or EOF for reads); return bytes transferred.
Result<size_t> PreadFull(int fd, std::span<uint8_t> buf, uint64_t offset, std::string_view path_for_errors);
Status PwriteFull(int fd, std::span<const uint8_t> buf, uint64_t offset, std::string_view path_for_errors);
Status WriteFull(int fd, std::span<const uint8_t> buf, std::string_view path_for_errors);

// Crash-safe replacement of `path` with `contents` (see the file comment).
Status WriteFileDurably(const std::string& path, std::string_view contents, mode_t mode = 0600);

// Creates `path` only if it does not exist yet, crash-safely: the data is
// durable before the name appears. kAlreadyExists if the name is taken.
Status CreateFileDurablyExclusive(const std::string& path, std::string_view contents, mode_t mode = 0600);

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

// Removes a tree, like rm -rf. Missing is fine.
Status RemoveTree(const std::string& path);

}  // namespace zenith
