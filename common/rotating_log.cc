#include "common/rotating_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace zenith {

Result<std::shared_ptr<RotatingLogSink>> RotatingLogSink::ForFds(std::string path, std::vector<int> fds,
                                                                 RotatingLogOptions options) {
  if (options.max_bytes == 0 || options.max_files < 1) {
    return InvalidArgument("a rotated log needs a size above 0 and at least one old file kept");
  }
  struct stat by_path;
  if (::stat(path.c_str(), &by_path) != 0) return ErrnoStatus("stat", path, errno);
  std::vector<int> on_path;
  for (int fd : fds) {
    struct stat by_fd;
    if (::fstat(fd, &by_fd) == 0 && by_fd.st_dev == by_path.st_dev && by_fd.st_ino == by_path.st_ino) {
      on_path.push_back(fd);
    }
  }
  if (on_path.empty()) return NotFound("no descriptor given is open on \"" + path + "\"");
  return std::make_shared<RotatingLogSink>(std::move(path), std::move(on_path), options,
                                           static_cast<uint64_t>(by_path.st_size));
}

void RotatingLogSink::sink_it_(const spdlog::details::log_msg& msg) {
  spdlog::memory_buf_t line;
  formatter_->format(msg, line);
  size_t done = 0;
  while (done < line.size()) {
    ssize_t n = ::write(fds_.front(), line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // a full disk: the line is lost, the server goes on
    done += static_cast<size_t>(n);
  }
  size_ += done;
  if (size_ >= options_.max_bytes) Rotate();
}

void RotatingLogSink::Rotate() {
  const auto name = [&](int i) { return path_ + "." + std::to_string(i); };
  for (int i = options_.max_files - 1; i >= 1; --i) ::rename(name(i).c_str(), name(i + 1).c_str());
  ::rename(path_.c_str(), name(1).c_str());
  int fresh = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fresh < 0) {
    // Keep writing where we were (now <path>.1); try again after the next max_bytes.
    size_ = 0;
    return;
  }
  for (int fd : fds_) ::dup2(fresh, fd);  // without O_CLOEXEC, as stderr should be
  ::close(fresh);
  size_ = 0;
}

}  // namespace zenith
