// Test support for DatadirFs: a page source that serves pages from a
// stopped PostgreSQL data directory, the scratch built from such a directory
// (non-relation files copied, relation files sparse), a mount served from a
// background thread of the test process, and a source cluster with tables.
//
// Header-only: tests/CMakeLists.txt builds only *_test.cc files.
// Thread-safety: DatadirPageSource is thread-safe; the rest has one owner.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/file_util.h"
#include "common/pg_abi.h"
#include "common/relation_path.h"
#include "fs/datadir_fs.h"
#include "fs/page_source.h"
#include "tests/harness/pg_cluster.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/temp_dir.h"

namespace zenith::fs::testing {

using namespace ::zenith::testing;  // the harness: TempDir, RunCommand, PgCluster

inline constexpr size_t kPage = 8192;

// Serves pages from the relation files of a cleanly stopped data directory,
// as the page server would at that directory's LSN. Records the blocks of
// every call; fails every call while `fail` is set.
class DatadirPageSource : public PageSource {
 public:
  explicit DatadirPageSource(std::string datadir) : datadir_(std::move(datadir)) {}

  Status GetPages(const RelTag& rel, std::span<const uint32_t> blocks, std::span<uint8_t> out) override {
    if (out.size() != blocks.size() * kPage) return InvalidArgument("GetPages: output buffer of the wrong size");
    if (fail) return Unavailable("the page server is unreachable (test)");
    {
      std::lock_guard lock(mu_);
      calls_.emplace_back(blocks.begin(), blocks.end());
    }
    for (size_t i = 0; i < blocks.size(); ++i) {
      BlockLocation at = LocateBlock(blocks[i]);
      std::string path = datadir_ + "/" + RelationSegmentPath(rel, at.segno);
      ZENITH_ASSIGN_OR_RETURN(UniqueFd fd, OpenFile(path, O_RDONLY));
      ZENITH_ASSIGN_OR_RETURN(size_t n, PreadFull(fd.get(), out.subspan(i * kPage, kPage), at.offset, path));
      if (n != kPage) return NotFound("block " + std::to_string(blocks[i]) + " of " + rel.ToString() + " does not exist");
    }
    return Status::Ok();
  }

  // The blocks asked for by each call so far, in call order.
  std::vector<std::vector<uint32_t>> calls() const {
    std::lock_guard lock(mu_);
    return calls_;
  }
  void ClearCalls() {
    std::lock_guard lock(mu_);
    calls_.clear();
  }

  std::atomic<bool> fail{false};

 private:
  const std::string datadir_;
  mutable std::mutex mu_;
  std::vector<std::vector<uint32_t>> calls_;
};

// Copies `source` (a stopped datadir) to `scratch`, moves its pg_wal to
// `wal_dir` behind a symlink, and makes every relation file a sparse file of
// its size. Returns the relation files and sizes (the remote_files option).
inline std::map<std::string, uint64_t> BuildScratch(const std::string& source, const std::string& scratch,
                                                    const std::string& wal_dir) {
  namespace stdfs = std::filesystem;
  RunResult cp = RunCommand({"cp", "-a", source, scratch});
  EXPECT_TRUE(cp.ok()) << cp.Describe();
  stdfs::rename(scratch + "/pg_wal", wal_dir);
  stdfs::create_directory_symlink(wal_dir, scratch + "/pg_wal");
  std::map<std::string, uint64_t> remote;
  for (auto it = stdfs::recursive_directory_iterator(scratch); it != stdfs::recursive_directory_iterator(); ++it) {
    if (!it->is_regular_file(/*follows symlinks*/) || it->is_symlink()) continue;
    std::string rel = stdfs::relative(it->path(), scratch).string();
    if (!ParseRelationPath(rel)) continue;
    uint64_t size = it->file_size();
    stdfs::resize_file(it->path(), 0);  // frees the blocks: the file becomes a hole
    stdfs::resize_file(it->path(), size);
    remote[rel] = size;
  }
  return remote;
}

// Bytes of relation data the scratch holds (allocated blocks of its relation
// files).
inline uint64_t ScratchRelationBytes(const std::string& scratch) {
  namespace stdfs = std::filesystem;
  uint64_t bytes = 0;
  for (auto it = stdfs::recursive_directory_iterator(scratch); it != stdfs::recursive_directory_iterator(); ++it) {
    if (it->is_symlink() || !it->is_regular_file()) continue;
    if (!ParseRelationPath(stdfs::relative(it->path(), scratch).string())) continue;
    struct stat st;
    if (::stat(it->path().c_str(), &st) == 0) bytes += static_cast<uint64_t>(st.st_blocks) * 512;
  }
  return bytes;
}

// A DatadirFs mounted on `mountpoint` and served by a background thread,
// stopped and unmounted on destruction. Records what on_control_write got.
class MountedDatadir {
 public:
  MountedDatadir() = default;
  MountedDatadir(const MountedDatadir&) = delete;
  MountedDatadir& operator=(const MountedDatadir&) = delete;
  ~MountedDatadir() { IgnoreError(Unmount()); }

  Status Mount(const std::string& scratch, const std::string& mountpoint, std::map<std::string, uint64_t> remote,
               PageSource* pages) {
    DatadirFs::Options options;
    options.scratch_dir = scratch;
    options.remote_files = std::move(remote);
    options.pages = pages;
    options.on_control_write = [this](std::string bytes) {
      std::lock_guard lock(mu_);
      control_writes_.push_back(std::move(bytes));
    };
    ZENITH_ASSIGN_OR_RETURN(fs_, DatadirFs::Create(std::move(options)));
    ZENITH_RETURN_IF_ERROR(fs_->Mount(mountpoint));
    thread_ = std::thread([this] { run_status_ = fs_->Run(); });
    return Status::Ok();
  }

  // Stops the filesystem and waits for Run() to return; returns its status.
  Status Unmount() {
    if (!fs_) return Status::Ok();
    fs_->Stop();
    if (thread_.joinable()) thread_.join();
    fs_.reset();
    return run_status_;
  }

  DatadirFs& fs() { return *fs_; }
  std::vector<std::string> control_writes() const {
    std::lock_guard lock(mu_);
    return control_writes_;
  }

 private:
  std::unique_ptr<DatadirFs> fs_;
  std::thread thread_;
  Status run_status_;
  mutable std::mutex mu_;
  std::vector<std::string> control_writes_;
};

// Whether `path` is on a FUSE mount of type fuse.zenith.
inline bool IsZenithMount(const std::string& path) {
  RunResult r = RunCommand({"findmnt", "-n", "-o", "FSTYPE", "--mountpoint", path});
  return r.ok() && r.out == "fuse.zenith\n";
}

inline std::string ReadWholeFile(const std::string& path) {
  auto r = ReadFileToString(path);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : "";
}

// A stopped, cleanly shut down PostgreSQL 15 cluster with a few tables:
// t (20000 rows, hundreds of pages, with a primary key and an index on v),
// other (about 30 pages) and small (one page).
struct SourceCluster {
  std::string datadir;
  std::string t_path, t_index_path, other_path, small_path;  // relation files, datadir-relative

  static SourceCluster Make(const TempDir& dir) {
    SourceCluster c;
    c.datadir = dir.Sub("source");
    PgCluster pg(c.datadir, dir.path(), 5432);
    Status s = pg.Initdb();
    EXPECT_TRUE(s.ok()) << s.ToString();
    s = pg.Start();
    EXPECT_TRUE(s.ok()) << s.ToString();
    pg.Query(
        "CREATE TABLE t (id int PRIMARY KEY, v text);"
        "INSERT INTO t SELECT g, repeat(md5(g::text), 4) FROM generate_series(1, 20000) g;"
        "CREATE INDEX t_v ON t (v);"
        "CREATE TABLE other (id int, pad text);"
        "INSERT INTO other SELECT g, repeat('x', 100) FROM generate_series(1, 2000) g;"
        "CREATE TABLE small (k int); INSERT INTO small VALUES (1), (2), (3);"
        "CHECKPOINT;");
    c.t_path = pg.Query("SELECT pg_relation_filepath('t')");
    c.t_index_path = pg.Query("SELECT pg_relation_filepath('t_v')");
    c.other_path = pg.Query("SELECT pg_relation_filepath('other')");
    c.small_path = pg.Query("SELECT pg_relation_filepath('small')");
    s = pg.Stop("fast");
    EXPECT_TRUE(s.ok()) << s.ToString();
    return c;
  }
};

}  // namespace zenith::fs::testing
