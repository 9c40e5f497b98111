// Timelines over real WAL: a repository imported from initdb whose main
// then ran a real PostgreSQL (WAL past layer 0, across a segment switch).
// Covers the end of WAL, rounding branch points down to record ends,
// preparing a branch's wal/ (checked with pg_waldump), which layers a
// timeline sees along its ancestry, CommitLayer's checks, loading, and
// waiting for WAL.
#include <fcntl.h>
#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "common/wal_segment_writer.h"
#include "tests/harness/wait.h"
#include "tests/unit/pageserver/repo_test_support.h"

namespace zenith::pageserver::testing {
namespace {

const RelTag kRel{1663, 5, 424242, ForkNumber::kMain};

struct WalRecordSpan {
  Lsn start, end;
};

class TimelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Status s = repo_.Create();
    ASSERT_TRUE(s.ok()) << s.ToString();
    s = RunComputeOnMain(repo_, {"CREATE TABLE t (x int, pad text)",
                                 "INSERT INTO t SELECT g, repeat('x', 300) FROM generate_series(1, 2000) g",
                                 "SELECT pg_switch_wal()",
                                 "INSERT INTO t SELECT g, repeat('y', 300) FROM generate_series(1, 2000) g"});
    ASSERT_TRUE(s.ok()) << s.ToString();
    Reopen();
    layer0_ = main_->OwnLayers().at(0)->lsns();
    WalReader reader(main_->MakeWalReader(), system_id(), layer0_.valid);
    for (;;) {
      auto rec = reader.ReadRecord();
      ASSERT_TRUE(rec.ok());
      if (*rec == nullptr) break;
      records_.push_back({(*rec)->start_lsn, (*rec)->end_lsn});
    }
    ASSERT_GT(records_.size(), 1000u);
    end_ = records_.back().end;
  }

  // A fresh Repository object: nothing cached from the previous one.
  void Reopen() {
    main_.reset();
    auto repo = Repository::Open(repo_.root());
    ASSERT_TRUE(repo.ok()) << repo.status().ToString();
    repo_obj_ = std::move(*repo);
    auto main = repo_obj_->FindTimeline("main");
    ASSERT_TRUE(main.ok()) << main.status().ToString();
    main_ = *main;
  }
  uint64_t system_id() const { return repo_obj_->config().system_id; }

  std::shared_ptr<Timeline> Branch(const std::string& name, const std::string& parent_spec) {
    auto created = repo_obj_->CreateBranch(name, parent_spec);
    EXPECT_TRUE(created.ok()) << created.status().ToString();
    if (!created.ok()) return nullptr;
    auto tl = repo_obj_->FindTimeline(name);
    EXPECT_TRUE(tl.ok());
    return tl.ok() ? *tl : nullptr;
  }

  // A record well inside the WAL past layer 0, in the segment after the switch if `second_segment`.
  WalRecordSpan RecordInSegment(bool second_segment) const {
    const uint64_t seg = layer0_.valid.segment_number() + (second_segment ? 1 : 0);
    std::vector<WalRecordSpan> in;
    for (const auto& r : records_) {
      if (r.start.segment_number() == seg && r.end.segment_number() == seg && r.end.page_offset() != 0) in.push_back(r);
    }
    EXPECT_GT(in.size(), 10u);
    return in.at(in.size() / 2);
  }

  // A layer committed to `tl` with the given LSNs, holding block 0 of kRel
  // filled with `fill` (with a floor of 1: reads of it fall through, so it
  // is not complete, as a real snapshot's layer seldom is).
  Result<std::shared_ptr<const LayerFile>> Commit(Timeline& tl, SnapshotLsns lsns, char fill) {
    ZENITH_ASSIGN_OR_RETURN(auto writer, LayerWriter::Create(tl.layers_dir(), tl.id()));
    ZENITH_RETURN_IF_ERROR(writer->AddPage(kRel, 0, std::vector<uint8_t>(kPageSize, static_cast<uint8_t>(fill))));
    ZENITH_RETURN_IF_ERROR(writer->SetRelation(kRel, {1, 1}));
    return tl.CommitLayer(*writer, lsns);
  }
  static std::string PageByte(const SnapshotView& view) {
    auto page = view.GetPage(kRel, 0);
    return page.ok() ? std::string(1, static_cast<char>((*page)[0])) : std::string(StatusCodeName(page.status().code()));
  }
  static std::vector<Lsn> Valids(const SnapshotView& view) {
    std::vector<Lsn> out;
    for (const auto& l : view.layers()) out.push_back(l->lsns().valid);
    return out;
  }
  std::vector<std::string> LayerNames(const Timeline& tl) {
    auto names = ListDirectory(tl.layers_dir());
    EXPECT_TRUE(names.ok());
    return names.ok() ? *names : std::vector<std::string>{};
  }

  TestRepo repo_{"timeline"};
  std::unique_ptr<Repository> repo_obj_;
  std::shared_ptr<Timeline> main_;
  SnapshotLsns layer0_;
  std::vector<WalRecordSpan> records_;  // every record after layer 0
  Lsn end_;
};

TEST_F(TimelineTest, EndOfWalIsTheEndOfTheShutdownCheckpointPostgresWroteLast) {
  auto control_bytes = ReadFileToString(repo_.dir().Sub("main-compute/global/pg_control"));
  ASSERT_TRUE(control_bytes.ok());
  auto control = DecodeControlFile(AsBytes(*control_bytes));
  ASSERT_TRUE(control.ok());
  ASSERT_EQ(control->state, DbState::kShutdowned);
  auto end = main_->EndOfWal();
  ASSERT_TRUE(end.ok()) << end.status().ToString();
  EXPECT_EQ(*end, end_);
  EXPECT_EQ(records_.back().start, control->checkpoint) << "the last record is the shutdown checkpoint";
  EXPECT_GT(end->segment_number(), layer0_.valid.segment_number()) << "the WAL crossed a segment switch";
  auto again = main_->EndOfWal();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *end);
}

TEST_F(TimelineTest, RoundDownKeepsExactlyTheRecordsEndingAtOrBeforeX) {
  // Each call reads from the snapshot's checkpoint up to x: a sample of
  // records, spread over the whole WAL, keeps this quick.
  Lsn prev_end = layer0_.valid;
  int checked = 0;
  const size_t stride = std::max<size_t>(1, records_.size() / 50);
  for (size_t i = 0; i < records_.size(); i += stride) {
    const WalRecordSpan& r = records_[i];
    if (i > 0) prev_end = records_[i - 1].end;
    for (Lsn x : {r.end, r.start, r.start + 1, r.end - 1, prev_end + 1}) {
      if (x < prev_end) continue;
      Lsn want = x >= r.end ? r.end : prev_end;
      auto got = main_->RoundDownToRecordEnd(x);
      ASSERT_TRUE(got.ok()) << x.ToString() << ": " << got.status().ToString();
      ASSERT_EQ(*got, want) << "x " << x.ToString() << " in the record " << r.start.ToString() << ".." << r.end.ToString();
      ++checked;
    }
  }
  EXPECT_GT(checked, 150);
  auto at_layer = main_->RoundDownToRecordEnd(layer0_.valid);
  ASSERT_TRUE(at_layer.ok());
  EXPECT_EQ(*at_layer, layer0_.valid);
  auto switch_padding = main_->RoundDownToRecordEnd(Lsn(end_.segment_start().value - 1));
  ASSERT_TRUE(switch_padding.ok());
  EXPECT_LT(*switch_padding, end_.segment_start()) << "inside the switch record's padding";
}

TEST_F(TimelineTest, RoundDownRefusesLsnsPastTheEndOrBeforeTheOldestSnapshot) {
  auto past = main_->RoundDownToRecordEnd(end_ + 1);
  EXPECT_EQ(past.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(past.status().message().find("beyond the end of WAL (" + end_.ToString() + ")"), std::string::npos)
      << past.status().message();
  for (Lsn early : {Lsn(1), layer0_.redo, layer0_.valid - 1}) {
    auto before = main_->RoundDownToRecordEnd(early);
    EXPECT_EQ(before.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(before.status().message().find("before the oldest snapshot (valid at " + layer0_.valid.ToString()),
              std::string::npos)
        << before.status().message();
  }
}

TEST_F(TimelineTest, ABranchPointIsStoredRoundedDownAndIsTheBranchsEndOfWal) {
  WalRecordSpan r = RecordInSegment(true);
  auto created = repo_obj_->CreateBranch("mid", "main@" + (r.start + 3).ToString());
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  Lsn want;  // the end of the last record ending at or before the LSN asked for
  for (const auto& rec : records_) {
    if (rec.end <= r.start + 3) want = rec.end;
  }
  ASSERT_TRUE(want.valid());
  EXPECT_EQ(created->lsn, want);
  EXPECT_FALSE(created->at_end_of_wal);
  auto meta = ReadFileToString(repo_.layout().metadata(created->timeline));
  ASSERT_TRUE(meta.ok());
  auto parsed = TimelineMetadata::FromJson(*meta);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->ancestor, main_->id());
  EXPECT_EQ(parsed->ancestor_lsn, want);
  auto tl = repo_obj_->FindTimeline("mid");
  ASSERT_TRUE(tl.ok());
  auto end = (*tl)->EndOfWal();
  ASSERT_TRUE(end.ok()) << end.status().ToString();
  EXPECT_EQ(*end, want) << "a branch without WAL of its own ends at its branch point";
  auto names = ListDirectory((*tl)->wal_dir());
  ASSERT_TRUE(names.ok());
  EXPECT_TRUE(names->empty()) << "creating a branch copies no WAL";

  auto at_end = repo_obj_->CreateBranch("tip", "main");
  ASSERT_TRUE(at_end.ok());
  EXPECT_EQ(at_end->lsn, end_);
  EXPECT_TRUE(at_end->at_end_of_wal);
}

TEST_F(TimelineTest, PrepareWalCopiesTheAncestorUpToTheBranchPointAndZeroesTheRest) {
  WalRecordSpan r = RecordInSegment(true);
  auto branch = Branch("b", "main@" + r.end.ToString());
  ASSERT_NE(branch, nullptr);
  Status s = branch->PrepareWal(layer0_.redo);
  ASSERT_TRUE(s.ok()) << s.ToString();
  for (uint64_t seg = layer0_.redo.segment_number(); seg <= r.end.segment_number(); ++seg) {
    const std::string name = WalSegmentFileName(1, seg);
    auto mine = ReadFileToString(branch->wal_dir() + "/" + name);
    auto theirs = ReadFileToString(main_->wal_dir() + "/" + name);
    ASSERT_TRUE(mine.ok() && theirs.ok()) << name;
    ASSERT_EQ(mine->size(), kWalSegmentSize);
    const size_t cut = seg == r.end.segment_number() ? r.end.segment_offset() : kWalSegmentSize;
    EXPECT_EQ(mine->substr(0, cut), theirs->substr(0, cut)) << name << " up to the branch point";
    EXPECT_EQ(mine->find_first_not_of('\0', cut), std::string::npos) << name << " is zeros after the branch point";
  }
  auto names = ListDirectory(branch->wal_dir());
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(names->size(), r.end.segment_number() - layer0_.redo.segment_number() + 1);

  // pg_waldump reads the branch's WAL up to the branch point, exactly.
  RunResult dump = RunCommand({PgBin("pg_waldump"), "-p", branch->wal_dir(), "-s", r.start.ToString(),
                               "-t", "1", "-q"});
  EXPECT_NE(dump.err.find("invalid record length at " + r.end.ToString() + ": wanted 24, got 0"), std::string::npos)
      << dump.Describe();
  RunResult all = RunCommand({PgBin("pg_waldump"), "-p", branch->wal_dir(), "-s", records_[0].start.ToString(),
                              "-t", "1"});
  size_t want = 0, printed = 0;
  for (const auto& rec : records_) want += rec.end <= r.end;
  for (size_t pos = all.out.find("rmgr: "); pos != std::string::npos; pos = all.out.find("rmgr: ", pos + 1)) ++printed;
  EXPECT_EQ(printed, want) << "every record of main up to the branch point, and no other";
  char last[64];  // pg_waldump prints record LSNs as %X/%08X
  std::snprintf(last, sizeof last, "lsn: %X/%08X,", static_cast<unsigned>(r.start.value >> 32),
                static_cast<unsigned>(r.start.value));
  EXPECT_NE(all.out.find(last), std::string::npos) << "the branch point's record is the last one";
}

TEST_F(TimelineTest, PrepareWalLeavesPresentSegmentsAloneAndDoesNothingWhereNothingIsNeeded) {
  WalRecordSpan r = RecordInSegment(true);
  auto branch = Branch("b", "main@" + r.end.ToString());
  ASSERT_NE(branch, nullptr);
  ASSERT_TRUE(branch->PrepareWal(r.end.segment_start()).ok());
  const std::string seg = branch->wal_dir() + "/" + WalSegmentFileName(1, r.end.segment_number());
  ASSERT_TRUE(WriteFileDurably(seg, std::string(kWalSegmentSize, '\x7f')).ok());  // stands for WAL the branch wrote
  ASSERT_TRUE(branch->PrepareWal(layer0_.redo).ok());
  auto kept = ReadFileToString(seg);
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(kept->find_first_not_of('\x7f'), std::string::npos) << "a present segment is never overwritten";
  EXPECT_TRUE(PathExists(branch->wal_dir() + "/" + WalSegmentFileName(1, layer0_.redo.segment_number())))
      << "the missing earlier segment was copied";

  auto other = Branch("c", "main@" + r.end.ToString());
  ASSERT_NE(other, nullptr);
  ASSERT_TRUE(other->PrepareWal(r.end + 8).ok());
  auto names = ListDirectory(other->wal_dir());
  ASSERT_TRUE(names.ok());
  EXPECT_TRUE(names->empty()) << "nothing before the branch point is needed from past it";
  auto main_names = ListDirectory(main_->wal_dir());
  ASSERT_TRUE(main_->PrepareWal(layer0_.redo).ok());
  EXPECT_EQ(ListDirectory(main_->wal_dir()).value(), main_names.value()) << "main has no ancestor to copy from";
}

TEST_F(TimelineTest, PrepareWalFailsClearlyWhenTheAncestorsWalIsGone) {
  WalRecordSpan r = RecordInSegment(true);
  auto branch = Branch("b", "main@" + r.end.ToString());
  ASSERT_NE(branch, nullptr);
  const std::string name = WalSegmentFileName(1, layer0_.redo.segment_number());
  ASSERT_EQ(::unlink((main_->wal_dir() + "/" + name).c_str()), 0);
  Reopen();  // the WAL reader caches open segment files
  auto reloaded = repo_obj_->FindTimeline("b");
  ASSERT_TRUE(reloaded.ok());
  Status s = (*reloaded)->PrepareWal(layer0_.redo);
  EXPECT_EQ(s.code(), StatusCode::kNotFound) << s.ToString();
  EXPECT_NE(s.message().find(name), std::string::npos) << s.message();
  EXPECT_FALSE(PathExists((*reloaded)->wal_dir() + "/" + name)) << "no partial segment is left";
}

TEST_F(TimelineTest, ATimelineSeesItsLayersAndItsAncestorsUpToTheBranchPoint) {
  WalRecordSpan a = RecordInSegment(false), c = RecordInSegment(true);
  auto l1 = Commit(*main_, {a.start, a.end, a.end}, '1');
  ASSERT_TRUE(l1.ok()) << l1.status().ToString();
  auto l2 = Commit(*main_, {c.start, c.end, c.end}, '2');
  ASSERT_TRUE(l2.ok()) << l2.status().ToString();

  EXPECT_EQ(Valids(*main_->ViewAt(end_)), (std::vector<Lsn>{c.end, a.end, layer0_.valid}));
  EXPECT_EQ(Valids(*main_->ViewAt(c.end - 1)), (std::vector<Lsn>{a.end, layer0_.valid}));
  EXPECT_EQ(Valids(*main_->ViewAt(a.end)), (std::vector<Lsn>{a.end, layer0_.valid}));
  EXPECT_EQ(Valids(*main_->ViewAt(layer0_.valid)), std::vector<Lsn>{layer0_.valid});
  EXPECT_TRUE(main_->ViewAt(layer0_.valid - 1)->layers().empty());
  EXPECT_EQ(PageByte(*main_->ViewAt(end_)), "2");
  EXPECT_EQ(PageByte(*main_->ViewAt(a.end)), "1");
  EXPECT_EQ(PageByte(*main_->ViewAt(layer0_.valid)), "not found");

  // Forked between the two layers: the later one is invisible, whatever LSN is asked for.
  auto between = Branch("between", "main@" + (c.end - 1).ToString());
  ASSERT_NE(between, nullptr);
  EXPECT_EQ(Valids(*between->ViewAt(Lsn(~uint64_t{0}))), (std::vector<Lsn>{a.end, layer0_.valid}));
  EXPECT_EQ(PageByte(*between->ViewAt(between->ancestor_lsn())), "1");
  auto after = Branch("after", "main");
  ASSERT_NE(after, nullptr);
  EXPECT_EQ(PageByte(*after->ViewAt(end_)), "2");

  // A layer of the branch (at its branch point: it has no WAL of its own)
  // is seen by the branch and its children, never by its parent.
  const Lsn x = between->ancestor_lsn();
  auto own = Commit(*between, {x, x, x}, 'b');
  ASSERT_TRUE(own.ok()) << own.status().ToString();
  EXPECT_EQ(PageByte(*between->ViewAt(x)), "b");
  EXPECT_EQ(Valids(*between->ViewAt(x)), (std::vector<Lsn>{x, a.end, layer0_.valid}));
  EXPECT_EQ(PageByte(*main_->ViewAt(end_)), "2");
  EXPECT_EQ(Valids(*main_->ViewAt(end_)).size(), 3u);
  auto child = Branch("child", "between");
  ASSERT_NE(child, nullptr);
  EXPECT_EQ(PageByte(*child->ViewAt(x)), "b");
}

TEST_F(TimelineTest, CommitLayerRefusesBadLsnsAndLeavesNoFile) {
  WalRecordSpan a = RecordInSegment(false), c = RecordInSegment(true);
  ASSERT_TRUE(Commit(*main_, {c.start, c.end, c.end}, 'c').ok());
  const auto before = LayerNames(*main_);
  struct Case {
    SnapshotLsns lsns;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{a.end, a.start, end_}, "out of order"},
      {{a.start, end_, a.end}, "out of order"},
      {{a.start, a.end, end_ + 8}, "beyond the end of WAL " + end_.ToString()},
      {{a.start, a.end, a.end}, "is not newer than the latest one (" + c.end.ToString() + ")"},
      {{c.start, c.end, c.end}, "is not newer than the latest one"},
  };
  for (const auto& bad : cases) {
    auto layer = Commit(*main_, bad.lsns, 'x');
    EXPECT_EQ(layer.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(layer.status().message().find(bad.message), std::string::npos) << layer.status().message();
  }
  EXPECT_EQ(LayerNames(*main_), before);
  EXPECT_EQ(main_->OwnLayers().size(), 2u);

  auto branch = Branch("b", "main@" + c.end.ToString());
  ASSERT_NE(branch, nullptr);
  auto early = Commit(*branch, {a.start, a.end, c.end}, 'x');
  EXPECT_NE(early.status().message().find("before the branch point " + c.end.ToString()), std::string::npos)
      << early.status().message();
  EXPECT_TRUE(LayerNames(*branch).empty());
}

TEST_F(TimelineTest, LoadRemovesUnfinishedLayersAndRefusesForeignOrDamagedOnes) {
  auto branch = Branch("b", "main");
  ASSERT_NE(branch, nullptr);
  const std::string layers = branch->layers_dir();
  ASSERT_TRUE(WriteFileDurably(layers + "/.layer.tmp.123.456", "half a layer").ok());
  ASSERT_TRUE(WriteFileDurably(layers + "/README", "not a layer: ignored").ok());
  Reopen();
  auto loaded = repo_obj_->FindTimeline("b");
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(LayerNames(**loaded), std::vector<std::string>{"README"}) << "the crash's temp layer is gone";

  const std::string foreign = layers + "/" + LayerFileName(main_->OwnLayers().at(0)->meta());
  RunResult cp = RunCommand({"cp", main_->OwnLayers().at(0)->path(), foreign});
  ASSERT_TRUE(cp.ok());
  Reopen();
  auto refused = repo_obj_->FindTimeline("b");
  EXPECT_EQ(refused.status().code(), StatusCode::kCorruption);
  EXPECT_NE(refused.status().message().find("belongs to another timeline"), std::string::npos)
      << refused.status().message();

  ASSERT_TRUE(WriteFileDurably(foreign, std::string(5000, 'j')).ok());
  Reopen();
  refused = repo_obj_->FindTimeline("b");
  EXPECT_EQ(refused.status().code(), StatusCode::kCorruption);
  EXPECT_NE(refused.status().message().find(foreign), std::string::npos) << refused.status().message();
}

TEST_F(TimelineTest, WaitForWalReturnsWhenTheWalArrivesAndTimesOutOtherwise) {
  WalRecordSpan r = RecordInSegment(true);
  const std::string seg = main_->wal_dir() + "/" + WalSegmentFileName(1, r.end.segment_number());
  auto full = ReadFileToString(seg);
  ASSERT_TRUE(full.ok());
  std::string cut = full->substr(0, r.end.segment_offset()) + std::string(kWalSegmentSize - r.end.segment_offset(), '\0');
  ASSERT_TRUE(WriteFileDurably(seg, cut).ok());
  Reopen();
  auto end = main_->EndOfWal();
  ASSERT_TRUE(end.ok());
  ASSERT_EQ(*end, r.end);

  auto timeout = main_->WaitForWal(end_, std::chrono::milliseconds(200));
  EXPECT_EQ(timeout.code(), StatusCode::kTimeout);
  EXPECT_NE(timeout.message().find("LSN " + end_.ToString() + " is beyond the end of WAL " + r.end.ToString()),
            std::string::npos)
      << timeout.message();

  // A waiter, then the rest of the WAL, written in place as PostgreSQL
  // does: the waiter returns once the WAL it waits for is there.
  std::atomic<bool> waiting{false};
  auto waiter = std::async(std::launch::async, [&] {
    waiting = true;
    return main_->WaitForWal(end_, std::chrono::seconds(60));
  });
  ASSERT_TRUE(WaitUntil([&] { return waiting.load(); }, std::chrono::seconds(10)));
  auto fd = OpenFile(seg, O_WRONLY);
  ASSERT_TRUE(fd.ok()) << fd.status().ToString();
  ASSERT_TRUE(PwriteFull(fd->get(), AsBytes(*full), 0, seg).ok());
  ASSERT_EQ(waiter.wait_for(std::chrono::seconds(30)), std::future_status::ready) << "the waiter was never woken";
  Status s = waiter.get();
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(main_->EndOfWal().value(), end_);
}

// WAL streamed from a remote compute (pageserver/repo/wal_receiver.h) may stop
// inside a record: the end of WAL stays at the last complete record, a
// branch is made there, a wait for an LSN inside the partial record times
// out instead of hanging, and the rest of the record, written in place as
// the receiver writes it, moves the end on.
TEST_F(TimelineTest, APartialRecordIsNeitherTheEndOfWalNorABranchPointNorAHangingWait) {
  WalRecordSpan r = RecordInSegment(true);
  ASSERT_GT(r.end.value - r.start.value, 24u);
  const Lsn cut_at(r.start.value + (r.end.value - r.start.value) / 2);
  const std::string seg = main_->wal_dir() + "/" + WalSegmentFileName(1, r.end.segment_number());
  auto full = ReadFileToString(seg);
  ASSERT_TRUE(full.ok());
  ASSERT_TRUE(WalSegmentWriter(main_->wal_dir(), WalSegmentWriter::Existing::kKeep).DiscardFrom(cut_at).ok());
  Reopen();
  auto end = main_->EndOfWal();
  ASSERT_TRUE(end.ok());
  EXPECT_EQ(*end, r.start) << "the end of the last complete record, before the partial one";

  const auto t0 = std::chrono::steady_clock::now();
  Status wait = main_->WaitForWal(cut_at, std::chrono::milliseconds(200));
  EXPECT_EQ(wait.code(), StatusCode::kTimeout) << wait.ToString();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(10));
  auto branch = Branch("after-partial", "main");
  ASSERT_NE(branch, nullptr);
  EXPECT_EQ(branch->ancestor_lsn(), r.start);

  WalSegmentWriter writer(main_->wal_dir(), WalSegmentWriter::Existing::kKeep);
  const std::string rest = full->substr(cut_at.segment_offset());
  ASSERT_TRUE(writer.Write(cut_at, AsBytes(rest)).ok());
  ASSERT_TRUE(writer.Sync().ok());
  EXPECT_TRUE(main_->WaitForWal(r.end, std::chrono::seconds(30)).ok());
  EXPECT_GE(main_->EndOfWal().value(), r.end);
}

}  // namespace
}  // namespace zenith::pageserver::testing
