#include "common/file_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <mutex>
#include <set>

#include "common/file_io.h"

namespace zenith {

Result<UniqueFd> OpenFile(const std::string& path, int flags, mode_t mode) {
  if ((flags & O_ACCMODE) != O_RDONLY || (flags & (O_CREAT | O_TRUNC)) != 0) {
    return CurrentFileIo().Open(path, flags, mode);
  }
  int fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  if (fd < 0) return ErrnoStatus("open", path, errno);
  return UniqueFd(fd);
}

Result<std::string> ReadFileToString(const std::string& path) {
  ZENITH_ASSIGN_OR_RETURN(UniqueFd fd, OpenFile(path, O_RDONLY));
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("read", path, errno);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

Result<size_t> PreadFull(int fd, std::span<uint8_t> buf, uint64_t offset, std::string_view path) {
  FileIo& io = CurrentFileIo();
  size_t done = 0;
  while (done < buf.size()) {
    ZENITH_ASSIGN_OR_RETURN(size_t n, io.Pread(fd, buf.subspan(done), offset + done, path));
    if (n == 0) break;
    done += n;
  }
  return done;
}

namespace {

// A write that returns 0 for a non-empty buffer would loop forever.
Status NoProgress(std::string_view path, size_t done, size_t size) {
  return IoError("could not write \"" + std::string(path) + "\": no progress after " + std::to_string(done) + " of " +
                 std::to_string(size) + " bytes");
}

}  // namespace

Status PwriteFull(int fd, std::span<const uint8_t> buf, uint64_t offset, std::string_view path) {
  FileIo& io = CurrentFileIo();
  size_t done = 0;
  while (done < buf.size()) {
    ZENITH_ASSIGN_OR_RETURN(size_t n, io.Pwrite(fd, buf.subspan(done), offset + done, path));
    if (n == 0) return NoProgress(path, done, buf.size());
    done += n;
  }
  return Status::Ok();
}

Status WriteFull(int fd, std::span<const uint8_t> buf, std::string_view path) {
  FileIo& io = CurrentFileIo();
  size_t done = 0;
  while (done < buf.size()) {
    ZENITH_ASSIGN_OR_RETURN(size_t n, io.Write(fd, buf.subspan(done), path));
    if (n == 0) return NoProgress(path, done, buf.size());
    done += n;
  }
  return Status::Ok();
}

Status FsyncFd(int fd, std::string_view path) { return CurrentFileIo().Fsync(fd, path); }

Status FsyncDirectory(const std::string& path) {
  ZENITH_ASSIGN_OR_RETURN(UniqueFd fd, OpenFile(path, O_RDONLY | O_DIRECTORY));
  return FsyncFd(fd.get(), path);
}

std::string BaseName(std::string_view path) {
  const size_t slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

std::string DirName(std::string_view path) {
  size_t slash = path.rfind('/');
  if (slash == std::string_view::npos) return ".";
  if (slash == 0) return "/";
  return std::string(path.substr(0, slash));
}

namespace {

struct LiveTempFiles {
  std::mutex mu;
  std::multiset<std::string> paths;  // guarded by mu
};

// Never destroyed: a writer may outlive static destruction.
LiveTempFiles& Live() {
  static LiveTempFiles* const live = new LiveTempFiles();
  return *live;
}

// "<dir>/.<name>.<what>.<pid>" for `path` = "<dir>/<name>".
std::string TempPathFor(const std::string& path, std::string_view what = "tmp") {
  // A dot-prefixed name: listings of refs and layers never mistake it for
  // the real thing if a crash leaves it behind.
  size_t slash = path.rfind('/');
  std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  return DirName(path) + "/." + base + "." + std::string(what) + "." + std::to_string(::getpid());
}

// Writes contents to the fresh temp file `tmp` and fsyncs it; removes it
// on failure. Errors of the write and the fsync name `path`, the file the
// caller is writing: that is what the user knows.
Status WriteTempFile(const std::string& tmp, const std::string& path, std::string_view contents, mode_t mode) {
  ZENITH_ASSIGN_OR_RETURN(UniqueFd fd, OpenFile(tmp, O_WRONLY | O_CREAT | O_TRUNC, mode));
  auto bytes = std::span(reinterpret_cast<const uint8_t*>(contents.data()), contents.size());
  Status s = WriteFull(fd.get(), bytes, path);
  if (s.ok()) s = FsyncFd(fd.get(), path);
  if (!s.ok()) IgnoreError(RemoveFile(tmp));
  return s;
}

// link(2) to a temp name that a crash of an earlier process with this pid
// may have left.
Status LinkReplacingStale(const std::string& from, const std::string& tmp) {
  Status s = CurrentFileIo().Link(from, tmp);
  if (s.code() != StatusCode::kAlreadyExists) return s;
  ZENITH_RETURN_IF_ERROR(RemoveFile(tmp));
  return CurrentFileIo().Link(from, tmp);
}

}  // namespace

LiveTempFile::LiveTempFile(std::string path) : path_(std::move(path)) {
  std::lock_guard lock(Live().mu);
  Live().paths.insert(path_);
}

LiveTempFile::~LiveTempFile() {
  std::lock_guard lock(Live().mu);
  Live().paths.erase(Live().paths.find(path_));
}

bool IsTempFileName(std::string_view name) {
  return name.size() > 1 && name.front() == '.' && name.find(".tmp.") != std::string_view::npos;
}

Result<std::vector<std::string>> RemoveStaleTempFiles(const std::string& dir) {
  ZENITH_ASSIGN_OR_RETURN(auto names, ListDirectory(dir));
  std::vector<std::string> removed;
  for (const auto& name : names) {
    const std::string path = dir + "/" + name;
    if (!IsTempFileName(name)) continue;
    {
      std::lock_guard lock(Live().mu);
      if (Live().paths.count(path) > 0) continue;
    }
    Status s = RemoveFile(path);
    if (s.code() == StatusCode::kNotFound) continue;
    ZENITH_RETURN_IF_ERROR(s);
    removed.push_back(path);
  }
  return removed;
}

Status RenameFile(const std::string& from, const std::string& to) { return CurrentFileIo().Rename(from, to); }

Status RemoveFile(const std::string& path) { return CurrentFileIo().Unlink(path); }

Status WriteFileDurably(const std::string& path, std::string_view contents, mode_t mode) {
  LiveTempFile tmp(TempPathFor(path));
  ZENITH_RETURN_IF_ERROR(WriteTempFile(tmp.path(), path, contents, mode));
  // The file being replaced keeps a second name until the new one is
  // durable, so that a failure can put it back (a crash leaves the old file
  // or the new one, and at worst this temp name).
  LiveTempFile old(TempPathFor(path, "old.tmp"));
  const bool replacing = PathExists(path);
  Status s = replacing ? LinkReplacingStale(path, old.path()) : Status::Ok();
  if (s.ok()) s = RenameFile(tmp.path(), path);
  if (!s.ok()) {
    IgnoreError(RemoveFile(tmp.path()));
    if (replacing) IgnoreError(RemoveFile(old.path()));
    return s;
  }
  s = FsyncDirectory(DirName(path)).WithContext("could not make \"" + path + "\" durable");
  if (s.ok()) {
    if (replacing) IgnoreError(RemoveFile(old.path()));  // a leftover is a stale temp file
    return s;
  }
  // The caller hears of a failure, so the call must change nothing: the
  // old file goes back, or the new name goes.
  IgnoreError(replacing ? RenameFile(old.path(), path) : RemoveFile(path));
  return s;
}

Status PublishFileExclusively(const std::string& tmp, const std::string& path) {
  // link(2) fails with EEXIST instead of replacing, unlike rename(2).
  Status linked = CurrentFileIo().Link(tmp, path);
  IgnoreError(RemoveFile(tmp));
  ZENITH_RETURN_IF_ERROR(linked);
  Status s = FsyncDirectory(DirName(path)).WithContext("could not make \"" + path + "\" durable");
  if (!s.ok()) IgnoreError(RemoveFile(path));
  return s;
}

Status CreateFileDurablyExclusive(const std::string& path, std::string_view contents, mode_t mode) {
  LiveTempFile tmp(TempPathFor(path));
  ZENITH_RETURN_IF_ERROR(WriteTempFile(tmp.path(), path, contents, mode));
  return PublishFileExclusively(tmp.path(), path);
}

Status MakeDirectories(const std::string& path, mode_t mode) {
  std::string partial;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    partial = path.substr(0, pos);
    if (partial.empty()) continue;
    Status s = CurrentFileIo().Mkdir(partial, mode);
    if (!s.ok() && s.code() != StatusCode::kAlreadyExists) return s;
  }
  return Status::Ok();
}

Status MakeDirectoryDurably(const std::string& path, mode_t mode) {
  ZENITH_RETURN_IF_ERROR(CurrentFileIo().Mkdir(path, mode));
  Status s = FsyncDirectory(DirName(path)).WithContext("could not make \"" + path + "\" durable");
  if (!s.ok()) IgnoreError(CurrentFileIo().RemoveTree(path));  // as for files: a failed call creates nothing
  return s;
}

Result<std::vector<std::string>> ListDirectory(const std::string& path) {
  DIR* dir = ::opendir(path.c_str());
  if (dir == nullptr) return ErrnoStatus("open directory", path, errno);
  std::vector<std::string> names;
  errno = 0;
  while (struct dirent* e = ::readdir(dir)) {
    std::string_view name = e->d_name;
    if (name != "." && name != "..") names.emplace_back(name);
  }
  int err = errno;
  ::closedir(dir);
  if (err != 0) return ErrnoStatus("read directory", path, err);
  std::sort(names.begin(), names.end());
  return names;
}

bool PathExists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

Status RemoveTree(const std::string& path) { return CurrentFileIo().RemoveTree(path); }

}  // namespace zenith
