#include "common/file_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <boost/filesystem.hpp>
#include <cerrno>

namespace zenith {

namespace {

class Posix final : public FileIo {
 public:
  Result<UniqueFd> Open(const std::string& path, int flags, mode_t mode) override {
    int fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
    if (fd < 0) return ErrnoStatus("open", path, errno);
    return UniqueFd(fd);
  }

  Result<size_t> Pwrite(int fd, std::span<const uint8_t> buf, uint64_t offset, std::string_view path) override {
    for (;;) {
      ssize_t n = ::pwrite(fd, buf.data(), buf.size(), static_cast<off_t>(offset));
      if (n >= 0) return static_cast<size_t>(n);
      if (errno != EINTR) return ErrnoStatus("write", path, errno);
    }
  }

  Result<size_t> Write(int fd, std::span<const uint8_t> buf, std::string_view path) override {
    for (;;) {
      ssize_t n = ::write(fd, buf.data(), buf.size());
      if (n >= 0) return static_cast<size_t>(n);
      if (errno != EINTR) return ErrnoStatus("write", path, errno);
    }
  }

  Result<size_t> Pread(int fd, std::span<uint8_t> buf, uint64_t offset, std::string_view path) override {
    for (;;) {
      ssize_t n = ::pread(fd, buf.data(), buf.size(), static_cast<off_t>(offset));
      if (n >= 0) return static_cast<size_t>(n);
      if (errno != EINTR) return ErrnoStatus("read", path, errno);
    }
  }

  Status Fsync(int fd, std::string_view path) override {
    if (::fsync(fd) != 0) return ErrnoStatus("fsync", path, errno);
    return Status::Ok();
  }

  void StartWriteback(int fd, uint64_t offset, uint64_t length) override {
    ::sync_file_range(fd, static_cast<off_t>(offset), static_cast<off_t>(length), SYNC_FILE_RANGE_WRITE);
  }

  Status Rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) return ErrnoStatus("rename to", to, errno);
    return Status::Ok();
  }

  Status Link(const std::string& from, const std::string& to) override {
    if (::link(from.c_str(), to.c_str()) != 0) return ErrnoStatus("create", to, errno);
    return Status::Ok();
  }

  Status Unlink(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) return ErrnoStatus("remove", path, errno);
    return Status::Ok();
  }

  Status Mkdir(const std::string& path, mode_t mode) override {
    if (::mkdir(path.c_str(), mode) != 0) return ErrnoStatus("create directory", path, errno);
    return Status::Ok();
  }

  Status RemoveTree(const std::string& path) override {
    boost::system::error_code ec;
    boost::filesystem::remove_all(path, ec);
    if (ec) return IoError("could not remove \"" + path + "\": " + ec.message());
    return Status::Ok();
  }
};

std::atomic<FileIo*> current{nullptr};

}  // namespace

FileIo& PosixFileIo() {
  static Posix* const posix = new Posix();  // never destroyed: threads may outlive static destruction
  return *posix;
}

FileIo& CurrentFileIo() {
  FileIo* io = current.load(std::memory_order_acquire);
  return io != nullptr ? *io : PosixFileIo();
}

ScopedFileIo::ScopedFileIo(FileIo& io) : previous_(current.exchange(&io, std::memory_order_acq_rel)) {}

ScopedFileIo::~ScopedFileIo() { current.store(previous_, std::memory_order_release); }

}  // namespace zenith
