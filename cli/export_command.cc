// zenith export BRANCH[@LSN|@TIME] DIR: a plain, standalone data directory
// of that point. It is read through a read-only mount of the point (the
// same exact recovery: its pg_wal holds the WAL up to the point and nothing
// after), a few files at a time, so memory stays flat; then the mount goes. Stock
// PostgreSQL started on DIR replays that WAL as crash recovery and is at
// the point, a primary of its own.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <cstdio>
#include <vector>

#include "cli/commands.h"
#include "cli/format.h"
#include "cli/mounting.h"
#include "cli/mountpoint.h"
#include "common/file_util.h"
#include "common/progress.h"
#include "common/str_format.h"
#include "common/unique_fd.h"

namespace zenith::cli {

namespace {

constexpr size_t kChunk = 1 << 20;
constexpr int kCopyThreads = 4;

// What only a mount has: the standby's signal, and the settings zenith
// appended to postgresql.auto.conf after its "# zenith:" comment.
bool MountOnly(const std::string& rel) { return rel == "standby.signal" || rel == "postmaster.pid"; }

std::string WithoutZenithSettings(const std::string& conf) {
  const size_t ours = conf.find("# zenith:");
  return ours == std::string::npos ? conf : conf.substr(0, ours);
}

struct Entry {
  std::string rel;  // relative path
  struct stat st;
};

// Every entry under `root` (not itself), parents before children.
Result<std::vector<Entry>> Walk(const std::string& root) {
  std::vector<Entry> out;
  std::vector<std::string> dirs = {""};
  while (!dirs.empty()) {
    const std::string dir = dirs.back();
    dirs.pop_back();
    ZENITH_ASSIGN_OR_RETURN(auto names, ListDirectory(root + (dir.empty() ? "" : "/" + dir)));
    std::sort(names.begin(), names.end());
    for (const auto& name : names) {
      Entry e{dir.empty() ? name : dir + "/" + name, {}};
      if (::lstat((root + "/" + e.rel).c_str(), &e.st) != 0) return ErrnoStatus("stat", root + "/" + e.rel, errno);
      if (S_ISDIR(e.st.st_mode)) dirs.push_back(e.rel);
      out.push_back(std::move(e));
    }
  }
  return out;
}

bool AllZero(std::span<const uint8_t> bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](uint8_t b) { return b == 0; });
}

// Copies one regular file and makes it durable; zero chunks become holes.
// Writeback of each chunk starts as it is written, so the disk works while
// the next chunks are read.
Status CopyFile(const std::string& from, const std::string& to, const struct stat& st, ProgressLine& progress) {
  ZENITH_ASSIGN_OR_RETURN(UniqueFd in, OpenFile(from, O_RDONLY));
  ZENITH_ASSIGN_OR_RETURN(UniqueFd out, OpenFile(to, O_WRONLY | O_CREAT | O_EXCL, st.st_mode & 07777));
  std::vector<uint8_t> buf(kChunk);
  uint64_t off = 0;
  for (;;) {
    ZENITH_ASSIGN_OR_RETURN(size_t n, PreadFull(in.get(), buf, off, from));
    if (n == 0) break;
    auto chunk = std::span<const uint8_t>(buf).first(n);
    if (!AllZero(chunk)) {
      ZENITH_RETURN_IF_ERROR(PwriteFull(out.get(), chunk, off, to));
      ::sync_file_range(out.get(), static_cast<off_t>(off), static_cast<off_t>(n), SYNC_FILE_RANGE_WRITE);
    }
    off += n;
    progress.Add(n);
  }
  if (::ftruncate(out.get(), static_cast<off_t>(off)) != 0) return ErrnoStatus("truncate", to, errno);
  return FsyncFd(out.get(), to);
}

Status CopyEntry(const std::string& from_root, const std::string& to_root, const Entry& e, ProgressLine& progress) {
  const std::string from = from_root + "/" + e.rel, to = to_root + "/" + e.rel;
  if (S_ISDIR(e.st.st_mode)) {
    if (::mkdir(to.c_str(), e.st.st_mode & 07777) != 0) return ErrnoStatus("create directory", to, errno);
    return Status::Ok();
  }
  if (S_ISLNK(e.st.st_mode)) {
    char target[4096];
    ssize_t n = ::readlink(from.c_str(), target, sizeof target - 1);
    if (n < 0) return ErrnoStatus("read link", from, errno);
    if (::symlink(std::string(target, static_cast<size_t>(n)).c_str(), to.c_str()) != 0) {
      return ErrnoStatus("create symlink", to, errno);
    }
    return Status::Ok();
  }
  if (!S_ISREG(e.st.st_mode)) return Status::Ok();
  if (e.rel == "postgresql.auto.conf") {
    ZENITH_ASSIGN_OR_RETURN(std::string conf, ReadFileToString(from));
    ZENITH_ASSIGN_OR_RETURN(UniqueFd out, OpenFile(to, O_WRONLY | O_CREAT | O_EXCL, 0600));
    ZENITH_RETURN_IF_ERROR(WriteFull(out.get(), AsBytes(WithoutZenithSettings(conf)), to));
    return FsyncFd(out.get(), to);
  }
  return CopyFile(from, to, e.st, progress);
}

// Copies the mounted point at `mount` into `dir` (existing and empty) and
// makes it durable: each file as it is copied, then each directory. Only
// what the export wrote is synced (syncfs would also flush whatever else is
// dirty on the file system).
Status CopyOut(const std::string& mount, const std::string& dir) {
  ZENITH_ASSIGN_OR_RETURN(auto entries, Walk(mount));
  uint64_t total = 0;
  for (const auto& e : entries) {
    if (S_ISREG(e.st.st_mode)) total += static_cast<uint64_t>(e.st.st_size);
  }
  ProgressLine progress("exported", total, stderr);
  // Directories and links first, in order (parents before children); then
  // the files, several at a time: each read of a relation file waits on
  // GetPage round trips, which overlap across files.
  std::vector<const Entry*> files;
  for (const auto& e : entries) {
    if (MountOnly(e.rel)) continue;
    if (S_ISREG(e.st.st_mode)) {
      files.push_back(&e);
      continue;
    }
    if (Status s = CopyEntry(mount, dir, e, progress); !s.ok()) return s;
  }
  std::atomic<size_t> next{0};
  std::mutex mu;
  Status failed;  // the first error; guarded by mu
  auto work = [&] {
    for (size_t i; (i = next++) < files.size();) {
      Status s = CopyEntry(mount, dir, *files[i], progress);
      if (s.ok()) continue;
      std::lock_guard lock(mu);
      if (failed.ok()) failed = s;
      next = files.size();  // the others stop after their current file
    }
  };
  std::vector<std::thread> workers;
  for (int i = 0; i < kCopyThreads; ++i) workers.emplace_back(work);
  for (auto& w : workers) w.join();
  progress.End();
  ZENITH_RETURN_IF_ERROR(failed);
  for (const auto& e : entries) {
    if (S_ISDIR(e.st.st_mode)) ZENITH_RETURN_IF_ERROR(FsyncDirectory(dir + "/" + e.rel));
  }
  return FsyncDirectory(dir);
}

// An export goes into a new or empty directory; on failure it is left as
// it was found.
Result<bool> PrepareExportDir(const std::string& dir) {
  if (!PathExists(dir)) {
    ZENITH_RETURN_IF_ERROR(MakeDirectories(dir, 0700));
    return true;
  }
  ZENITH_ASSIGN_OR_RETURN(auto names, ListDirectory(dir));
  if (!names.empty()) return InvalidArgument(dir + " is not empty; an export needs a new or empty directory");
  if (::chmod(dir.c_str(), 0700) != 0) return ErrnoStatus("chmod", dir, errno);  // PostgreSQL insists
  return false;
}

void Undo(const std::string& dir, bool created) {
  if (created) {
    IgnoreError(RemoveTree(dir));
    return;
  }
  if (auto names = ListDirectory(dir); names.ok()) {
    for (const auto& name : *names) IgnoreError(RemoveTree(dir + "/" + name));
  }
}

}  // namespace

int CmdExport(const GlobalOptions& g, const std::string& target, const std::string& dir) {
  auto parsed = ParsePointTarget(target);
  if (!parsed.ok()) return Fail(parsed.status().message());
  const auto& [branch, spec] = *parsed;
  auto s = Connect(g);
  if (!s.ok()) return Fail(s.status().message());
  const std::string abs = AbsolutePath(dir);
  auto point = s->client.ResolvePoint(branch, spec);  // bad points fail before anything is made
  if (!point.ok()) return Fail(point.status().message());
  auto created = PrepareExportDir(abs);
  if (!created.ok()) return Fail(created.status().message());
  const std::string mount = s->repo.layout.datadir(point->timeline) + "/export-" + std::to_string(getpid());
  Status mounted = MountReadOnly(*s, branch, *point, mount);
  Status copied = mounted.ok() ? CopyOut(mount, abs) : mounted;
  if (mounted.ok()) {
    Status down = Unmount(mount, DaemonOf(s->client, mount));
    if (copied.ok()) copied = down;
  }
  IgnoreError(RemoveTree(mount));
  if (!copied.ok()) {
    Undo(abs, *created);
    return Fail("could not export " + target + ": " + copied.message());
  }
  std::printf("exported branch %s at %s to %s\n", branch.c_str(), point->lsn.ToString().c_str(), abs.c_str());
  return kExitOk;
}

}  // namespace zenith::cli
