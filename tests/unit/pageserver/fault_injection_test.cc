// Faults injected under the page server's writes (common/file_io.h,
// tests/harness/fault_file_io.h), on each path that writes a repository:
// a snapshot upload writing its layer, a branch creation writing its
// timeline and ref, and WAL preparation for a mount copying segments. For
// each fault (a short write followed by a full disk, EIO on a write, ENOSPC
// on a write, EIO on an fsync, a crash before an fsync) at every write or
// fsync the operation makes:
//   - the operation fails with an error naming the cause and the place;
//   - the repository, reopened from disk as a restarted page server opens
//     it, is exactly as before: every file byte for byte, no temp file, the
//     same pages served. A crash may also leave what docs/design.md §10
//     allows, and nothing else: the whole result of the operation (only if
//     unsynced directory entries survive), an unreferenced timeline, a WAL
//     segment copied whole;
//   - once the fault is gone the same operation succeeds, and what it
//     returned OK for survives a crash right after it.
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <optional>

#include "pageserver/layers/layer_writer.h"
#include "tests/harness/fault_file_io.h"
#include "tests/unit/pageserver/repo_state.h"
#include "tests/unit/pageserver/repo_test_support.h"

namespace zenith::pageserver::testing {
namespace {

using ::zenith::testing::Fault;
using ::zenith::testing::FaultFileIo;
using ::zenith::testing::FaultRule;
using ::zenith::testing::FileOp;
using CrashMode = FaultFileIo::CrashMode;

const RelTag kPgClass{1663, 5, 1259, ForkNumber::kMain};  // changed by CREATE TABLE
constexpr uint32_t kSampleBlocks = 4;

// A fault at the nth call of a kind (writes or fsyncs) on paths containing
// `where`.
struct FaultKind {
  std::string name;
  std::function<std::vector<FaultRule>(int nth, const std::string& where)> rules;
  std::string error;  // what the operation's error says
};

std::vector<FaultKind> IoFaults() {
  return {
      {"a short write, then a full disk",
       [](int n, const std::string& w) {
         return std::vector<FaultRule>{
             {FileOp::kWrite, w, n, 1, Fault::kShortWrite},
             {FileOp::kWrite, w, n + 1, FaultRule::kForever, Fault::kEnospc}};
       },
       "No space left on device"},
      {"EIO on a write",
       [](int n, const std::string& w) { return std::vector<FaultRule>{{FileOp::kWrite, w, n, 1, Fault::kEio}}; },
       "Input/output error"},
      {"ENOSPC on a write and every one after",
       [](int n, const std::string& w) {
         return std::vector<FaultRule>{{FileOp::kWrite, w, n, FaultRule::kForever, Fault::kEnospc}};
       },
       "No space left on device"},
      {"EIO on an fsync",
       [](int n, const std::string& w) { return std::vector<FaultRule>{{FileOp::kFsync, w, n, 1, Fault::kEio}}; },
       "Input/output error"},
  };
}

// One operation under test.
struct Operation {
  std::function<Status()> run;
  std::string where;  // a path prefix its writes go under (rules match on it)
  std::string names;  // what its errors must mention besides the cause
  // Checks the paths (relative to the root) that a crash left beyond the
  // state before, given the crash mode; returns whether the operation took
  // effect. Called on a restarted server.
  std::function<bool(const std::vector<std::string>& added, CrashMode mode)> check_added;
  // Checks that the operation took effect, after it returned OK.
  std::function<void()> expect_done;
};

class FaultInjectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Status s = repo_.Create();
    ASSERT_TRUE(s.ok()) << s.ToString();
    s = RunComputeOnMain(repo_, {"CREATE TABLE t (x int, pad text)",
                                 "INSERT INTO t SELECT g, repeat('x', 300) FROM generate_series(1, 2000) g",
                                 "SELECT pg_switch_wal()",
                                 "INSERT INTO t SELECT g, repeat('y', 300) FROM generate_series(1, 1000) g"});
    ASSERT_TRUE(s.ok()) << s.ToString();
    ASSERT_NO_FATAL_FAILURE(Start());
    main_ = BranchTimeline(repo_.layout(), "main").value();
    auto snaps = ListSnapshots(conninfo(), "main");
    ASSERT_TRUE(snaps.ok() && snaps->size() == 1);
    layer0_ = (*snaps)[0].lsns;

    // The snapshot a mount of main would upload at the compute's last checkpoint.
    const std::string compute = repo_.dir().Sub("main-compute");
    auto control = ReadFileToString(compute + "/global/pg_control");
    ASSERT_TRUE(control.ok());
    auto stream = CollectSnapshot(conninfo(), "main", layer0_.valid, compute, *control, repo_.layout().wal_dir(main_));
    ASSERT_TRUE(stream.ok()) << stream.status().ToString();
    stream_ = std::move(*stream);
    auto pg_class = ReadFileToString(compute + "/" + RelationSegmentPath(kPgClass, 0));
    ASSERT_TRUE(pg_class.ok());
    compute_pg_class_ = pg_class->substr(0, kSampleBlocks * size_t{kPageSize});

    // A branch at main's end of WAL, whose wal/ a mount would have prepared.
    ASSERT_TRUE(RunQuery(conninfo(), "branch_create w main").ok());
    auto w = DescribeTimeline(conninfo(), "w");
    ASSERT_TRUE(w.ok() && w->ancestor_lsn.has_value());
    w_ = *TimelineId::Parse(w->timeline_id);
    w_branch_point_ = *w->ancestor_lsn;
    ASSERT_NO_FATAL_FAILURE(ReadExpectedSegments());

    before_ = ReadState();
    before_pages_ = Sample("main", layer0_.valid);
    ASSERT_EQ(before_pages_.size(), kSampleBlocks * size_t{kPageSize});
    scope_.emplace(io_);  // from here on every write goes through io_
  }

  const std::string& conninfo() const { return server_->conninfo(); }
  std::string root() const { return repo_.root(); }

  // What a page server does when it starts: opens the repository, removes
  // the temp files a crash left, and (as the first requests or GC would)
  // loads every timeline, which removes theirs.
  void Start() {
    auto server = InProcessServer::Start(root());
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(*server);
    ASSERT_TRUE(server_->repo().RemoveStaleTempFiles().ok());
    auto all = server_->repo().AllTimelines();
    ASSERT_TRUE(all.ok()) << all.status().ToString();
  }
  void Restart() {
    server_.reset();
    ASSERT_NO_FATAL_FAILURE(Start());
  }
  // The process dies; the disk keeps what the crash model says; a new
  // page server starts.
  void CrashAndRestart(CrashMode mode) {
    server_.reset();
    ASSERT_TRUE(io_.SimulateCrash(mode).ok());
    ASSERT_NO_FATAL_FAILURE(Start());
  }

  RepoState ReadState() {
    auto state = state_reader_.Read();
    EXPECT_TRUE(state.ok()) << state.status().ToString();
    return state.ok() ? *state : RepoState{};
  }

  // kSampleBlocks blocks of pg_class read through the server, or the error.
  std::string Sample(const std::string& timeline, Lsn lsn) {
    auto stream = PageStream::Open(conninfo(), timeline);
    if (!stream.ok()) return stream.status().ToString();
    std::string out(kSampleBlocks * size_t{kPageSize}, '\0');
    std::vector<uint32_t> blocks;
    for (uint32_t b = 0; b < kSampleBlocks; ++b) blocks.push_back(b);
    Status s = (*stream)->GetPages(kPgClass, blocks, lsn,
                                   std::span(reinterpret_cast<uint8_t*>(out.data()), out.size()));
    return s.ok() ? out : s.ToString();
  }

  // The repository is as it was before the operation: on disk, byte for
  // byte, and as the restarted server serves it.
  void ExpectAsBefore() {
    EXPECT_EQ(DiffRepoStates(before_, ReadState()), std::vector<std::string>{});
    auto snaps = ListSnapshots(conninfo(), "main");
    ASSERT_TRUE(snaps.ok()) << snaps.status().ToString();
    EXPECT_EQ(snaps->size(), 1u) << "main has only layer 0";
    EXPECT_TRUE(Sample("main", layer0_.valid) == before_pages_) << "pages of main changed";
  }

  // Removes what an operation added (after it was checked), so that the
  // next fault meets the repository as it was before.
  void RemoveAdded() {
    server_.reset();
    for (const std::string& path : AddedPaths(before_, ReadState())) std::filesystem::remove_all(root() + "/" + path);
    ASSERT_NO_FATAL_FAILURE(Start());
    ASSERT_NO_FATAL_FAILURE(ExpectAsBefore());
  }

  // Runs `op` under each kind of fault at its 1st, 2nd, ... matching call,
  // until the call count passes the operation's own (it then runs clean).
  void CheckIoFaults(const Operation& op) {
    for (const FaultKind& kind : IoFaults()) {
      for (int n = 1;; ++n) {
        SCOPED_TRACE(kind.name + ", at call " + std::to_string(n));
        for (const FaultRule& rule : kind.rules(n, op.where)) io_.AddRule(rule);
        const int faults = io_.faults_injected();
        Status s = op.run();
        const bool injected = io_.faults_injected() > faults;
        io_.ClearRules();
        if (!injected) {
          ASSERT_TRUE(s.ok()) << s.ToString();
          ASSERT_GT(n, 1) << "the operation made no such call";
          ASSERT_NO_FATAL_FAILURE(op.expect_done());
          ASSERT_NO_FATAL_FAILURE(RemoveAdded());
          break;
        }
        ASSERT_FALSE(s.ok()) << "the fault must surface";
        EXPECT_NE(s.message().find(kind.error), std::string::npos) << s.ToString();
        EXPECT_NE(s.message().find(op.names), std::string::npos) << s.ToString();
        EXPECT_EQ(DiffRepoStates(before_, ReadState()), std::vector<std::string>{})
            << "a failure cleans up at once: no temp file holds space until a restart";
        ASSERT_NO_FATAL_FAILURE(Restart());
        ASSERT_NO_FATAL_FAILURE(ExpectAsBefore());
      }
    }
    // Once the disk behaves, the operation succeeds.
    Status s = op.run();
    ASSERT_TRUE(s.ok()) << s.ToString();
    ASSERT_NO_FATAL_FAILURE(op.expect_done());
  }

  // Runs `op` with a crash before its 1st, 2nd, ... fsync, in both crash
  // modes, until it makes no more fsyncs; then checks that what it
  // returned OK for survives a crash.
  void CheckCrashes(const Operation& op) {
    for (CrashMode mode : {CrashMode::kDropUnsyncedEntries, CrashMode::kKeepUnsyncedEntries}) {
      const std::string mode_name = mode == CrashMode::kDropUnsyncedEntries ? "unsynced entries dropped" : "kept";
      for (int n = 1;; ++n) {
        SCOPED_TRACE("a crash before fsync " + std::to_string(n) + ", " + mode_name);
        io_.AddRule({FileOp::kFsync, root(), n, 1, Fault::kCrash});
        Status s = op.run();
        const bool crashed = io_.crashed();
        io_.ClearRules();
        if (!crashed) {
          ASSERT_TRUE(s.ok()) << s.ToString();
          ASSERT_GT(n, 1) << "the operation made no fsync";
          ASSERT_NO_FATAL_FAILURE(CrashAndRestart(mode));
          ASSERT_NO_FATAL_FAILURE(op.expect_done()) << "what returned OK must survive a crash";
          ASSERT_NO_FATAL_FAILURE(RemoveAdded());
          break;
        }
        ASSERT_FALSE(s.ok());
        EXPECT_NE(s.message().find("Input/output error"), std::string::npos) << s.ToString();
        EXPECT_NE(s.message().find(op.names), std::string::npos) << s.ToString();
        ASSERT_NO_FATAL_FAILURE(CrashAndRestart(mode));
        const RepoState now = ReadState();
        EXPECT_TRUE(KeepsEverything(before_, now)) << ::testing::PrintToString(DiffRepoStates(before_, now));
        const bool took_effect = op.check_added(AddedPaths(before_, now), mode);
        if (!took_effect) {
          EXPECT_TRUE(Sample("main", layer0_.valid) == before_pages_);
        }
        ASSERT_NO_FATAL_FAILURE(RemoveAdded());
      }
    }
  }

  // ---- Snapshot upload ------------------------------------------------------

  Operation Upload() {
    const std::string layers = repo_.layout().layers_dir(main_);
    const std::string layers_rel = layers.substr(root().size() + 1);
    return {[this] { return PutSnapshot(conninfo(), "main", stream_); }, layers, layers,
            [this, layers_rel](const std::vector<std::string>& added, CrashMode mode) {
              for (const auto& path : added) {
                EXPECT_TRUE(path.starts_with(layers_rel + "/") && IsLayerFileName(path.substr(layers_rel.size() + 1)))
                    << "only a layer may appear: " << path;
              }
              if (added.empty()) return false;
              EXPECT_EQ(mode, CrashMode::kKeepUnsyncedEntries) << "the layer's name was never made durable";
              EXPECT_EQ(added.size(), 1u);
              ExpectSnapshotStored();
              return true;
            },
            [this] { ExpectSnapshotStored(); }};
  }

  void ExpectSnapshotStored() {
    auto snaps = ListSnapshots(conninfo(), "main");
    ASSERT_TRUE(snaps.ok()) << snaps.status().ToString();
    ASSERT_EQ(snaps->size(), 2u);
    EXPECT_EQ((*snaps)[0].lsns, stream_.end.lsns);
    EXPECT_EQ((*snaps)[0].pages, stream_.end.page_count);
    EXPECT_TRUE(Sample("main", stream_.end.lsns.valid) == compute_pg_class_) << "the snapshot's pages";
    EXPECT_TRUE(Sample("main", layer0_.valid) == before_pages_) << "layer 0's pages";
  }

  // ---- Branch creation ------------------------------------------------------

  Operation CreateBranch() {
    return {[this] { return RunQuery(conninfo(), "branch_create b main").status(); }, root(),
            "branch 'b' was not created",
            [this](const std::vector<std::string>& added, CrashMode mode) {
              bool ref = false;
              for (const auto& path : added) {
                if (path == "refs/branches/b") {
                  ref = true;
                  continue;
                }
                // An unreferenced timeline: the refs are those of before
                // plus b, so only b could name it.
                EXPECT_TRUE(path.starts_with("timelines/") && TimelineId::Parse(path.substr(10, 32)))
                    << "only a new timeline may appear: " << path;
              }
              if (!ref) return false;
              EXPECT_EQ(mode, CrashMode::kKeepUnsyncedEntries) << "the ref's name was never made durable";
              ExpectBranchCreated();
              return true;
            },
            [this] { ExpectBranchCreated(); }};
  }

  void ExpectBranchCreated() {
    auto b = DescribeTimeline(conninfo(), "b");
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    EXPECT_EQ(b->ancestor_timeline_id, main_.ToString());
    const TimelineId id = *TimelineId::Parse(b->timeline_id);
    for (const std::string& path : {repo_.layout().metadata(id), repo_.layout().wal_dir(id), repo_.layout().layers_dir(id)}) {
      EXPECT_TRUE(PathExists(path)) << path;
    }
    EXPECT_TRUE(Sample("b", layer0_.valid) == before_pages_) << "b reads main's pages";
  }

  // ---- WAL preparation ------------------------------------------------------

  // What w's wal/ must hold once prepared from layer 0's redo: main's
  // segments, the branch point's zeroed after it.
  void ReadExpectedSegments() {
    for (uint64_t segno = layer0_.redo.segment_number(); segno <= w_branch_point_.segment_number(); ++segno) {
      const std::string name = WalSegmentFileName(kPgTimeLineId, segno);
      auto bytes = ReadFileToString(repo_.layout().wal_dir(main_) + "/" + name);
      ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
      if (segno == w_branch_point_.segment_number()) {
        const size_t cut = w_branch_point_.segment_offset();
        std::fill(bytes->begin() + static_cast<std::ptrdiff_t>(cut), bytes->end(), '\0');
      }
      expected_segments_[name] = std::move(*bytes);
    }
    ASSERT_GE(expected_segments_.size(), 2u) << "main's WAL crosses a segment boundary";
  }

  Operation PrepareWal() {
    const std::string wal = repo_.layout().wal_dir(w_);
    const std::string wal_rel = wal.substr(root().size() + 1);
    return {[this] { return RunQuery(conninfo(), "prepare_wal w " + layer0_.redo.ToString()).status(); }, wal,
            "could not prepare the WAL of timeline " + w_.ToString(),
            [this, wal, wal_rel](const std::vector<std::string>& added, CrashMode) {
              for (const auto& path : added) {
                const std::string name = path.substr(path.rfind('/') + 1);
                if (path != wal_rel + "/" + name || !expected_segments_.count(name)) {
                  ADD_FAILURE() << "only a segment may appear: " << path;
                  continue;
                }
                EXPECT_TRUE(ReadFileToString(wal + "/" + name).value_or("") == expected_segments_[name])
                    << path << " is not the ancestor's WAL, whole";
              }
              return added.size() == expected_segments_.size();
            },
            [this, wal] {
              std::vector<std::string> names;
              for (const auto& [name, bytes] : expected_segments_) {
                EXPECT_TRUE(ReadFileToString(wal + "/" + name).value_or("") == bytes) << name;
                names.push_back(name);
              }
              EXPECT_EQ(ListDirectory(wal).value_or(std::vector<std::string>{}), names);
            }};
  }

  FaultFileIo io_;
  TestRepo repo_{"fault-injection"};
  std::optional<ScopedFileIo> scope_;            // after repo_: its files go through the real calls
  std::unique_ptr<InProcessServer> server_;      // after scope_: its threads are gone first
  RepoStateReader state_reader_{repo_.root()};
  TimelineId main_, w_;
  SnapshotLsns layer0_;
  Lsn w_branch_point_;
  SnapshotStream stream_;
  std::string compute_pg_class_, before_pages_;
  std::map<std::string, std::string> expected_segments_;
  RepoState before_;
};

TEST_F(FaultInjectionTest, ASnapshotUploadWhoseLayerWriteFailsChangesNothing) { CheckIoFaults(Upload()); }

TEST_F(FaultInjectionTest, ASnapshotUploadCutByACrashLeavesNothingOrTheWholeLayer) { CheckCrashes(Upload()); }

TEST_F(FaultInjectionTest, ABranchCreationWhoseWritesFailChangesNothing) { CheckIoFaults(CreateBranch()); }

TEST_F(FaultInjectionTest, ABranchCreationCutByACrashLeavesNoRefOrTheWholeBranch) { CheckCrashes(CreateBranch()); }

TEST_F(FaultInjectionTest, WalPreparationWhoseWritesFailChangesNothing) { CheckIoFaults(PrepareWal()); }

TEST_F(FaultInjectionTest, WalPreparationCutByACrashLeavesOnlyWholeSegments) { CheckCrashes(PrepareWal()); }

}  // namespace
}  // namespace zenith::pageserver::testing
