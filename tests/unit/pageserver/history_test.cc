// Compaction and GC carried out (history.h) on a repository with real WAL:
// what compaction replaces reads the same at every kept snapshot and is
// gone from disk; pins and branch points keep their snapshots; GC removes
// layers and WAL segments no point needs, persists its cutoff and refuses
// branches before it; deleted branches go whole; a crash between writing a
// merged layer and removing its inputs loses nothing; and a run whose steps
// fail (a full disk, a file that will not go) changes nothing it should
// not and is reported (Health) until a run succeeds.
#include <gtest/gtest.h>

#include <random>

#include "pageserver/layers/layer_merge.h"
#include "pageserver/repo/history.h"
#include "tests/harness/fault_file_io.h"
#include "tests/unit/pageserver/repo_test_support.h"

namespace zenith::pageserver::testing {
namespace {

const RelTag kRel{1663, 5, 424242, ForkNumber::kMain};
constexpr uint32_t kBlocks = 16;

class HistoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Status s = repo_.Create();
    ASSERT_TRUE(s.ok()) << s.ToString();
    std::vector<std::string> sql = {"CREATE TABLE t (x int, pad text)"};
    for (int i = 0; i < 4; ++i) {
      sql.push_back("INSERT INTO t SELECT g, repeat('x', 300) FROM generate_series(1, 300) g");
      sql.push_back("SELECT pg_switch_wal()");
    }
    s = RunComputeOnMain(repo_, sql);
    ASSERT_TRUE(s.ok()) << s.ToString();
    Reopen();
    const Lsn layer0 = main_->OwnLayers().at(0)->lsns().valid;
    WalReader reader(main_->MakeWalReader(), repo_obj_->config().system_id, layer0);
    for (;;) {
      auto rec = reader.ReadRecord();
      ASSERT_TRUE(rec.ok());
      if (*rec == nullptr) break;
      if ((*rec)->end_lsn.page_offset() != 0) ends_.push_back({(*rec)->start_lsn, (*rec)->end_lsn});
    }
    ASSERT_GT(ends_.size(), 100u);
  }

  void Reopen() {
    main_.reset();
    history_.reset();
    repo_obj_ = Repository::Open(repo_.root()).value();
    main_ = repo_obj_->FindTimeline("main").value();
    HistoryOptions options;
    options.compaction.max_unmerged_layers = 4;
    history_ = std::make_unique<History>(*repo_obj_, options);
  }

  // Commits a layer at the i-th record of `ends_`, writing `blocks` of
  // kRel (filled with `fill`) with kRel `size` blocks long and `floor`.
  Result<std::shared_ptr<const LayerFile>> Commit(Timeline& tl, size_t i, std::vector<uint32_t> blocks, char fill,
                                                  uint32_t size, uint32_t floor) {
    ZENITH_ASSIGN_OR_RETURN(auto writer, LayerWriter::Create(tl.layers_dir(), tl.id()));
    for (uint32_t b : blocks) {
      std::vector<uint8_t> page(kPageSize, static_cast<uint8_t>(fill));
      page[1] = static_cast<uint8_t>(b);
      ZENITH_RETURN_IF_ERROR(writer->AddPage(kRel, b, page));
    }
    ZENITH_RETURN_IF_ERROR(writer->SetRelation(kRel, {size, floor}));
    const auto& r = ends_.at(i);
    return tl.CommitLayer(*writer, {r.first, r.second, r.second});
  }

  // Commits `n` layers at records first, first + step, ...: random writes,
  // now and then a truncation.
  std::vector<Lsn> CommitMany(Timeline& tl, size_t first, size_t step, int n) {
    std::vector<Lsn> valids;
    uint32_t size = kBlocks;
    for (int k = 0; k < n; ++k) {
      uint32_t floor = size;
      if (rng_() % 4 == 0) floor = size = static_cast<uint32_t>(rng_() % kBlocks);
      size = std::max<uint32_t>(size, static_cast<uint32_t>(rng_() % (kBlocks + 1)));
      std::vector<uint32_t> blocks;
      for (uint32_t b = 0; b < size; ++b) {
        if (rng_() % 3 == 0) blocks.push_back(b);
      }
      auto layer = Commit(tl, first + step * k, blocks, static_cast<char>('a' + k % 26), size, floor);
      EXPECT_TRUE(layer.ok()) << layer.status().ToString();
      if (layer.ok()) valids.push_back((*layer)->lsns().valid);
    }
    return valids;
  }

  static std::string Read(const Timeline& tl, Lsn at) {
    auto view = tl.ViewAt(at);
    std::string out = view->newest() ? view->newest()->lsns().valid.ToString() + ":" : "none:";
    for (uint32_t b = 0; b < kBlocks; ++b) {
      auto page = view->GetPage(kRel, b);
      out += page.ok() ? std::string(1, (*page)[0] ? static_cast<char>((*page)[0]) : '0') : std::string("-");
    }
    return out;
  }

  size_t LayerFiles(const Timeline& tl) { return ListDirectory(tl.layers_dir()).value().size(); }

  TestRepo repo_{"history"};
  std::unique_ptr<Repository> repo_obj_;
  std::shared_ptr<Timeline> main_;
  std::unique_ptr<History> history_;
  std::vector<std::pair<Lsn, Lsn>> ends_;  // (start, end) of records after layer 0
  std::mt19937_64 rng_{0x415};
};

TEST_F(HistoryTest, CompactionMergesRunsAndKeptSnapshotsReadTheSame) {
  std::vector<Lsn> valids = CommitMany(*main_, 5, 3, 12);
  auto branch = repo_obj_->CreateBranch("mid", "main@" + valids[4].ToString());
  ASSERT_TRUE(branch.ok()) << branch.status().ToString();
  std::map<Lsn, std::string> before;
  for (Lsn v : valids) before[v] = Read(*main_, v);

  auto report = history_->Compact();
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_GE(report->total.merges, 1u);
  const auto layers = main_->OwnLayers();
  EXPECT_LT(layers.size(), 1 + valids.size());
  EXPECT_EQ(LayerFiles(*main_), layers.size()) << "the replaced files are gone";
  EXPECT_EQ(Read(*main_, valids.back()), before[valids.back()]) << "the newest snapshot reads the same";
  EXPECT_EQ(Read(*main_, valids[4]), before[valids[4]]) << "so does the branch point's";
  auto mid = repo_obj_->FindTimeline("mid").value();
  EXPECT_EQ(Read(*mid, valids[4]), before[valids[4]]);
  // Every snapshot left is one of the originals, reading as it did.
  for (const auto& l : layers) {
    if (before.count(l->lsns().valid)) {
      EXPECT_EQ(Read(*main_, l->lsns().valid), before[l->lsns().valid]);
    }
  }

  Reopen();
  EXPECT_EQ(main_->OwnLayers().size(), layers.size());
  EXPECT_EQ(Read(*main_, valids.back()), before[valids.back()]);
  auto again = history_->Compact();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->total.merges + again->total.images, 0u) << "nothing left to do";
}

TEST_F(HistoryTest, APinnedSnapshotIsNotMergedAway) {
  std::vector<Lsn> valids = CommitMany(*main_, 5, 3, 10);
  const std::string pinned = Read(*main_, valids[3]);
  ASSERT_TRUE(repo_obj_->Pin(/*session=*/7, *main_, valids[3]).ok());
  EXPECT_EQ(repo_obj_->Pin(7, *main_, valids[3] - 1).code(), StatusCode::kNotFound) << "no snapshot is valid there";
  ASSERT_TRUE(history_->Compact().ok());
  EXPECT_EQ(main_->ViewAt(valids[3])->newest()->lsns().valid, valids[3]);
  EXPECT_EQ(Read(*main_, valids[3]), pinned);
  repo_obj_->Unpin(7);
  ASSERT_TRUE(history_->Compact().ok());
  EXPECT_NE(main_->ViewAt(valids[3])->newest()->lsns().valid, valids[3]) << "merged once unpinned";
  EXPECT_EQ(repo_obj_->Pin(8, *main_, valids[3]).code(), StatusCode::kNotFound);
}

TEST_F(HistoryTest, GcRemovesWhatNoPointNeedsAndRefusesBranchesBeforeItsCutoff) {
  const size_t last = ends_.size() - 1;
  std::vector<Lsn> valids = CommitMany(*main_, last - 30, 3, 10);
  const auto wal_before = ListDirectory(main_->wal_dir()).value();
  const std::string newest = Read(*main_, valids.back());
  auto early = repo_obj_->CreateBranch("early", "main@" + valids[2].ToString());
  ASSERT_TRUE(early.ok()) << early.status().ToString();

  auto report = history_->CollectGarbage(/*window_seconds=*/0);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(main_->gc_cutoff(), valids.back());
  EXPECT_EQ(ReadFileToString(main_->layers_dir() + "/../gc_cutoff").value(), valids.back().ToString() + "\n");
  // The branch point keeps its snapshot's chain; the image at layer 0 too.
  EXPECT_EQ(main_->ViewAt(valids[2])->newest()->lsns().valid, valids[2]);
  const Lsn redo = ends_[last - 30 + 3 * 2].first;  // the branch point replays from its snapshot's redo
  for (const auto& name : ListDirectory(main_->wal_dir()).value()) {
    auto seg = ParseWalSegmentFileName(name);
    if (seg) {
      EXPECT_GE(seg->segno, redo.segment_number()) << name << " should be gone";
    }
  }
  EXPECT_LT(ListDirectory(main_->wal_dir()).value().size(), wal_before.size());
  Status refused = repo_obj_->CreateBranch("old", "main@" + valids[5].ToString()).status();
  EXPECT_EQ(refused.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(refused.message().find("the oldest LSN still available is " + valids.back().ToString()), std::string::npos)
      << refused.message();
  EXPECT_TRUE(repo_obj_->CreateBranch("new", "main@" + valids.back().ToString()).ok());

  // Once the branch is gone, so is what only it needed.
  ASSERT_TRUE(repo_obj_->DeleteBranch("early").ok());
  const std::string early_dir = repo_.layout().timeline_dir(early->timeline);
  ASSERT_TRUE(PathExists(early_dir));
  report = history_->CollectGarbage(0);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_FALSE(PathExists(early_dir));
  const LayerFile* at_branch_point = main_->ViewAt(valids[2])->newest();
  EXPECT_TRUE(at_branch_point == nullptr || at_branch_point->lsns().valid != valids[2]);
  EXPECT_EQ(Read(*main_, valids.back()), newest);

  Reopen();
  EXPECT_EQ(main_->gc_cutoff(), valids.back()) << "the cutoff survives a restart";
  EXPECT_TRUE(repo_obj_->FindTimeline("new").ok());
}

TEST_F(HistoryTest, ACompactionThatCannotWriteIsReportedUntilARunSucceeds) {
  using ::zenith::testing::FaultFileIo;
  using ::zenith::testing::FaultRule;
  std::vector<Lsn> valids = CommitMany(*main_, 5, 3, 12);
  const std::string newest = Read(*main_, valids.back());
  const size_t layers = main_->OwnLayers().size();
  EXPECT_EQ(history_->Health().compaction.last_run, 0) << "no run yet";
  {
    FaultFileIo io;
    io.AddRule({::zenith::testing::FileOp::kWrite, "layers", 1, FaultRule::kForever, ::zenith::testing::Fault::kEnospc});
    ScopedFileIo scope(io);
    for (int run = 0; run < 2; ++run) {
      auto report = history_->Compact();
      ASSERT_TRUE(report.ok()) << "a failed step is skipped, not the run: " << report.status().ToString();
      EXPECT_EQ(report->total.merges + report->total.images, 0u);
    }
    EXPECT_GT(io.faults_injected(), 0);
  }
  HistoryRunHealth health = history_->Health().compaction;
  EXPECT_GT(health.last_run, 0);
  EXPECT_EQ(health.failing_runs, 2u);
  EXPECT_GT(health.failing_since, 0);
  EXPECT_LE(health.failing_since, health.last_run);
  EXPECT_NE(health.problem.find("No space left"), std::string::npos) << health.problem;
  EXPECT_EQ(history_->Health().gc.last_run, 0) << "GC did not run";
  EXPECT_EQ(main_->OwnLayers().size(), layers) << "nothing was replaced";
  EXPECT_EQ(LayerFiles(*main_), layers) << "and no partial file is left";
  EXPECT_EQ(Read(*main_, valids.back()), newest);

  auto report = history_->Compact();
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_GE(report->total.merges, 1u);
  health = history_->Health().compaction;
  EXPECT_EQ(health.failing_runs, 0u) << health.problem;
  EXPECT_EQ(health.failing_since, 0);
  EXPECT_EQ(health.problem, "");
  EXPECT_LT(main_->OwnLayers().size(), layers);
  EXPECT_EQ(Read(*main_, valids.back()), newest);
}

TEST_F(HistoryTest, AGcThatCannotRemoveFilesIsReportedAndRemovesThemNextTime) {
  using ::zenith::testing::FaultFileIo;
  using ::zenith::testing::FaultRule;
  const size_t last = ends_.size() - 1;
  std::vector<Lsn> valids = CommitMany(*main_, last - 30, 3, 10);
  const std::string newest = Read(*main_, valids.back());
  {
    FaultFileIo io;
    io.AddRule({::zenith::testing::FileOp::kUnlink, "", 1, FaultRule::kForever, ::zenith::testing::Fault::kEio});
    ScopedFileIo scope(io);
    auto report = history_->CollectGarbage(/*window_seconds=*/0);
    ASSERT_TRUE(report.ok()) << "a file that will not go is skipped: " << report.status().ToString();
    EXPECT_GT(io.faults_injected(), 0);
  }
  HistoryRunHealth health = history_->Health().gc;
  EXPECT_EQ(health.failing_runs, 1u);
  EXPECT_NE(health.problem.find(main_->id().ToString()), std::string::npos) << "names the file: " << health.problem;
  const size_t files_left = ListDirectory(main_->wal_dir()).value().size() + LayerFiles(*main_);
  EXPECT_EQ(Read(*main_, valids.back()), newest);

  auto report = history_->CollectGarbage(0);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  health = history_->Health().gc;
  EXPECT_EQ(health.failing_runs, 0u) << health.problem;
  EXPECT_EQ(health.problem, "");
  EXPECT_LT(ListDirectory(main_->wal_dir()).value().size() + LayerFiles(*main_), files_left)
      << "what the failed run could not remove is gone now";
  EXPECT_EQ(Read(*main_, valids.back()), newest);
}

TEST_F(HistoryTest, BranchDeletionIsRefusedWhileChildrenOrAMountNeedIt) {
  ASSERT_TRUE(repo_obj_->CreateBranch("a", "main").ok());
  ASSERT_TRUE(repo_obj_->CreateBranch("b", "a").ok());
  Status s = repo_obj_->DeleteBranch("a");
  EXPECT_EQ(s.code(), StatusCode::kBusy);
  EXPECT_NE(s.message().find("branch 'a' has child branches (b)"), std::string::npos) << s.message();
  auto b = repo_obj_->FindTimeline("b").value();
  ASSERT_TRUE(repo_obj_->Attach({b->id(), "b", "/mnt/b", 4242, 1}).ok());
  s = repo_obj_->DeleteBranch("b");
  EXPECT_EQ(s.code(), StatusCode::kBusy);
  EXPECT_NE(s.message().find("is mounted at /mnt/b (zenith-fs pid 4242)"), std::string::npos) << s.message();
  repo_obj_->Detach(b->id(), 1);
  EXPECT_TRUE(repo_obj_->DeleteBranch("b").ok());
  EXPECT_EQ(repo_obj_->Attach({b->id(), "b", "/mnt/b", 4242, 2}).code(), StatusCode::kNotFound);
  EXPECT_TRUE(repo_obj_->DeleteBranch("a").ok());
  s = repo_obj_->DeleteBranch("main");
  EXPECT_EQ(s.code(), StatusCode::kBusy);
  EXPECT_NE(s.message().find("the only branch"), std::string::npos) << s.message();
  EXPECT_EQ(repo_obj_->DeleteBranch("nosuch").code(), StatusCode::kNotFound);
  EXPECT_EQ(repo_obj_->ListBranches().value().size(), 1u);
}

TEST_F(HistoryTest, ACrashBeforeTheInputsOfAMergeAreRemovedLeavesTheMergedLayer) {
  std::vector<Lsn> valids = CommitMany(*main_, 5, 3, 5);
  const std::string before = Read(*main_, valids.back());
  auto own = main_->OwnLayers();  // layer 0 and the five
  std::vector<std::shared_ptr<const LayerFile>> inputs(own.rbegin(), own.rend() - 2);  // the newest four
  const LayerFile& top = *inputs.front();
  auto merged = WriteMergedLayer(inputs, main_->layers_dir(), main_->id(),
                                 LayerMeta(top.lsns(), inputs.back()->meta().start, false, 0));
  ASSERT_TRUE(merged.ok()) << merged.status().ToString();
  // And an image of the newest, as if it too was written just before a crash.
  auto chain = main_->ViewAt(valids.back())->layers();
  auto image = WriteMergedLayer(chain, main_->layers_dir(), main_->id(), LayerMeta(top.lsns(), top.meta().start, true, 0));
  ASSERT_TRUE(image.ok()) << image.status().ToString();
  ASSERT_EQ(LayerFiles(*main_), 8u);

  Reopen();
  auto layers = main_->OwnLayers();
  ASSERT_EQ(layers.size(), 3u) << "layer 0, the oldest snapshot, and the merged layer";
  EXPECT_EQ(layers[2]->path(), *merged) << "it holds the range of the image too: the image is inside it";
  EXPECT_EQ(LayerFiles(*main_), 3u) << "what the merged layer replaces is removed";
  EXPECT_EQ(Read(*main_, valids.back()), before);
}

}  // namespace
}  // namespace zenith::pageserver::testing
