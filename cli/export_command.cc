// zenith export BRANCH[@LSN|@TIME] DIR: a plain, standalone data directory
// of that point: what a read-only mount of the point shows, read from the
// page server directly rather than through FUSE. The point's snapshot comes
// as a basebackup (its non-relation files), every relation file's pages by
// GetPage@LSN at the snapshot (1 MB ranges on several connections at once,
// zero pages left as holes), and pg_wal holds the WAL from the snapshot's
// redo up to the point and nothing after (zeros). Stock PostgreSQL started
// on DIR replays that WAL as crash recovery and is at the point, a primary
// of its own. While it runs, the export is registered as a read-only mount
// of the point (shown by `zenith status`; the snapshot stays pinned and the
// branch cannot be deleted). Each file is synced as it is finished, then
// each directory. Memory: the basebackup's small files and one 1 MB buffer
// per connection, whatever the size.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <functional>
#include <mutex>
#include <numeric>
#include <thread>
#include <vector>

#include "cli/commands.h"
#include "cli/export_files.h"
#include "cli/mounting.h"
#include "cli/mountpoint.h"
#include "common/beneath.h"
#include "common/file_util.h"
#include "common/page_header.h"
#include "common/progress.h"
#include "common/relation_path.h"
#include "common/unique_fd.h"
#include "pageserver/client/basebackup_archive.h"
#include "pageserver/client/page_client.h"

namespace zenith::cli {

namespace {

using pageserver::kPageSize;
constexpr uint32_t kRangePages = 128;  // 1 MB: one GetPages call, one write
constexpr int kConnections = 4;

// Runs work(i) for every i in [0, count) on kConnections threads, each
// with its own state from `make_state` (a connection); the first error
// stops them all (each after its current item) and is returned.
template <typename State>
Status ForEachInParallel(size_t count, const std::function<Result<State>()>& make_state,
                         const std::function<Status(State&, size_t)>& work) {
  std::atomic<size_t> next{0};
  std::mutex mu;
  Status failed;  // the first error; guarded by mu
  auto fail = [&](const Status& s) {
    std::lock_guard lock(mu);
    if (failed.ok()) failed = s;
    next = count;
  };
  auto worker = [&] {
    auto state = make_state();
    if (!state.ok()) return fail(state.status());
    for (size_t i; (i = next++) < count;) {
      if (Status s = work(*state, i); !s.ok()) fail(s);
    }
  };
  std::vector<std::thread> threads;
  for (int i = 0; i < kConnections; ++i) threads.emplace_back(worker);
  for (auto& t : threads) t.join();
  return failed;
}

// The WAL from the snapshot's redo to the point, synced.
Status WriteWal(Session& s, const std::string& timeline, Lsn redo, Lsn point, const std::string& pg_wal) {
  ZENITH_RETURN_IF_ERROR(pageserver::FetchWalSegments(s.client, timeline, redo, point, pg_wal));
  ZENITH_ASSIGN_OR_RETURN(auto names, ListDirectory(pg_wal));
  for (const auto& name : names) {
    ZENITH_ASSIGN_OR_RETURN(UniqueFd fd, OpenFile(pg_wal + "/" + name, O_RDONLY));
    ZENITH_RETURN_IF_ERROR(FsyncFd(fd.get(), pg_wal + "/" + name));
  }
  return Status::Ok();
}

// One range of a relation segment file: which file, its first page.
struct PageRange {
  size_t file;
  uint32_t first, count;  // pages of the file
};

// Writes the non-zero pages of `bytes` at `offset` (zero pages stay holes)
// and starts their writeback.
Status WriteSparse(int fd, std::span<const uint8_t> bytes, uint64_t offset, const std::string& path) {
  for (size_t at = 0; at < bytes.size();) {
    if (IsAllZeroPage(bytes.subspan(at, kPageSize))) {
      at += kPageSize;
      continue;
    }
    size_t end = at + kPageSize;
    while (end < bytes.size() && !IsAllZeroPage(bytes.subspan(end, kPageSize))) end += kPageSize;
    ZENITH_RETURN_IF_ERROR(PwriteFull(fd, bytes.subspan(at, end - at), offset + at, path));
    at = end;
  }
  ::sync_file_range(fd, static_cast<off_t>(offset), static_cast<off_t>(bytes.size()), SYNC_FILE_RANGE_WRITE);
  return Status::Ok();
}

// A connection's state: its page stream and its 1 MB buffer.
struct Fetcher {
  std::unique_ptr<pageserver::PageStream> pages;
  std::vector<uint8_t> buf = std::vector<uint8_t>(kRangePages * kPageSize);
  std::vector<uint32_t> blocks;
};

// Every relation file of the snapshot: made at its size (a hole), filled
// range by range from the page server, then synced.
Status WriteRelationFiles(const RepoContext& repo, const std::string& timeline,
                          const pageserver::BasebackupManifest& manifest, const BeneathDir& dir,
                          ProgressLine& progress) {
  const auto& files = manifest.relations;
  std::vector<RelSegment> segs;
  std::vector<PageRange> ranges;
  for (size_t i = 0; i < files.size(); ++i) {
    auto seg = ParseRelationPath(files[i].path);
    if (!seg) return Corruption("the basebackup's manifest names \"" + files[i].path + "\", no relation file");
    segs.push_back(*seg);
    const std::string path = dir.path() + "/" + files[i].path;
    ZENITH_ASSIGN_OR_RETURN(UniqueFd fd, dir.OpenFile(files[i].path, O_WRONLY | O_CREAT | O_EXCL, 0600));
    if (::ftruncate(fd.get(), static_cast<off_t>(files[i].size)) != 0) return ErrnoStatus("size", path, errno);
    const auto pages = static_cast<uint32_t>(files[i].size / kPageSize);
    for (uint32_t p = 0; p < pages; p += kRangePages) ranges.push_back({i, p, std::min(kRangePages, pages - p)});
  }
  const std::string conninfo = PageServerConnString(repo);
  const Lsn lsn = manifest.snapshot.valid;
  std::function<Result<Fetcher>()> connect = [&]() -> Result<Fetcher> {
    Fetcher f;
    ZENITH_ASSIGN_OR_RETURN(f.pages, pageserver::PageStream::Open(conninfo, timeline, /*exact=*/true));
    return f;
  };
  ZENITH_RETURN_IF_ERROR(ForEachInParallel<Fetcher>(ranges.size(), connect, [&](Fetcher& f, size_t i) {
    const PageRange& r = ranges[i];
    const std::string path = dir.path() + "/" + files[r.file].path;
    const uint32_t first_block = segs[r.file].segno * BlocksPerSegment() + r.first;
    f.blocks.resize(r.count);
    std::iota(f.blocks.begin(), f.blocks.end(), first_block);
    const auto out = std::span(f.buf).first(size_t{r.count} * kPageSize);
    ZENITH_RETURN_IF_ERROR(f.pages->GetPages(segs[r.file].tag, f.blocks, lsn, out));
    ZENITH_ASSIGN_OR_RETURN(UniqueFd fd, dir.OpenFile(files[r.file].path, O_WRONLY));
    ZENITH_RETURN_IF_ERROR(WriteSparse(fd.get(), out, uint64_t{r.first} * kPageSize, path));
    progress.Add(out.size());
    return Status::Ok();
  }));
  std::function<Result<int>()> none = []() -> Result<int> { return 0; };
  return ForEachInParallel<int>(files.size(), none, [&](int&, size_t i) {
    ZENITH_ASSIGN_OR_RETURN(UniqueFd fd, dir.OpenFile(files[i].path, O_RDONLY));
    return FsyncFd(fd.get(), dir.path() + "/" + files[i].path);
  });
}

// Syncs every directory under `dir` and `dir` itself (files were synced
// as they were written).
Status SyncDirectories(const std::string& dir) {
  ZENITH_ASSIGN_OR_RETURN(auto names, ListDirectory(dir));
  for (const auto& name : names) {
    struct stat st;
    const std::string path = dir + "/" + name;
    if (::lstat(path.c_str(), &st) != 0) return ErrnoStatus("stat", path, errno);
    if (S_ISDIR(st.st_mode)) ZENITH_RETURN_IF_ERROR(SyncDirectories(path));
  }
  return FsyncDirectory(dir);
}

// The point into `dir` (existing and empty), durable.
Status ExportPoint(Session& s, const std::string& branch, const pageserver::ReadPoint& point, const std::string& dir) {
  // Held by this connection until the export ends.
  ZENITH_ASSIGN_OR_RETURN(auto owner, s.client.AttachReadOnly(branch, point.lsn, dir, getpid()));
  const std::string timeline = owner.ToString();
  ZENITH_ASSIGN_OR_RETURN(std::string tar, s.client.BasebackupAt(timeline, point.lsn));
  ZENITH_ASSIGN_OR_RETURN(auto archive, pageserver::ParseBasebackupArchive(tar));
  uint64_t total = 0;
  for (const auto& file : archive.manifest.relations) total += file.size;
  ProgressLine progress("exported", total, stderr);
  ZENITH_ASSIGN_OR_RETURN(BeneathDir root, BeneathDir::Open(dir));
  Status done = WriteSnapshotFiles(archive, root);
  if (done.ok()) done = WriteWal(s, timeline, archive.manifest.snapshot.redo, point.lsn, dir + "/pg_wal");
  if (done.ok()) done = WriteRelationFiles(s.repo, timeline, archive.manifest, root, progress);
  progress.End();
  ZENITH_RETURN_IF_ERROR(done);
  return SyncDirectories(dir);
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
  auto r = ConnectAndResolve(g, target);  // bad points fail before anything is made
  if (!r.ok()) return Fail(r.status().message());
  const std::string abs = AbsolutePath(dir);
  auto created = PrepareExportDir(abs);
  if (!created.ok()) return Fail(created.status().message());
  Status copied = ExportPoint(r->session, r->branch, r->point, abs);
  if (!copied.ok()) {
    Undo(abs, *created);
    return Fail("could not export " + target + ": " + copied.message());
  }
  std::printf("exported branch %s at %s to %s\n", r->branch.c_str(), r->point.lsn.ToString().c_str(), abs.c_str());
  return kExitOk;
}

}  // namespace zenith::cli
