// The file-I/O seam (common/file_io.h) and the fault-injecting FileIo of the
// test harness: rules fire on the calls they name, a short write writes
// half, a crash before an fsync loses what the crash model says it loses.
// Then the durable writes of common/file_util.h under every fault a disk
// can throw at them: a short write (resumed, or followed by a full disk),
// EIO and ENOSPC on a write, EIO on an fsync, and a crash before each
// fsync. Each failure is an error naming the file; the old contents stay
// (or no file appears); no temp file outlives the next clean-up.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <string>
#include <vector>

#include "common/file_io.h"
#include "common/file_util.h"
#include "tests/harness/fault_file_io.h"
#include "tests/harness/temp_dir.h"

namespace zenith::testing {
namespace {

using CrashMode = FaultFileIo::CrashMode;

std::span<const uint8_t> Bytes(std::string_view s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }

std::string Contents(const std::string& path) {
  auto text = ReadFileToString(path);
  if (text.ok()) return *text;
  return text.status().code() == StatusCode::kNotFound ? "<absent>" : text.status().ToString();
}

std::vector<std::string> Names(const std::string& dir) { return ListDirectory(dir).value(); }

// ---- FaultFileIo itself -----------------------------------------------------

class FaultFileIoTest : public ::testing::Test {
 protected:
  // A new file written through `io_` (and fsynced if `sync`).
  void WriteNew(const std::string& path, std::string_view data, bool sync) {
    auto fd = OpenFile(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    ASSERT_TRUE(fd.ok()) << fd.status().ToString();
    ASSERT_TRUE(WriteFull(fd->get(), Bytes(data), path).ok());
    if (sync) {
      ASSERT_TRUE(FsyncFd(fd->get(), path).ok());
    }
  }

  TempDir dir_{"fault-file-io"};
  FaultFileIo io_;
  ScopedFileIo scope_{io_};
};

TEST(FileIoTest, TheCurrentFileIoIsPosixUnlessAScopeInstallsAnother) {
  EXPECT_EQ(&CurrentFileIo(), &PosixFileIo());
  FaultFileIo outer, inner;
  {
    ScopedFileIo a(outer);
    EXPECT_EQ(&CurrentFileIo(), &outer);
    {
      ScopedFileIo b(inner);
      EXPECT_EQ(&CurrentFileIo(), &inner);
    }
    EXPECT_EQ(&CurrentFileIo(), &outer);
  }
  EXPECT_EQ(&CurrentFileIo(), &PosixFileIo());
}

TEST_F(FaultFileIoTest, ARuleFiresOnTheNthMatchingCallAndNoOther) {
  io_.AddRule({.op = FileOp::kWrite, .path_contains = "target", .nth = 2, .fault = Fault::kEio});
  const std::string other = dir_.Sub("other"), target = dir_.Sub("target");
  auto o = OpenFile(other, O_WRONLY | O_CREAT, 0600);
  auto t = OpenFile(target, O_WRONLY | O_CREAT, 0600);
  ASSERT_TRUE(o.ok() && t.ok());
  EXPECT_TRUE(PwriteFull(o->get(), Bytes("x"), 0, other).ok()) << "another path does not count";
  EXPECT_TRUE(PwriteFull(t->get(), Bytes("1"), 0, target).ok()) << "the 1st matching write";
  Status second = PwriteFull(t->get(), Bytes("2"), 1, target);
  EXPECT_EQ(second.code(), StatusCode::kIoError);
  EXPECT_EQ(second.sys_errno(), EIO);
  EXPECT_NE(second.message().find(target), std::string::npos) << second.ToString();
  EXPECT_TRUE(PwriteFull(t->get(), Bytes("3"), 2, target).ok()) << "times = 1: the 3rd goes through";
  EXPECT_TRUE(FsyncFd(t->get(), target).ok()) << "an fsync is not a write";
  EXPECT_EQ(io_.faults_injected(), 1);
  EXPECT_EQ(io_.last_fault_path(), target);
  EXPECT_EQ(io_.Calls(FileOp::kWrite, "target"), 3);
  EXPECT_EQ(Contents(target), std::string("1\0" "3", 3));
}

TEST_F(FaultFileIoTest, ARuleForeverKeepsFailingUntilCleared) {
  io_.AddRule({.op = FileOp::kAny, .times = FaultRule::kForever, .fault = Fault::kEnospc});
  for (int i = 0; i < 3; ++i) {
    Status s = MakeDirectoryDurably(dir_.Sub("d"));
    EXPECT_EQ(s.sys_errno(), ENOSPC) << s.ToString();
  }
  EXPECT_FALSE(PathExists(dir_.Sub("d")));
  io_.ClearRules();
  EXPECT_TRUE(MakeDirectoryDurably(dir_.Sub("d")).ok());
}

TEST_F(FaultFileIoTest, AShortWriteWritesTheFirstHalfAndReturnsItsLength) {
  io_.AddRule({.op = FileOp::kWrite, .fault = Fault::kShortWrite});
  const std::string path = dir_.Sub("f");
  auto fd = OpenFile(path, O_WRONLY | O_CREAT, 0600);
  ASSERT_TRUE(fd.ok());
  auto n = io_.Pwrite(fd->get(), Bytes("0123456789"), 0, path);
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(*n, 5u);
  EXPECT_EQ(Contents(path), "01234");
  // PwriteFull resumes after it, as after any short write(2).
  io_.AddRule({.op = FileOp::kWrite, .fault = Fault::kShortWrite});
  ASSERT_TRUE(PwriteFull(fd->get(), Bytes("abcdefgh"), 5, path).ok());
  EXPECT_EQ(Contents(path), "01234abcdefgh");
  EXPECT_EQ(io_.Calls(FileOp::kWrite), 3);
}

TEST_F(FaultFileIoTest, ACrashCutsEachFileBackToWhatWasSynced) {
  const std::string synced = dir_.Sub("synced"), unsynced = dir_.Sub("unsynced");
  ASSERT_TRUE(FsyncDirectory(dir_.path()).ok());  // (nothing to make durable yet)
  ASSERT_NO_FATAL_FAILURE(WriteNew(synced, "kept", true));
  ASSERT_NO_FATAL_FAILURE(WriteNew(unsynced, "lost", false));
  ASSERT_TRUE(FsyncDirectory(dir_.path()).ok());  // both names are durable
  auto fd = OpenFile(synced, O_WRONLY, 0);
  ASSERT_TRUE(fd.ok());
  ASSERT_TRUE(PwriteFull(fd->get(), Bytes(" and lost"), 4, synced).ok());
  ASSERT_TRUE(io_.SimulateCrash(CrashMode::kKeepUnsyncedEntries).ok());
  EXPECT_EQ(Contents(synced), "kept");
  EXPECT_EQ(Contents(unsynced), "");
}

TEST_F(FaultFileIoTest, ACrashUndoesDirectoryEntriesNotSyncedOrKeepsThemByMode) {
  for (CrashMode mode : {CrashMode::kDropUnsyncedEntries, CrashMode::kKeepUnsyncedEntries}) {
    const bool drop = mode == CrashMode::kDropUnsyncedEntries;
    SCOPED_TRACE(drop ? "drop unsynced entries" : "keep unsynced entries");
    TempDir dir("fault-file-io-entries");
    {  // Made before this FileIo saw them: durable, as files that were there before.
      ScopedFileIo posix(PosixFileIo());
      ASSERT_TRUE(WriteFileDurably(dir.Sub("replaced"), "old").ok());
      ASSERT_TRUE(WriteFileDurably(dir.Sub("removed"), "still here").ok());
      ASSERT_TRUE(WriteFileDurably(dir.Sub("durable"), "old").ok());
    }
    // A rename whose directory is fsynced afterwards survives either way.
    ASSERT_NO_FATAL_FAILURE(WriteNew(dir.Sub("tmp1"), "new", true));
    ASSERT_TRUE(RenameFile(dir.Sub("tmp1"), dir.Sub("durable")).ok());
    ASSERT_TRUE(FsyncDirectory(dir.path()).ok());
    // Not synced in the directory: a new file, a rename over a file, a
    // removal, a new directory (each file's own contents are fsynced).
    ASSERT_NO_FATAL_FAILURE(WriteNew(dir.Sub("created"), "c", true));
    ASSERT_NO_FATAL_FAILURE(WriteNew(dir.Sub("tmp2"), "new", true));
    ASSERT_TRUE(RenameFile(dir.Sub("tmp2"), dir.Sub("replaced")).ok());
    ASSERT_TRUE(RemoveFile(dir.Sub("removed")).ok());
    ASSERT_TRUE(MakeDirectories(dir.Sub("sub")).ok());

    ASSERT_TRUE(io_.SimulateCrash(mode).ok());
    EXPECT_EQ(Contents(dir.Sub("durable")), "new");
    if (drop) {
      EXPECT_EQ(Names(dir.path()), (std::vector<std::string>{"durable", "removed", "replaced"}))
          << "created, tmp2 (renamed back, then its creation undone) and sub are gone";
      EXPECT_EQ(Contents(dir.Sub("replaced")), "old") << "the rename went back";
      EXPECT_EQ(Contents(dir.Sub("removed")), "still here") << "the removal went back";
    } else {
      EXPECT_EQ(Names(dir.path()), (std::vector<std::string>{"created", "durable", "replaced", "sub"}));
      EXPECT_EQ(Contents(dir.Sub("created")), "c");
      EXPECT_EQ(Contents(dir.Sub("replaced")), "new");
    }
  }
}

TEST_F(FaultFileIoTest, ACrashFaultFailsThatCallAndEveryLaterChangeUntilSimulateCrash) {
  io_.AddRule({.op = FileOp::kFsync, .fault = Fault::kCrash});
  const std::string path = dir_.Sub("f");
  auto fd = OpenFile(path, O_WRONLY | O_CREAT, 0600);
  ASSERT_TRUE(fd.ok());
  ASSERT_TRUE(PwriteFull(fd->get(), Bytes("data"), 0, path).ok());
  EXPECT_EQ(FsyncFd(fd->get(), path).sys_errno(), EIO);
  EXPECT_TRUE(io_.crashed());
  EXPECT_EQ(PwriteFull(fd->get(), Bytes("more"), 4, path).sys_errno(), EIO) << "the process is dead";
  EXPECT_EQ(RemoveFile(path).sys_errno(), EIO) << "even clean-up";
  EXPECT_EQ(Contents(path), "data") << "reads still work: the test looks at the disk";
  ASSERT_TRUE(io_.SimulateCrash(CrashMode::kDropUnsyncedEntries).ok());
  EXPECT_FALSE(io_.crashed());
  EXPECT_FALSE(PathExists(path)) << "created, never made durable in its directory";
  EXPECT_TRUE(MakeDirectoryDurably(dir_.Sub("d")).ok()) << "the next process works";
}

// ---- Durable writes under faults ---------------------------------------------

// A fault and where it strikes a durable write of one file: writes and
// fsyncs are counted on paths inside the file's directory, so fsync 1 is
// the temp file's and fsync 2 the directory's.
struct FaultCase {
  std::string name;
  std::vector<FaultRule> rules;
  bool crash = false;
};

std::vector<FaultCase> FaultCases(const std::string& name, const std::string& dir) {
  std::vector<FaultCase> out;
  out.push_back({"a short write, then a full disk",
                 {{.op = FileOp::kWrite, .path_contains = name, .fault = Fault::kShortWrite},
                  {.op = FileOp::kWrite, .path_contains = name, .nth = 2, .times = FaultRule::kForever,
                   .fault = Fault::kEnospc}}});
  out.push_back({"EIO on the write", {{.op = FileOp::kWrite, .path_contains = name, .fault = Fault::kEio}}});
  out.push_back({"ENOSPC on the write", {{.op = FileOp::kWrite, .path_contains = name, .fault = Fault::kEnospc}}});
  out.push_back({"EIO on the file's fsync", {{.op = FileOp::kFsync, .path_contains = dir, .fault = Fault::kEio}}});
  out.push_back({"EIO on the directory's fsync",
                 {{.op = FileOp::kFsync, .path_contains = dir, .nth = 2, .fault = Fault::kEio}}});
  out.push_back({"a crash before the file's fsync", {{.op = FileOp::kFsync, .path_contains = dir, .fault = Fault::kCrash}}, true});
  out.push_back({"a crash before the directory's fsync",
                 {{.op = FileOp::kFsync, .path_contains = dir, .nth = 2, .fault = Fault::kCrash}}, true});
  return out;
}

enum class Write { kReplace, kCreateExclusive };

class DurableWriteFaultTest : public ::testing::TestWithParam<Write> {
 protected:
  Status WriteIt(const std::string& path, const std::string& contents) {
    return GetParam() == Write::kReplace ? WriteFileDurably(path, contents) : CreateFileDurablyExclusive(path, contents);
  }

  // Writes "precious" over `before` ("" for no file) under the fault
  // FaultCases(...)[i] and checks the outcome, then writes it again
  // without the fault.
  void Check(size_t i, const std::string& before, CrashMode mode) {
    TempDir dir("durable-write-fault");
    const std::string path = dir.Sub("precious");
    const FaultCase c = FaultCases("precious", dir.path()).at(i);
    if (!c.crash && mode == CrashMode::kKeepUnsyncedEntries) return;  // no crash: no mode
    SCOPED_TRACE(c.name + (before.empty() ? ", new file" : ", replacing a file") +
                 (!c.crash ? "" : mode == CrashMode::kDropUnsyncedEntries ? ", unsynced entries dropped"
                                                                          : ", unsynced entries kept"));
    if (!before.empty()) {
      ASSERT_TRUE(WriteFileDurably(path, before).ok());
    }
    const auto names_before = Names(dir.path());
    FaultFileIo io;
    ScopedFileIo scope(io);
    for (const FaultRule& r : c.rules) io.AddRule(r);

    Status s = WriteIt(path, "new contents");
    ASSERT_FALSE(s.ok()) << "the fault must surface";
    EXPECT_GE(io.faults_injected(), 1);
    EXPECT_EQ(s.code(), StatusCode::kIoError) << s.ToString();
    EXPECT_NE(s.message().find("\"" + path + "\""), std::string::npos) << "names the file: " << s.ToString();
    const bool enospc = c.rules.back().fault == Fault::kEnospc;
    EXPECT_NE(s.message().find(enospc ? "No space left on device" : "Input/output error"), std::string::npos)
        << s.ToString();

    if (c.crash) {
      ASSERT_TRUE(io.SimulateCrash(mode).ok());
      auto removed = RemoveStaleTempFiles(dir.path());  // what the next start does
      ASSERT_TRUE(removed.ok()) << removed.status().ToString();
      const std::string now = Contents(path);
      const bool renamed_before_crash = c.rules.front().nth == 2;
      if (mode == CrashMode::kKeepUnsyncedEntries && renamed_before_crash) {
        EXPECT_EQ(now, "new contents") << "the rename reached the disk: the new file, whole";
      } else {
        EXPECT_EQ(now, before.empty() ? "<absent>" : before);
      }
      EXPECT_EQ(Names(dir.path()), PathExists(path) ? std::vector<std::string>{"precious"} : std::vector<std::string>{})
          << "no temp file outlives the clean-up";
    } else {
      EXPECT_EQ(Contents(path), before.empty() ? "<absent>" : before) << "the old contents, intact";
      EXPECT_EQ(Names(dir.path()), names_before) << "no temp file is left";
    }

    // Once the disk behaves, the same write succeeds.
    io.ClearRules();
    if (GetParam() == Write::kCreateExclusive && PathExists(path)) {
      ASSERT_TRUE(RemoveFile(path).ok());
    }
    Status again = WriteIt(path, "new contents");
    ASSERT_TRUE(again.ok()) << again.ToString();
    EXPECT_EQ(Contents(path), "new contents");
    EXPECT_EQ(Names(dir.path()), std::vector<std::string>{"precious"});
  }
};

TEST_P(DurableWriteFaultTest, EachFaultIsAnErrorNamingTheFileAndChangesNothing) {
  for (const std::string& before : {std::string(), std::string("old contents")}) {
    if (GetParam() == Write::kCreateExclusive && !before.empty()) continue;  // refused: see below
    for (CrashMode mode : {CrashMode::kDropUnsyncedEntries, CrashMode::kKeepUnsyncedEntries}) {
      for (size_t i = 0; i < FaultCases("", "").size(); ++i) ASSERT_NO_FATAL_FAILURE(Check(i, before, mode));
    }
  }
}

TEST_P(DurableWriteFaultTest, AShortWriteAloneIsResumedAndTheFileIsWhole) {
  TempDir dir("durable-write-short");
  const std::string path = dir.Sub("precious");
  FaultFileIo io;
  ScopedFileIo scope(io);
  io.AddRule({.op = FileOp::kWrite, .path_contains = "precious", .times = 3, .fault = Fault::kShortWrite});
  const std::string contents(10000, 'z');
  ASSERT_TRUE(WriteIt(path, contents).ok());
  EXPECT_EQ(io.faults_injected(), 3);
  EXPECT_EQ(io.Calls(FileOp::kWrite, "precious"), 4) << "three halves, then the rest";
  EXPECT_EQ(Contents(path), contents);
  EXPECT_EQ(Names(dir.path()), std::vector<std::string>{"precious"});
}

INSTANTIATE_TEST_SUITE_P(Writes, DurableWriteFaultTest, ::testing::Values(Write::kReplace, Write::kCreateExclusive),
                         [](const auto& info) { return info.param == Write::kReplace ? "WriteFileDurably" : "CreateFileDurablyExclusive"; });

TEST(DurableWriteTest, CreatingExclusivelyOverAnExistingFileIsRefusedAndLeavesIt) {
  TempDir dir("durable-write-exclusive");
  const std::string path = dir.Sub("precious");
  ASSERT_TRUE(WriteFileDurably(path, "first").ok());
  Status s = CreateFileDurablyExclusive(path, "second");
  EXPECT_EQ(s.code(), StatusCode::kAlreadyExists) << s.ToString();
  EXPECT_EQ(Contents(path), "first");
  EXPECT_EQ(Names(dir.path()), std::vector<std::string>{"precious"});
}

TEST(DurableWriteTest, ADirectoryWhoseParentCannotBeSyncedIsRemovedAgain) {
  TempDir dir("durable-mkdir");
  FaultFileIo io;
  ScopedFileIo scope(io);
  io.AddRule({.op = FileOp::kFsync, .path_contains = dir.path(), .fault = Fault::kEio});
  Status s = MakeDirectoryDurably(dir.Sub("sub"));
  EXPECT_EQ(s.sys_errno(), EIO) << s.ToString();
  EXPECT_NE(s.message().find(dir.Sub("sub")), std::string::npos) << s.ToString();
  EXPECT_FALSE(PathExists(dir.Sub("sub")));
  EXPECT_TRUE(MakeDirectoryDurably(dir.Sub("sub")).ok());
}

TEST(StaleTempFileTest, CleanUpRemovesTempFilesACrashLeftButNotOnesBeingWritten) {
  TempDir dir("stale-temp");
  ASSERT_TRUE(WriteFileDurably(dir.Sub(".ref.tmp.99999"), "left by a crash").ok());
  ASSERT_TRUE(WriteFileDurably(dir.Sub(".ref.old.tmp.99999"), "left by a crash").ok());
  ASSERT_TRUE(WriteFileDurably(dir.Sub("ref"), "real").ok());
  ASSERT_TRUE(WriteFileDurably(dir.Sub(".hidden"), "not a temp name").ok());
  LiveTempFile live(dir.Sub(".layer.tmp.1.2"));
  ASSERT_TRUE(WriteFileDurably(live.path(), "being written").ok());
  auto removed = RemoveStaleTempFiles(dir.path());
  ASSERT_TRUE(removed.ok()) << removed.status().ToString();
  EXPECT_EQ(*removed, (std::vector<std::string>{dir.Sub(".ref.old.tmp.99999"), dir.Sub(".ref.tmp.99999")}));
  EXPECT_EQ(Names(dir.path()), (std::vector<std::string>{".hidden", ".layer.tmp.1.2", "ref"}));
}

}  // namespace
}  // namespace zenith::testing
