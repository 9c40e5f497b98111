// FileIo: the seam under every write zenith makes to a repository, and
// under the reads of files it does not map, in the spirit of LevelDB's
// Env: the system calls that create, write, sync, rename and remove files,
// and pread. PosixFileIo() makes the real calls; a test installs its own
// (tests/harness/fault_file_io.h) to inject a short write or read, EIO,
// ENOSPC or a crash before an fsync, and then checks what is on disk and
// what the reader was told.
//
// Which calls go through it: everything common/file_util.h does to change a
// file or a directory (OpenFile for writing, PwriteFull, WriteFull, FsyncFd,
// FsyncDirectory, the durable writes, PublishFileExclusively,
// MakeDirectory*, RenameFile, RemoveFile, RemoveTree), and through those
// LayerWriter, Timeline (PrepareWal, the gc cutoff, load-time clean-up),
// Repository (branches, start-up clean-up) and History (compaction, GC).
// Reads through PreadFull: a local mount's reads of layer files
// (fs/local_layer_source.h), of its scratch (fs/relation_io.h), WAL read
// from a directory (common/wal_directory.h, the uploader's and the page
// server's), imports. Reads of mapped layer files (the page server's
// GetPage) do not: a mapping has no call to intercept. A read pays an
// atomic load and an indirect call beside its system call.
//
// Why a process-wide current FileIo rather than one passed to every object:
// the durable writes are free functions called from every part (import,
// branches, layers, WAL, GC, the pid file); threading a FileIo through each
// constructor would change a dozen interfaces for the sake of tests, while
// one pointer changes nothing for the callers. The cost is an atomic load
// and an indirect call per system call on the write paths.
//
// Thread-safety: FileIo implementations must be thread-safe. CurrentFileIo()
// may be called from any thread at any time. A ScopedFileIo must outlive
// every thread that may still call into the FileIo it installed (in a test:
// declare it before the repository and servers that use it).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "common/status.h"
#include "common/unique_fd.h"

namespace zenith {

class FileIo {
 public:
  virtual ~FileIo() = default;

  // open(2) with O_CLOEXEC added. On failure the Status names the path.
  virtual Result<UniqueFd> Open(const std::string& path, int flags, mode_t mode) = 0;
  // One pwrite(2) / write(2) (EINTR retried): the number of bytes written,
  // which may be fewer than asked (a short write), or the error. `path` is
  // the file's path, for the error and for tests that match on it.
  virtual Result<size_t> Pwrite(int fd, std::span<const uint8_t> buf, uint64_t offset, std::string_view path) = 0;
  virtual Result<size_t> Write(int fd, std::span<const uint8_t> buf, std::string_view path) = 0;
  // One pread(2) (EINTR retried): the number of bytes read, which may be
  // fewer than asked (a short read; 0 at the end of the file), or the error.
  virtual Result<size_t> Pread(int fd, std::span<uint8_t> buf, uint64_t offset, std::string_view path) = 0;
  // fsync(2) of a file or of a directory (its entries).
  virtual Status Fsync(int fd, std::string_view path) = 0;
  // sync_file_range(SYNC_FILE_RANGE_WRITE): starts writeback, waits for
  // nothing, guarantees nothing. A hint: it cannot fail.
  virtual void StartWriteback(int fd, uint64_t offset, uint64_t length) = 0;
  // rename(2), link(2), unlink(2), mkdir(2); errors name the path.
  virtual Status Rename(const std::string& from, const std::string& to) = 0;
  virtual Status Link(const std::string& from, const std::string& to) = 0;
  virtual Status Unlink(const std::string& path) = 0;
  virtual Status Mkdir(const std::string& path, mode_t mode) = 0;
  // rm -rf; a missing path is fine.
  virtual Status RemoveTree(const std::string& path) = 0;
};

// The real system calls. Lives for the whole process.
FileIo& PosixFileIo();

// The FileIo in use: PosixFileIo() unless a ScopedFileIo is alive.
FileIo& CurrentFileIo();

// Tests only: makes `io` the current FileIo until destroyed, then restores
// the previous one. Scopes nest (strictly: destroy in reverse order).
class ScopedFileIo {
 public:
  explicit ScopedFileIo(FileIo& io);
  ~ScopedFileIo();
  ScopedFileIo(const ScopedFileIo&) = delete;
  ScopedFileIo& operator=(const ScopedFileIo&) = delete;

 private:
  FileIo* previous_;
};

}  // namespace zenith
