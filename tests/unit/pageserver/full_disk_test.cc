// A real full disk, not an injected fault: a repository on a small tmpfs
// (tests/run.sh, run as root, mounts one at /var/tmp/zenith-small-disk;
// without it the test is skipped), filled up with a ballast file. Uploading
// a snapshot, creating a branch and preparing WAL for a mount each fail
// with an error saying there is no space; the repository, reopened on the
// full disk, holds exactly what it held and serves the same pages; once
// the ballast is deleted the same operation succeeds.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/magic.h>
#include <sys/file.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>

#include "tests/unit/pageserver/repo_state.h"
#include "tests/unit/pageserver/repo_test_support.h"

namespace zenith::pageserver::testing {
namespace {

constexpr char kSmallDisk[] = "/var/tmp/zenith-small-disk";
const RelTag kPgClass{1663, 5, 1259, ForkNumber::kMain};

class FullDiskTest : public ::testing::Test {
 protected:
  void SetUp() override {
    struct statfs fs;
    if (::statfs(kSmallDisk, &fs) != 0 || fs.f_type != TMPFS_MAGIC) {
      GTEST_SKIP() << "no small disk to fill: tests/run.sh, run as root, mounts a tmpfs at " << kSmallDisk;
    }
    // One user of the small disk at a time: another test run fills it too.
    lock_ = UniqueFd(::open((std::string(kSmallDisk) + "/.lock").c_str(), O_RDONLY | O_CREAT | O_CLOEXEC, 0666));
    ASSERT_TRUE(lock_.valid()) << std::strerror(errno);
    ASSERT_EQ(::flock(lock_.get(), LOCK_EX), 0) << std::strerror(errno);
    std::string dir = std::string(kSmallDisk) + "/repo-XXXXXX";
    ASSERT_NE(::mkdtemp(dir.data()), nullptr) << std::strerror(errno);
    disk_dir_ = dir;
    root_ = disk_dir_ + "/.zenith";
    ballast_ = disk_dir_ + "/ballast";

    Status s = InitdbCluster(work_.Sub("initdb"));
    ASSERT_TRUE(s.ok()) << s.ToString();
    s = CreateRepository(root_, work_.Sub("initdb"), RepoConfig{});
    ASSERT_TRUE(s.ok()) << s.ToString();
    s = RunComputeOnMain(root_, work_.Sub("initdb"), work_.path(),
                         {"CREATE TABLE t (x int, pad text)",
                          "INSERT INTO t SELECT g, repeat('x', 300) FROM generate_series(1, 2000) g"});
    ASSERT_TRUE(s.ok()) << s.ToString();
    ASSERT_NO_FATAL_FAILURE(Start());
    auto snaps = ListSnapshots(conninfo(), "main");
    ASSERT_TRUE(snaps.ok() && snaps->size() == 1);
    layer0_ = (*snaps)[0].lsns;
    const std::string compute = work_.Sub("main-compute");
    auto control = ReadFileToString(compute + "/global/pg_control");
    ASSERT_TRUE(control.ok());
    const TimelineId main = BranchTimeline(RepoLayout{root_}, "main").value();
    auto stream = CollectSnapshot(conninfo(), "main", layer0_.valid, compute, *control, RepoLayout{root_}.wal_dir(main));
    ASSERT_TRUE(stream.ok()) << stream.status().ToString();
    stream_ = std::move(*stream);
  }

  void TearDown() override {
    server_.reset();
    if (!disk_dir_.empty()) IgnoreError(RemoveTree(disk_dir_));
  }

  const std::string& conninfo() const { return server_->conninfo(); }

  void Start() {
    auto server = InProcessServer::Start(root_);
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(*server);
    ASSERT_TRUE(server_->repo().RemoveStaleTempFiles().ok());
    ASSERT_TRUE(server_->repo().AllTimelines().ok());
  }

  // Writes the ballast until the disk refuses another page.
  void FillDisk() {
    UniqueFd fd(::open(ballast_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
    ASSERT_TRUE(fd.valid()) << std::strerror(errno);
    const std::string chunk(1 << 20, 'b');
    for (size_t size = chunk.size(); size >= 4096; size /= 16) {
      for (;;) {
        ssize_t n = ::write(fd.get(), chunk.data(), size);
        if (n < 0) {
          ASSERT_EQ(errno, ENOSPC) << std::strerror(errno);
          break;
        }
      }
    }
    struct statvfs vfs;
    ASSERT_EQ(::statvfs(kSmallDisk, &vfs), 0);
    ASSERT_EQ(vfs.f_bavail, 0u) << "the disk is full";
  }

  // Pages of pg_class at `lsn` of `timeline`, or the error.
  std::string Sample(const std::string& timeline, Lsn lsn) {
    auto stream = PageStream::Open(conninfo(), timeline);
    if (!stream.ok()) return stream.status().ToString();
    std::string out(4 * size_t{kPageSize}, '\0');
    const uint32_t blocks[] = {0, 1, 2, 3};
    Status s = (*stream)->GetPages(kPgClass, blocks, lsn, std::span(reinterpret_cast<uint8_t*>(out.data()), out.size()));
    return s.ok() ? out : s.ToString();
  }

  // Fills the disk, runs `op` (which must fail saying there is no space
  // and mentioning `names`), restarts the server on the full disk and
  // checks that the repository and the pages of main at `lsn` are as
  // before; then frees the space and runs `op` again, which must succeed.
  void CheckFullDisk(const std::function<Status()>& op, const std::string& names, Lsn lsn) {
    RepoStateReader reader(root_);
    const RepoState before = reader.Read().value();
    const std::string pages = Sample("main", lsn);
    ASSERT_EQ(pages.size(), 4 * size_t{kPageSize}) << pages;
    ASSERT_NO_FATAL_FAILURE(FillDisk());

    Status s = op();
    ASSERT_FALSE(s.ok()) << "the disk is full";
    EXPECT_NE(s.message().find("No space left on device"), std::string::npos) << s.ToString();
    EXPECT_NE(s.message().find(names), std::string::npos) << s.ToString();
    EXPECT_EQ(DiffRepoStates(before, reader.Read().value()), std::vector<std::string>{}) << "cleaned up at once";
    server_.reset();
    ASSERT_NO_FATAL_FAILURE(Start());  // on the full disk
    EXPECT_EQ(DiffRepoStates(before, reader.Read().value()), std::vector<std::string>{});
    EXPECT_TRUE(Sample("main", lsn) == pages) << "main's pages are served as before";

    ASSERT_TRUE(RemoveFile(ballast_).ok());
    s = op();
    EXPECT_TRUE(s.ok()) << "with space again: " << s.ToString();
  }

  TempDir work_{"full-disk"};  // initdb and the compute: not on the small disk
  UniqueFd lock_;
  std::string disk_dir_, root_, ballast_;
  std::unique_ptr<InProcessServer> server_;
  SnapshotLsns layer0_;
  SnapshotStream stream_;
};

TEST_F(FullDiskTest, EachWriteFailsClearlyLosesNothingAndWorksOnceSpaceReturns) {
  {
    SCOPED_TRACE("uploading a snapshot (a layer)");
    ASSERT_NO_FATAL_FAILURE(CheckFullDisk([&] { return PutSnapshot(conninfo(), "main", stream_); }, "/layers/",
                                          layer0_.valid));
    auto snaps = ListSnapshots(conninfo(), "main");
    ASSERT_TRUE(snaps.ok());
    ASSERT_EQ(snaps->size(), 2u);
    EXPECT_EQ((*snaps)[0].lsns, stream_.end.lsns);
  }
  const Lsn valid = stream_.end.lsns.valid;
  {
    SCOPED_TRACE("creating a branch");
    ASSERT_NO_FATAL_FAILURE(CheckFullDisk([&] { return RunQuery(conninfo(), "branch_create b main").status(); },
                                          "branch 'b' was not created", valid));
    EXPECT_TRUE(Sample("b", valid) == Sample("main", valid));
  }
  {
    SCOPED_TRACE("preparing WAL for a mount of the branch");
    const std::string b = DescribeTimeline(conninfo(), "b").value().timeline_id;
    ASSERT_NO_FATAL_FAILURE(
        CheckFullDisk([&] { return RunQuery(conninfo(), "prepare_wal b " + stream_.end.lsns.redo.ToString()).status(); },
                      "could not prepare the WAL of timeline " + b, valid));
    const std::string wal = RepoLayout{root_}.wal_dir(*TimelineId::Parse(b));
    auto names = ListDirectory(wal);
    ASSERT_TRUE(names.ok());
    EXPECT_FALSE(names->empty());
    for (const auto& name : *names) EXPECT_TRUE(ParseWalSegmentFileName(name).has_value()) << name;
  }
}

}  // namespace
}  // namespace zenith::pageserver::testing
