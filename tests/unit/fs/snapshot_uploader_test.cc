// fs/snapshot_uploader.h without a mount: a source and a sink of the test's
// own stand in for the data directory and the page server, so that what
// the uploader does on success, failure (retry), refusal and a newer
// checkpoint (supersede) is seen record by record, with the blocks it owes
// carried from one attempt to the next.
#include "fs/snapshot_uploader.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <set>
#include <thread>

#include "common/byte_io.h"
#include "common/pg_abi.h"
#include "common/pg_control.h"

namespace zenith::fs {
namespace {

using namespace std::chrono_literals;

const RelTag kRel{1663, 5, 16384};
constexpr uint64_t kBlock = 8192;
constexpr uint64_t kCheckpointRecordLen = 0x80;

// A pg_control that DecodeControlFile accepts, naming `checkpoint`.
std::string PgControl(Lsn checkpoint) {
  ControlFile c;
  c.system_identifier = 42;
  c.pg_control_version = kZenithPgAbi.control_version;
  c.catalog_version_no = kZenithPgAbi.catalog_version;
  c.state = DbState::kInProduction;
  c.checkpoint = checkpoint;
  c.checkpoint_copy.redo = checkpoint;
  c.wal_level = WalLevel::kReplica;
  c.max_align = kZenithPgAbi.max_align;
  c.float_format = kZenithPgAbi.float_format;
  c.blcksz = kZenithPgAbi.blcksz;
  c.relseg_size = kZenithPgAbi.relseg_size;
  c.xlog_blcksz = kZenithPgAbi.xlog_blcksz;
  c.xlog_seg_size = kWalSegmentSize;
  c.name_data_len = kZenithPgAbi.name_data_len;
  c.index_max_keys = kZenithPgAbi.index_max_keys;
  c.toast_max_chunk_size = kZenithPgAbi.toast_max_chunk_size;
  c.loblksize = kZenithPgAbi.loblksize;
  c.float8_by_val = kZenithPgAbi.float8_by_val != 0;
  return EncodeControlFile(c);
}

// The data directory: one relation segment of `blocks` blocks, the blocks
// written since the last snapshot (`Write`), and the WAL's answers.
class FakeSource : public SnapshotSource {
 public:
  void Write(std::set<uint32_t> blocks) {
    std::lock_guard lock(mu_);
    auto& dirty = delta_.dirty.empty() ? delta_.dirty.emplace_back(DirtySegment{{kRel, 0}, {}}) : delta_.dirty[0];
    std::set<uint32_t> all(dirty.blocks.begin(), dirty.blocks.end());
    all.insert(blocks.begin(), blocks.end());
    dirty.blocks.assign(all.begin(), all.end());
  }
  void SetBlocks(uint32_t n) {
    std::lock_guard lock(mu_);
    blocks_ = n;
  }
  // The next `n` uploads find a newer checkpoint record in the WAL.
  void SupersedeNext(int n) {
    std::lock_guard lock(mu_);
    supersede_ = n;
  }
  Lsn end_of_wal() const { return Lsn(0x9000000); }

  Result<SnapshotStart> TakeChanges() override {
    std::lock_guard lock(mu_);
    SnapshotStart start{std::move(delta_), {}};
    delta_ = {};
    start.entries.push_back(DatadirEntry{.path = "base/5/16384", .size = blocks_ * kBlock, .relation = RelSegment{kRel, 0}});
    return start;
  }
  Status ReadBlocks(const RelSegment&, std::span<const uint32_t> blocks, std::span<uint8_t> out) override {
    for (size_t i = 0; i < blocks.size(); ++i) std::fill_n(out.begin() + i * kBlock, kBlock, uint8_t(blocks[i]));
    return Status::Ok();
  }
  Status WriteFiles(const std::vector<DatadirEntry>&, const std::string& pg_control, TarWriter& tar) override {
    return tar.AddFile("global/pg_control", 0600, 0, AsBytes(pg_control));
  }
  Result<Lsn> CheckpointRecordEnd(Lsn checkpoint) override { return checkpoint + kCheckpointRecordLen; }
  Result<Lsn> EndOfWal(Lsn) override { return end_of_wal(); }
  Result<bool> CheckpointRecordBetween(Lsn, Lsn) override {
    std::lock_guard lock(mu_);
    if (supersede_ == 0) return false;
    --supersede_;
    return true;
  }

 private:
  std::mutex mu_;
  SnapshotDelta delta_;  // guarded by mu_, and the rest
  uint32_t blocks_ = 16;
  int supersede_ = 0;
};

// What the page server saw: one upload is the records between Begin and
// End; End answers with the next verdict queued (OK when none is).
class FakeSink : public SnapshotSink {
 public:
  struct Upload {
    std::set<uint32_t> pages;
    pageserver::SnapshotEnd end{};
  };
  void FailNextEnd(Status s) {
    std::lock_guard lock(mu_);
    verdicts_.push_back(std::move(s));
  }
  void FailEveryBegin() {
    std::lock_guard lock(mu_);
    fail_begin_ = true;
  }
  // Waits until `pred` holds (under the sink's lock) or 10 s passed.
  bool WaitFor(const std::function<bool()>& pred) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, 10s, pred);
  }
  std::vector<Upload> stored() {
    std::lock_guard lock(mu_);
    return stored_;
  }
  int begins() { std::lock_guard lock(mu_); return begins_; }
  int ends() { std::lock_guard lock(mu_); return ends_; }
  int aborts() { std::lock_guard lock(mu_); return aborts_; }
  int resets() { std::lock_guard lock(mu_); return resets_; }
  // For WaitFor predicates (the lock is held there).
  size_t stored_locked() const { return stored_.size(); }
  int ends_locked() const { return ends_; }
  int aborts_locked() const { return aborts_; }

  Status Begin(const std::string& timeline, const std::string& token) override {
    std::lock_guard lock(mu_);
    ++begins_;
    EXPECT_EQ(timeline, "tl");
    EXPECT_EQ(token, "token");
    if (fail_begin_) return Unavailable("the page server is down");
    current_ = {};
    return Status::Ok();
  }
  Status Send(std::span<const uint8_t> record) override {
    auto decoded = pageserver::DecodeSnapshotRecord(record);
    EXPECT_TRUE(decoded.ok());
    std::lock_guard lock(mu_);
    if (auto* page = std::get_if<pageserver::SnapshotPage>(&*decoded)) {
      EXPECT_EQ(page->page[0], uint8_t(page->block)) << "the block's own bytes";
      current_.pages.insert(page->block);
    }
    if (auto* end = std::get_if<pageserver::SnapshotEnd>(&*decoded)) current_.end = *end;
    return Status::Ok();
  }
  Status End() override {
    std::lock_guard lock(mu_);
    ++ends_;
    Status verdict = verdicts_.empty() ? Status::Ok() : verdicts_.front();
    if (!verdicts_.empty()) verdicts_.pop_front();
    if (verdict.ok()) stored_.push_back(current_);
    cv_.notify_all();
    return verdict;
  }
  void Abort(const std::string&) override {
    std::lock_guard lock(mu_);
    ++aborts_;
    cv_.notify_all();
  }
  void Reset() override {
    std::lock_guard lock(mu_);
    ++resets_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Status> verdicts_;  // guarded by mu_, and the rest
  bool fail_begin_ = false;
  Upload current_;
  std::vector<Upload> stored_;
  int begins_ = 0, ends_ = 0, aborts_ = 0, resets_ = 0;
};

const Lsn kMounted(0x1000000), kFirst(0x2000000), kSecond(0x3000000);

class SnapshotUploaderTest : public ::testing::Test {
 protected:
  void Start(std::chrono::milliseconds retry_delay = 50ms) {
    auto source = std::make_unique<FakeSource>();
    auto sink = std::make_unique<FakeSink>();
    source_ = source.get();
    sink_ = sink.get();
    SnapshotUploader::Options options{"tl", kMounted,
                                      [this](Lsn valid) {
                                        std::lock_guard lock(mu_);
                                        stored_valid_.push_back(valid);
                                      },
                                      [] { return std::string("token"); }, retry_delay};
    uploader_ = std::make_unique<SnapshotUploader>(std::move(options), std::move(source), std::move(sink));
    uploader_->Start();
  }
  std::vector<Lsn> stored_valid() {
    std::lock_guard lock(mu_);
    return stored_valid_;
  }

  FakeSource* source_ = nullptr;
  FakeSink* sink_ = nullptr;
  std::mutex mu_;
  std::vector<Lsn> stored_valid_;
  std::unique_ptr<SnapshotUploader> uploader_;
};

TEST_F(SnapshotUploaderTest, ANewCheckpointUploadsTheBlocksWrittenSinceTheLastSnapshot) {
  Start();
  source_->Write({1, 3});
  uploader_->OnControlWrite(PgControl(kFirst));
  ASSERT_TRUE(sink_->WaitFor([&] { return sink_->stored_locked() == 1; }));
  auto up = sink_->stored()[0];
  EXPECT_EQ(up.pages, (std::set<uint32_t>{1, 3}));
  EXPECT_EQ(up.end.page_count, 2u);
  EXPECT_EQ(up.end.relation_count, 1u);
  EXPECT_EQ(up.end.lsns.redo, kFirst);
  EXPECT_EQ(up.end.lsns.checkpoint, kFirst + kCheckpointRecordLen);
  EXPECT_EQ(up.end.lsns.valid, source_->end_of_wal());
  EXPECT_TRUE(uploader_->Drain(5s).ok());
  EXPECT_EQ(stored_valid(), std::vector<Lsn>{source_->end_of_wal()}) << "the lease hears of it";
}

TEST_F(SnapshotUploaderTest, TheCheckpointTheMountBeganWithIsNotUploadedAgainNorIsABrokenPgControl) {
  Start();
  uploader_->OnControlWrite(PgControl(kMounted));
  uploader_->OnControlWrite("half a pg_control");
  EXPECT_TRUE(uploader_->Drain(5s).ok());
  EXPECT_EQ(sink_->begins(), 0);
}

TEST_F(SnapshotUploaderTest, BlocksCutAwayOrBeyondTheFileAreNotSent) {
  Start();
  source_->SetBlocks(4);
  source_->Write({1, 3, 4, 9});
  uploader_->OnControlWrite(PgControl(kFirst));
  ASSERT_TRUE(sink_->WaitFor([&] { return sink_->stored_locked() == 1; }));
  EXPECT_EQ(sink_->stored()[0].pages, (std::set<uint32_t>{1, 3}));
}

TEST_F(SnapshotUploaderTest, AFailedUploadIsRetriedAndCarriesItsBlocksWithTheNewOnes) {
  Start();
  sink_->FailNextEnd(Unavailable("connection lost"));
  source_->Write({1});
  uploader_->OnControlWrite(PgControl(kFirst));
  ASSERT_TRUE(sink_->WaitFor([&] { return sink_->ends_locked() == 1; }));
  source_->Write({2});  // written while the upload failed
  ASSERT_TRUE(sink_->WaitFor([&] { return sink_->stored_locked() == 1; }));
  EXPECT_EQ(sink_->stored()[0].pages, (std::set<uint32_t>{1, 2})) << "block 1, taken by the failed try, is still owed";
  EXPECT_EQ(sink_->begins(), 2);
  EXPECT_EQ(sink_->resets(), 1) << "a connection in an unknown state is dropped";
}

TEST_F(SnapshotUploaderTest, ARefusedSnapshotIsNotSentAgainAndItsBlocksGoWithTheNextCheckpoint) {
  Start();
  sink_->FailNextEnd(InvalidArgument("refused: not the lease holder's"));
  source_->Write({1});
  uploader_->OnControlWrite(PgControl(kFirst));
  ASSERT_TRUE(sink_->WaitFor([&] { return sink_->ends_locked() == 1; }));
  std::this_thread::sleep_for(300ms);  // six retry delays
  EXPECT_EQ(sink_->begins(), 1) << "sending it again cannot help";
  EXPECT_TRUE(sink_->stored().empty());

  source_->Write({5});
  uploader_->OnControlWrite(PgControl(kSecond));
  ASSERT_TRUE(sink_->WaitFor([&] { return sink_->stored_locked() == 1; }));
  auto up = sink_->stored()[0];
  EXPECT_EQ(up.pages, (std::set<uint32_t>{1, 5}));
  EXPECT_EQ(up.end.lsns.redo, kSecond);
}

TEST_F(SnapshotUploaderTest, ASnapshotOvertakenByTheNextCheckpointIsDroppedForItWithItsBlocksOwed) {
  Start(/*retry_delay=*/10s);  // the next pg_control comes well before
  source_->SupersedeNext(1);   // the WAL holds a newer checkpoint record
  source_->Write({1});
  uploader_->OnControlWrite(PgControl(kFirst));
  ASSERT_TRUE(sink_->WaitFor([&] { return sink_->aborts_locked() == 1; }));
  EXPECT_TRUE(sink_->stored().empty()) << "the page server stores nothing of it";

  source_->Write({2});
  uploader_->OnControlWrite(PgControl(kSecond));
  ASSERT_TRUE(sink_->WaitFor([&] { return sink_->stored_locked() == 1; }));
  auto up = sink_->stored()[0];
  EXPECT_EQ(up.end.lsns.redo, kSecond);
  EXPECT_EQ(up.pages, (std::set<uint32_t>{1, 2}));
  EXPECT_TRUE(uploader_->Drain(5s).ok());
  EXPECT_EQ(sink_->stored().size(), 1u) << "the dropped one is not stored after all";
}

TEST_F(SnapshotUploaderTest, CheckpointsFasterThanUploadsDoNotStarveThem) {
  Start();
  source_->SupersedeNext(100);
  source_->Write({1});
  uploader_->OnControlWrite(PgControl(kFirst));
  ASSERT_TRUE(sink_->WaitFor([&] { return sink_->stored_locked() == 1; }));
  EXPECT_EQ(sink_->aborts(), 3) << "dropped three times in a row, then stored anyway";
}

TEST_F(SnapshotUploaderTest, DrainGivesUpAfterItsPatienceWhenThePageServerStaysAway) {
  Start();
  sink_->FailEveryBegin();
  uploader_->OnControlWrite(PgControl(kFirst));
  Status drained = uploader_->Drain(1s);
  EXPECT_EQ(drained.code(), StatusCode::kTimeout) << drained.message();
  EXPECT_NE(drained.message().find("the page server is down"), std::string::npos) << drained.message();
  EXPECT_GE(sink_->begins(), 2) << "it was retried meanwhile";
}

}  // namespace
}  // namespace zenith::fs
