// DatadirFs through a real FUSE mount, at the system-call level: relation
// files served from a stopped PostgreSQL cluster (the PageSource), local
// writes, truncation, the namespace, snapshots and page source failures.
#include "fs/datadir_fs.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <thread>

#include "tests/harness/wait.h"
#include "tests/unit/fs/mounted_datadir.h"

namespace zenith::fs::testing {
namespace {

namespace stdfs = std::filesystem;

std::string Bytes(size_t n, char c) { return std::string(n, c); }

class DatadirFsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    src_ = SourceCluster::Make(dir_);
    ASSERT_FALSE(src_.t_path.empty());
    remote_ = BuildScratch(src_.datadir, scratch_, dir_.Sub("wal"));
    ASSERT_TRUE(stdfs::create_directory(mnt_));
    pages_ = std::make_unique<DatadirPageSource>(src_.datadir);
    Status s = mounted_.Mount(scratch_, mnt_, remote_, pages_.get());
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  std::string Mnt(const std::string& rel) const { return mnt_ + "/" + rel; }
  std::string Scratch(const std::string& rel) const { return scratch_ + "/" + rel; }
  std::string Source(const std::string& rel) const { return src_.datadir + "/" + rel; }
  RelSegment SegOf(const std::string& rel) const { return *ParseRelationPath(rel); }

  // Bytes [offset, offset+len) of a file, read past the kernel's page cache
  // so that the filesystem answers.
  static std::string ReadAt(const std::string& path, uint64_t offset, size_t len) {
    int fd = ::open(path.c_str(), O_RDONLY);
    EXPECT_GE(fd, 0) << path << ": " << strerror(errno);
    if (fd < 0) return "";
    EXPECT_EQ(::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0);
    std::string out(len, '\0');
    ssize_t n = ::pread(fd, out.data(), len, static_cast<off_t>(offset));
    EXPECT_GE(n, 0) << path << ": " << strerror(errno);
    out.resize(n < 0 ? 0 : static_cast<size_t>(n));
    ::close(fd);
    return out;
  }

  static void WriteAt(const std::string& path, uint64_t offset, const std::string& data) {
    int fd = ::open(path.c_str(), O_WRONLY);
    ASSERT_GE(fd, 0) << path << ": " << strerror(errno);
    EXPECT_EQ(::pwrite(fd, data.data(), data.size(), static_cast<off_t>(offset)), static_cast<ssize_t>(data.size()))
        << path << ": " << strerror(errno);
    ::close(fd);
  }

  // Creates a new file (O_EXCL) with `data`, the way PostgreSQL creates
  // relation files: no temporary name.
  static void CreateWith(const std::string& path, const std::string& data) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
    ASSERT_GE(fd, 0) << path << ": " << strerror(errno);
    EXPECT_EQ(::write(fd, data.data(), data.size()), static_cast<ssize_t>(data.size())) << strerror(errno);
    ::close(fd);
  }

  std::string SourceBytes(const std::string& rel, uint64_t offset, size_t len) const {
    return ReadWholeFile(Source(rel)).substr(offset, len);
  }

  // The database directory of the tables ("base/5").
  std::string DbDir() const { return stdfs::path(src_.t_path).parent_path().string(); }

  TempDir dir_{"datadir-fs"};
  SourceCluster src_;
  std::string scratch_ = dir_.Sub("scratch"), mnt_ = dir_.Sub("mnt");
  std::map<std::string, uint64_t> remote_;
  std::unique_ptr<DatadirPageSource> pages_;
  MountedDatadir mounted_;  // last: unmounted before the rest goes
};

TEST_F(DatadirFsTest, RelationFilesReadBackIdenticalWithoutFillingTheScratch) {
  EXPECT_TRUE(IsZenithMount(mnt_));
  ASSERT_GT(remote_.size(), 100u);
  std::string list;
  for (const auto& [rel, size] : remote_) list += rel + "\n";
  RunResult cmp = RunShell("cd '" + src_.datadir + "' && while read f; do cmp \"$f\" '" + mnt_ + "'/\"$f\" || exit 1; done",
                           {.input = list});
  EXPECT_TRUE(cmp.ok()) << cmp.Describe();
  // Pages fetched for reads are not stored: the scratch holds no relation data.
  EXPECT_EQ(ScratchRelationBytes(scratch_), 0u);

  RunResult ls = RunCommand({"ls", "-lR", mnt_});
  EXPECT_TRUE(ls.ok()) << ls.Describe();
  EXPECT_NE(ls.out.find(stdfs::path(src_.t_path).filename().string()), std::string::npos);
  // du sees the database's size, as on a local datadir.
  RunResult du_mnt = RunCommand({"du", "-sk", Mnt("base")}), du_src = RunCommand({"du", "-sk", Source("base")});
  ASSERT_TRUE(du_mnt.ok() && du_src.ok()) << du_mnt.Describe() << du_src.Describe();
  double kb_mnt = std::stod(du_mnt.out), kb_src = std::stod(du_src.out);
  EXPECT_GT(kb_mnt, 0.9 * kb_src);
  EXPECT_LT(kb_mnt, 1.1 * kb_src);

  struct stat root, rel;
  ASSERT_EQ(::stat(mnt_.c_str(), &root), 0);
  EXPECT_EQ(root.st_mode & 07777, 0700u);
  EXPECT_EQ(root.st_uid, ::geteuid());
  ASSERT_EQ(::stat(Mnt(src_.t_path).c_str(), &rel), 0);
  EXPECT_EQ(static_cast<uint64_t>(rel.st_size), remote_.at(src_.t_path));
  EXPECT_GE(static_cast<uint64_t>(rel.st_blocks) * 512, remote_.at(src_.t_path));
  RunResult st = RunCommand({"stat", Mnt(src_.t_path), Mnt("PG_VERSION"), Mnt("pg_wal")});
  EXPECT_TRUE(st.ok()) << st.Describe();

  Status unmounted = mounted_.Unmount();
  EXPECT_TRUE(unmounted.ok()) << unmounted.ToString();
  EXPECT_FALSE(IsZenithMount(mnt_));
}

TEST_F(DatadirFsTest, RemoteBlocksOfOneReadComeFromOneGetPagesCall) {
  const std::string& rel = src_.t_path;
  ASSERT_GE(remote_.at(rel), 32 * kPage);
  pages_->ClearCalls();
  EXPECT_EQ(ReadAt(Mnt(rel), 0, 16 * kPage), SourceBytes(rel, 0, 16 * kPage));
  std::vector<std::vector<uint32_t>> calls = pages_->calls();
  ASSERT_FALSE(calls.empty());
  size_t fetched = 0, largest = 0;
  for (const auto& c : calls) {
    fetched += c.size();
    largest = std::max(largest, c.size());
  }
  EXPECT_GE(fetched, 16u);
  EXPECT_GE(largest, 8u) << "the kernel asked for at least 64 KB at once; it must be one call";
  EXPECT_LE(calls.size() * 4, fetched);
}

TEST_F(DatadirFsTest, OneReadMergesLocalBlocksWithRemoteOnes) {
  const std::string& rel = src_.other_path;
  ASSERT_GE(remote_.at(rel), 16 * kPage);
  WriteAt(Mnt(rel), 3 * kPage, Bytes(kPage, 'L'));
  pages_->ClearCalls();
  std::string expected = SourceBytes(rel, 0, 16 * kPage);
  expected.replace(3 * kPage, kPage, Bytes(kPage, 'L'));
  EXPECT_EQ(ReadAt(Mnt(rel), 0, 16 * kPage), expected);
  bool spans_local_block = false;
  for (const auto& c : pages_->calls()) {
    EXPECT_EQ(std::count(c.begin(), c.end(), 3u), 0) << "block 3 is local and must not be fetched";
    spans_local_block |= std::count(c.begin(), c.end(), 2u) && std::count(c.begin(), c.end(), 4u);
  }
  EXPECT_TRUE(spans_local_block) << "blocks 2 and 4 of one read must come from one call";
}

TEST_F(DatadirFsTest, PartialWritesIntoRemoteBlocksAreReadModifyWrite) {
  const std::string& rel = src_.t_path;
  std::string expected = SourceBytes(rel, 0, 6 * kPage);
  struct Patch {
    uint64_t offset;
    std::string data;
  };
  std::vector<Patch> patches = {
      {kPage + 4090, Bytes(100, 'A')},          // inside block 1, across a 4 KB page boundary
      {3 * kPage - 1000, Bytes(3000, 'B')},     // end of block 2 and start of block 3
      {4 * kPage, Bytes(4096, 'C')},            // first half of block 4
      {5 * kPage + 4096, Bytes(4096, 'D')},     // second half of block 5
  };
  for (const auto& p : patches) {
    WriteAt(Mnt(rel), p.offset, p.data);
    expected.replace(p.offset, p.data.size(), p.data);
  }
  EXPECT_EQ(ReadAt(Mnt(rel), 0, 6 * kPage), expected);
  // The scratch holds the written blocks whole (page + patch), block 0 not at all.
  std::string scratch = ReadWholeFile(Scratch(rel));
  EXPECT_EQ(scratch.substr(0, kPage), Bytes(kPage, '\0'));
  EXPECT_EQ(scratch.substr(kPage, 5 * kPage), expected.substr(kPage, 5 * kPage));
  EXPECT_EQ(scratch.size(), remote_.at(rel));
}

TEST_F(DatadirFsTest, WritesPastTheEndExtendRelationFiles) {
  const std::string& rel = src_.small_path;
  ASSERT_EQ(remote_.at(rel), kPage);
  WriteAt(Mnt(rel), 3 * kPage + 17, Bytes(10, 'E'));
  WriteAt(Mnt(rel), kPage + 5, Bytes(3, 'F'));  // past the remote data: no page to fetch
  struct stat st;
  ASSERT_EQ(::stat(Mnt(rel).c_str(), &st), 0);
  EXPECT_EQ(st.st_size, static_cast<off_t>(3 * kPage + 27));
  std::string expected = SourceBytes(rel, 0, kPage) + Bytes(3 * kPage + 27 - kPage, '\0');
  expected.replace(3 * kPage + 17, 10, Bytes(10, 'E'));
  expected.replace(kPage + 5, 3, Bytes(3, 'F'));
  EXPECT_EQ(ReadAt(Mnt(rel), 0, 8 * kPage), expected);
}

TEST_F(DatadirFsTest, WritesAndTruncationsPastASegmentsEndAreEfbigAndChangeNoSegment) {
  const uint64_t segment_bytes = uint64_t{BlocksPerSegment()} * kPage;
  const std::string& rel = src_.t_path;
  const std::string before = ReadAt(Mnt(rel), 0, 4 * kPage);
  int fd = ::open(Mnt(rel).c_str(), O_RDWR);
  ASSERT_GE(fd, 0) << strerror(errno);
  const std::string page = Bytes(kPage, 'X');
  // Block 0 of the next segment, and block 2^31 - 1 (before, its block
  // sets would have grown to hundreds of MB). A write across the end is
  // cut there by the kernel, as at a file size limit.
  for (uint64_t offset : {segment_bytes, segment_bytes + 10, ((uint64_t{1} << 31) - 1) * kPage}) {
    errno = 0;
    EXPECT_EQ(::pwrite(fd, page.data(), page.size(), static_cast<off_t>(offset)), -1) << offset;
    EXPECT_EQ(errno, EFBIG) << offset << ": " << strerror(errno);
  }
  errno = 0;
  EXPECT_EQ(::ftruncate(fd, static_cast<off_t>(segment_bytes + kPage)), -1);
  EXPECT_EQ(errno, EFBIG) << strerror(errno);
  errno = 0;
  EXPECT_EQ(::truncate(Mnt(rel).c_str(), static_cast<off_t>(uint64_t{1} << 42)), -1);
  EXPECT_EQ(errno, EFBIG) << strerror(errno);
  errno = 0;
  EXPECT_EQ(::fallocate(fd, 0, static_cast<off_t>(segment_bytes - kPage), 2 * kPage), -1);
  EXPECT_EQ(errno, EFBIG) << strerror(errno);
  ::close(fd);

  struct stat st;
  ASSERT_EQ(::stat(Mnt(rel).c_str(), &st), 0);
  EXPECT_EQ(static_cast<uint64_t>(st.st_size), remote_.at(rel));
  EXPECT_EQ(ReadAt(Mnt(rel), 0, 4 * kPage), before);
  auto session = mounted_.fs().BeginSnapshot();
  ASSERT_TRUE(session.ok());
  EXPECT_TRUE((*session)->delta().dirty.empty()) << "no block of this segment or the next is in the snapshot";
  EXPECT_TRUE((*session)->delta().floors.empty());
}

TEST_F(DatadirFsTest, TruncatedRemoteBlocksReadAsZerosAfterReExtension) {
  const std::string& rel = src_.other_path;
  ASSERT_GE(remote_.at(rel), 4 * kPage);
  std::string source = SourceBytes(rel, 0, 4 * kPage);
  int fd = ::open(Mnt(rel).c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::ftruncate(fd, kPage + 100), 0) << strerror(errno);
  EXPECT_EQ(ReadAt(Mnt(rel), 0, 4 * kPage), source.substr(0, kPage + 100));
  ASSERT_EQ(::ftruncate(fd, 4 * kPage), 0) << strerror(errno);
  ::close(fd);
  std::string expected = source.substr(0, kPage + 100) + Bytes(3 * kPage - 100, '\0');
  EXPECT_EQ(ReadAt(Mnt(rel), 0, 4 * kPage), expected);
  // truncate(2) by name, without an open file, down to nothing and back up.
  ASSERT_EQ(::truncate(Mnt(rel).c_str(), 0), 0) << strerror(errno);
  ASSERT_EQ(::truncate(Mnt(rel).c_str(), 2 * kPage), 0) << strerror(errno);
  EXPECT_EQ(ReadAt(Mnt(rel), 0, 4 * kPage), Bytes(2 * kPage, '\0'));
}

TEST_F(DatadirFsTest, UnlinkedRelationFileIsRecreatedWithoutRemoteBlocks) {
  const std::string& rel = src_.small_path;
  ASSERT_EQ(::unlink(Mnt(rel).c_str()), 0) << strerror(errno);
  EXPECT_FALSE(stdfs::exists(Scratch(rel)));
  int fd = ::open(Mnt(rel).c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
  ASSERT_GE(fd, 0) << strerror(errno);
  struct stat st;
  ASSERT_EQ(::fstat(fd, &st), 0);
  EXPECT_EQ(st.st_size, 0);
  ASSERT_EQ(::pwrite(fd, "new", 3, kPage + 10), 3);
  ::close(fd);
  EXPECT_EQ(ReadAt(Mnt(rel), 0, 2 * kPage), Bytes(kPage + 10, '\0') + "new");
}

TEST_F(DatadirFsTest, RenamesOfRelationFilesAndTheirDirectoriesAreCrossDevice) {
  const std::string db = DbDir();
  auto rename_errno = [](const std::string& from, const std::string& to) {
    return ::rename(from.c_str(), to.c_str()) == 0 ? 0 : errno;
  };
  EXPECT_EQ(rename_errno(Mnt(src_.t_path), Mnt(db + "/moved")), EXDEV);
  EXPECT_EQ(rename_errno(Mnt("PG_VERSION"), Mnt(db + "/99999")), EXDEV);
  EXPECT_EQ(rename_errno(Mnt(db), Mnt("base/77777")), EXDEV);
  ASSERT_EQ(::mkdir(Mnt("somedir").c_str(), 0700), 0);
  EXPECT_EQ(rename_errno(Mnt("somedir"), Mnt("base/somedir")), EXDEV);
  EXPECT_EQ(rename_errno(Mnt("somedir"), Mnt("otherdir")), 0);
  EXPECT_TRUE(stdfs::is_directory(Scratch("otherdir")));

  // Other files rename as usual, inside relation directories too.
  CreateWith(Mnt(db + "/pg_internal.init.123"), "cache");
  EXPECT_EQ(rename_errno(Mnt(db + "/pg_internal.init.123"), Mnt(db + "/pg_internal.init.new")), 0);
  EXPECT_EQ(ReadWholeFile(Mnt(db + "/pg_internal.init.new")), "cache");
  CreateWith(Mnt("a"), "A");
  CreateWith(Mnt("b"), "B");
  EXPECT_NE(::renameat2(AT_FDCWD, Mnt("a").c_str(), AT_FDCWD, Mnt("b").c_str(), RENAME_NOREPLACE), 0);
  EXPECT_EQ(errno, EEXIST);
  ASSERT_EQ(::renameat2(AT_FDCWD, Mnt("a").c_str(), AT_FDCWD, Mnt("b").c_str(), RENAME_EXCHANGE), 0)
      << strerror(errno);
  EXPECT_EQ(ReadWholeFile(Mnt("a")), "B");
  EXPECT_EQ(ReadWholeFile(Scratch("b")), "A");

  // mv falls back to copy and unlink, which work through reads and writes.
  RunResult mv = RunCommand({"mv", Mnt(src_.other_path), Mnt("other_copy")});
  ASSERT_TRUE(mv.ok()) << mv.Describe();
  EXPECT_FALSE(stdfs::exists(Mnt(src_.other_path)));
  EXPECT_EQ(ReadWholeFile(Mnt("other_copy")), ReadWholeFile(Source(src_.other_path)));
}

TEST_F(DatadirFsTest, OtherOperationsPassThroughToTheScratch) {
  ASSERT_EQ(::mkdir(Mnt("d").c_str(), 0750), 0) << strerror(errno);
  struct stat st;
  ASSERT_EQ(::stat(Scratch("d").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0750u);
  ASSERT_EQ(::symlink("../PG_VERSION", Mnt("d/link").c_str()), 0);
  char target[64] = {};
  ASSERT_EQ(::readlink(Mnt("d/link").c_str(), target, sizeof target - 1), 13);
  EXPECT_STREQ(target, "../PG_VERSION");
  EXPECT_EQ(ReadWholeFile(Mnt("d/link")), "15\n");
  ASSERT_EQ(::link(Mnt("PG_VERSION").c_str(), Mnt("d/hard").c_str()), 0) << strerror(errno);
  ASSERT_EQ(::stat(Mnt("PG_VERSION").c_str(), &st), 0);
  EXPECT_EQ(st.st_nlink, 2u);
  EXPECT_NE(::link(Mnt(src_.t_path).c_str(), Mnt("d/rel").c_str()), 0);
  EXPECT_EQ(errno, EXDEV);
  EXPECT_NE(::rmdir(Mnt("d").c_str()), 0);
  EXPECT_EQ(errno, ENOTEMPTY);
  ASSERT_EQ(::unlink(Mnt("d/link").c_str()), 0);
  ASSERT_EQ(::unlink(Mnt("d/hard").c_str()), 0);
  ASSERT_EQ(::rmdir(Mnt("d").c_str()), 0) << strerror(errno);
  EXPECT_FALSE(stdfs::exists(Scratch("d")));

  ASSERT_EQ(::chmod(Mnt("PG_VERSION").c_str(), 0640), 0);
  ASSERT_EQ(::stat(Scratch("PG_VERSION").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  struct timespec times[2] = {{1000000000, 0}, {1234567890, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, Mnt("PG_VERSION").c_str(), times, 0), 0);
  ASSERT_EQ(::stat(Mnt("PG_VERSION").c_str(), &st), 0);
  EXPECT_EQ(st.st_mtim.tv_sec, 1234567890);

  struct statvfs vfs_mnt, vfs_scratch;
  ASSERT_EQ(::statvfs(mnt_.c_str(), &vfs_mnt), 0);
  ASSERT_EQ(::statvfs(scratch_.c_str(), &vfs_scratch), 0);
  EXPECT_EQ(vfs_mnt.f_blocks, vfs_scratch.f_blocks);

  int fd = ::open(Mnt("postgresql.auto.conf").c_str(), O_RDWR | O_APPEND);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, "# x\n", 4), 4);
  EXPECT_EQ(::fsync(fd), 0);
  EXPECT_EQ(::fdatasync(fd), 0);
  // PostgreSQL's pg_flush_data PANICs on any error but ENOSYS from this.
  EXPECT_EQ(::sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE), 0) << strerror(errno);
  EXPECT_EQ(::posix_fallocate(fd, 0, 100000), 0);
  ASSERT_EQ(::fstat(fd, &st), 0);
  EXPECT_EQ(st.st_size, 100000);
  ::close(fd);
  int dir = ::open(Mnt("global").c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(dir, 0);
  EXPECT_EQ(::fsync(dir), 0);
  ::close(dir);

  // fallocate past the end of a relation file extends it with zeros.
  fd = ::open(Mnt(src_.small_path).c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(::fallocate(fd, 0, kPage, 2 * kPage), 0) << strerror(errno);
  ::close(fd);
  EXPECT_EQ(ReadAt(Mnt(src_.small_path), 0, 4 * kPage), SourceBytes(src_.small_path, 0, kPage) + Bytes(2 * kPage, '\0'));

  std::vector<std::string> mnt_names, scratch_names;
  for (const auto& e : stdfs::directory_iterator(mnt_)) mnt_names.push_back(e.path().filename());
  for (const auto& e : stdfs::directory_iterator(scratch_)) scratch_names.push_back(e.path().filename());
  std::sort(mnt_names.begin(), mnt_names.end());
  std::sort(scratch_names.begin(), scratch_names.end());
  EXPECT_EQ(mnt_names, scratch_names);
}

TEST_F(DatadirFsTest, SnapshotTakesDirtyBlocksAndFloorsOnce) {
  {
    auto first = mounted_.fs().BeginSnapshot();
    ASSERT_TRUE(first.ok());
    EXPECT_TRUE((*first)->delta().dirty.empty());
    EXPECT_TRUE((*first)->delta().floors.empty());
  }
  const std::string db = DbDir();
  WriteAt(Mnt(src_.t_path), kPage, Bytes(kPage, '1'));
  WriteAt(Mnt(src_.t_path), 2 * kPage + 10, Bytes(100, '2'));
  WriteAt(Mnt(src_.other_path), kPage, Bytes(kPage, 'O'));
  ASSERT_EQ(::truncate(Mnt(src_.other_path).c_str(), kPage), 0);  // drops dirty block 1
  WriteAt(Mnt(src_.small_path), 0, Bytes(kPage, 'S'));
  ASSERT_EQ(::unlink(Mnt(src_.small_path).c_str()), 0);            // drops dirty block 0
  const std::string created = db + "/99999";
  CreateWith(Mnt(created), Bytes(kPage, 'N'));
  for (uint64_t blocks : {2, 5, 3}) {  // the floor is the smallest size, not the last
    ASSERT_EQ(::truncate(Mnt(src_.t_index_path).c_str(), blocks * kPage), 0);
  }

  auto session = mounted_.fs().BeginSnapshot();
  ASSERT_TRUE(session.ok());
  const SnapshotDelta& delta = (*session)->delta();
  ASSERT_EQ(delta.dirty.size(), 2u);
  EXPECT_EQ(delta.dirty[0].seg, SegOf(src_.t_path));
  EXPECT_EQ(delta.dirty[0].blocks, (std::vector<uint32_t>{1, 2}));
  EXPECT_EQ(delta.dirty[1].seg, SegOf(created));
  EXPECT_EQ(delta.dirty[1].blocks, (std::vector<uint32_t>{0}));
  std::map<RelTag, uint32_t> floors = {{SegOf(src_.other_path).tag, 1}, {SegOf(src_.small_path).tag, 0},
                                       {SegOf(created).tag, 0}, {SegOf(src_.t_index_path).tag, 2}};
  EXPECT_EQ(delta.floors, floors);

  session->reset();  // the blocks are read back without the lock
  std::string page(kPage, '\0');
  std::span<uint8_t> out(reinterpret_cast<uint8_t*>(page.data()), kPage);
  auto read = [&](const std::string& path, uint32_t block) {
    return mounted_.fs().ReadBlocks(SegOf(path), std::span<const uint32_t>(&block, 1), out);
  };
  ASSERT_TRUE(read(src_.t_path, 1).ok());
  EXPECT_EQ(page, Bytes(kPage, '1'));
  ASSERT_TRUE(read(src_.t_path, 2).ok());
  EXPECT_EQ(page, SourceBytes(src_.t_path, 2 * kPage, 10) + Bytes(100, '2') +
                      SourceBytes(src_.t_path, 2 * kPage + 110, kPage - 110));
  ASSERT_TRUE(read(created, 0).ok());
  EXPECT_EQ(page, Bytes(kPage, 'N'));
  EXPECT_EQ(read(src_.small_path, 0).code(), StatusCode::kNotFound);

  auto next = mounted_.fs().BeginSnapshot();
  ASSERT_TRUE(next.ok());
  EXPECT_TRUE((*next)->delta().dirty.empty());
  EXPECT_TRUE((*next)->delta().floors.empty());
}

TEST_F(DatadirFsTest, TruncateUnlinkAndCreateWaitForTheSnapshotButReadsAndWritesDoNot) {
  // Look the names up and open `other` first: the waiting operations hold
  // their directory's and file's kernel locks, which must not be what the
  // rest of the test waits on.
  struct stat st;
  ASSERT_EQ(::stat(Mnt(src_.t_path).c_str(), &st), 0);
  ASSERT_EQ(::stat(Mnt(src_.small_path).c_str(), &st), 0);
  int other = ::open(Mnt(src_.other_path).c_str(), O_RDWR);
  ASSERT_GE(other, 0);
  auto session = mounted_.fs().BeginSnapshot();
  ASSERT_TRUE(session.ok());
  std::atomic<int> done{0};
  std::vector<std::thread> waiters;
  waiters.emplace_back([&] {
    EXPECT_EQ(::truncate(Mnt(src_.t_path).c_str(), kPage), 0) << strerror(errno);
    ++done;
  });
  waiters.emplace_back([&] {
    EXPECT_EQ(::unlink(Mnt(src_.small_path).c_str()), 0) << strerror(errno);
    ++done;
  });
  waiters.emplace_back([&] {  // a new relation file in another directory
    int fd = ::open(Mnt("global/88888").c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
    EXPECT_GE(fd, 0) << strerror(errno);
    ::close(fd);
    ++done;
  });
  // All three reach the snapshot lock and wait there.
  ASSERT_TRUE(WaitUntil([&] { return (*session)->waiting() == 3; }, std::chrono::seconds(30)))
      << (*session)->waiting() << " waiting, " << done.load() << " done";
  EXPECT_EQ(done.load(), 0) << "a truncate, unlink or create went on while a snapshot was held";
  std::string page = Bytes(kPage, 'W');
  EXPECT_EQ(::pwrite(other, page.data(), kPage, 0), static_cast<ssize_t>(kPage));
  EXPECT_EQ(::pread(other, page.data(), kPage, kPage), static_cast<ssize_t>(kPage));
  EXPECT_EQ(page, SourceBytes(src_.other_path, kPage, kPage));
  ::close(other);
  session->reset();
  for (auto& t : waiters) t.join();
  EXPECT_EQ(done.load(), 3);
  EXPECT_EQ(stdfs::file_size(Mnt(src_.t_path)), kPage);
  EXPECT_FALSE(stdfs::exists(Mnt(src_.small_path)));
  EXPECT_TRUE(stdfs::exists(Scratch("global/88888")));
}

TEST_F(DatadirFsTest, FailingPageSourceGivesEioAndTheMountKeepsServing) {
  const std::string& rel = src_.t_path;
  pages_->fail = true;
  int fd = ::open(Mnt(rel).c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  char buf[kPage];
  EXPECT_EQ(::pread(fd, buf, kPage, 0), -1);
  EXPECT_EQ(errno, EIO);
  std::string partial = Bytes(100, 'P');
  EXPECT_EQ(::pwrite(fd, partial.data(), partial.size(), 3 * kPage + 1), -1) << "a read-modify-write needs the page";
  EXPECT_EQ(errno, EIO);
  std::string whole = Bytes(kPage, 'W');
  EXPECT_EQ(::pwrite(fd, whole.data(), kPage, 5 * kPage), static_cast<ssize_t>(kPage)) << strerror(errno);
  EXPECT_EQ(ReadAt(Mnt(rel), 5 * kPage, kPage), whole);
  EXPECT_EQ(ReadWholeFile(Mnt("PG_VERSION")), "15\n");
  EXPECT_TRUE(RunCommand({"ls", "-l", Mnt("base")}).ok());

  pages_->fail = false;
  EXPECT_EQ(::pread(fd, buf, kPage, 0), static_cast<ssize_t>(kPage)) << strerror(errno);
  EXPECT_EQ(std::string(buf, kPage), SourceBytes(rel, 0, kPage));
  ::close(fd);
}

}  // namespace
}  // namespace zenith::fs::testing
