#include "fs/snapshot_uploader.h"

#include <spdlog/spdlog.h>

#include <chrono>

#include "common/byte_io.h"
#include "common/catch_all.h"
#include "common/datadir_scan.h"
#include "common/pg_abi.h"
#include "common/tar.h"
#include "fs/mount_counters.h"
#include "pageserver/api/page_protocol.h"

namespace zenith::fs {

namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kFilesChunk = 256 * 1024;
// Dirty blocks read back from the scratch at a time (one read per run).
constexpr size_t kBlocksPerRead = 64;
// See Superseded().
constexpr int kMaxSupersededInARow = 3;

// Worth retrying: the page server was unreachable or the connection broke,
// or it did not see the lease (kPermissionDenied): after a page server
// restart the keepalive takes the lease again, with a new token, within a
// second.
bool IsTransient(const Status& s) {
  return s.code() == StatusCode::kUnavailable || s.code() == StatusCode::kProtocol ||
         s.code() == StatusCode::kIoError || s.code() == StatusCode::kTimeout ||
         s.code() == StatusCode::kPermissionDenied;
}

}  // namespace

SnapshotUploader::SnapshotUploader(Options options, std::unique_ptr<SnapshotSource> source,
                                   std::unique_ptr<SnapshotSink> sink)
    : options_(std::move(options)),
      source_(std::move(source)),
      sink_(std::move(sink)),
      last_checkpoint_(options_.mounted_checkpoint) {}

SnapshotUploader::~SnapshotUploader() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void SnapshotUploader::Start() { thread_ = std::thread([this] { Loop(); }); }

void SnapshotUploader::OnControlWrite(std::string pg_control) {
  auto control = DecodeControlFile(AsBytes(pg_control));
  if (!control.ok()) return;  // not a complete pg_control (yet)
  std::lock_guard lock(mu_);
  if (control->checkpoint == last_checkpoint_) return;
  last_checkpoint_ = control->checkpoint;
  pending_ = WrittenControl{std::move(pg_control), *control};
  cv_.notify_all();
}

Status SnapshotUploader::Drain(std::chrono::seconds patience) {
  const auto deadline = Clock::now() + patience;
  std::unique_lock lock(mu_);
  draining_ = true;
  cv_.notify_all();
  cv_.wait_until(lock, deadline, [&] { return !pending_.has_value(); });
  Status result = pending_ ? Timeout("gave up uploading the last snapshot: " + last_status_.message()) : last_status_;
  stop_ = true;
  lock.unlock();
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  return result;
}

void SnapshotUploader::Loop() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    if (!pending_) {
      cv_.wait(lock, [&] { return stop_ || pending_.has_value(); });
      continue;
    }
    WrittenControl control = *pending_;
    lock.unlock();
    Result<bool> stored = false;
    const auto start = std::chrono::steady_clock::now();
    Status caught = CatchAll("snapshot upload", [&] { stored = Upload(control); });
    if (!caught.ok()) stored = caught;  // refused: the blocks stay owed to the next checkpoint's
    ThisMount().SnapshotUpload(std::chrono::steady_clock::now() - start, stored.ok() && *stored, !stored.ok());
    lock.lock();
    Status s = stored.status();
    last_status_ = s;
    if (s.ok() && !*stored) {
      // A newer checkpoint superseded this one: upload that. Its pg_control
      // follows its record at once; if it does not come, this one is tried
      // again (and stored at the latest after kMaxSupersededInARow tries).
      ++superseded_in_a_row_;
      cv_.wait_for(lock, options_.retry_delay, [&] { return stop_ || (pending_ && *pending_ != control); });
      continue;
    }
    if (s.ok()) {
      superseded_in_a_row_ = 0;
      if (options_.on_stored) options_.on_stored(stored_valid_);
      // A newer checkpoint may have arrived meanwhile; keep that one.
      if (pending_ && *pending_ == control) pending_.reset();
      cv_.notify_all();
      continue;
    }
    if (!IsTransient(s)) {
      // The page server refused this snapshot: sending it again cannot
      // help. The blocks stay owed and go with the next checkpoint's.
      spdlog::error("the page server refused the snapshot: {}", s.message());
      if (pending_ && *pending_ == control) pending_.reset();
      cv_.notify_all();
      continue;
    }
    spdlog::error("snapshot upload failed (will retry): {}", s.message());
    cv_.wait_for(lock, options_.retry_delay, [&] { return stop_; });
  }
}

void SnapshotUploader::TakeDelta(const SnapshotDelta& delta) {
  for (const auto& seg : delta.dirty) owed_.blocks[seg.seg].insert(seg.blocks.begin(), seg.blocks.end());
  for (const auto& [rel, floor] : delta.floors) {
    auto [it, inserted] = owed_.floors.emplace(rel, floor);
    if (!inserted) it->second = std::min(it->second, floor);
  }
}

Result<bool> SnapshotUploader::Upload(const WrittenControl& written) {
  ZENITH_ASSIGN_OR_RETURN(Lsn ckpt_end, source_->CheckpointRecordEnd(written.control.checkpoint));
  Result<bool> stored = Stream(written.bytes, written.control, ckpt_end);
  if (!stored.ok()) {
    sink_->Reset();  // its state is unknown; reconnect next time
    return stored;
  }
  if (*stored) owed_ = {};
  return stored;
}

// A snapshot's `valid` is the end of WAL once it is collected. When the next
// checkpoint was written meanwhile, that end is already past the next
// checkpoint's record, whose own snapshot could then never be newer: the
// page server would refuse it, and the next mount would replay the WAL
// from this older redo point instead of none after a clean shutdown. So the
// older one is dropped (its blocks stay owed) unless that happened too
// often in a row (checkpoints faster than uploads must not starve them).
// The next checkpoint is known from its pg_control, or, when PostgreSQL has
// written its record but not yet its pg_control, from the WAL.
Result<bool> SnapshotUploader::Superseded(const std::string& control_bytes, Lsn ckpt_end, Lsn valid) {
  {
    std::lock_guard lock(mu_);
    if (superseded_in_a_row_ >= kMaxSupersededInARow) return false;
    if (pending_ && pending_->bytes != control_bytes) return true;
  }
  return source_->CheckpointRecordBetween(ckpt_end, valid);
}

Status SnapshotUploader::Send(std::string* msg) {
  Status st = sink_->Send(AsBytes(*msg));
  msg->clear();
  return st;
}

// The owed blocks as they are now (see the header on why blocks may be newer
// than redo, or gone), then the size of every relation as `entries` say.
Status SnapshotUploader::SendRelations(const std::vector<DatadirEntry>& entries, pageserver::SnapshotEnd* end) {
  std::map<RelSegment, uint64_t> segment_bytes;
  for (const auto& e : entries) {
    if (e.relation) segment_bytes[*e.relation] = e.size;
  }
  std::string msg;
  const size_t bs = kZenithPgAbi.blcksz;
  std::vector<uint8_t> pages(kBlocksPerRead * bs);
  for (const auto& [seg, owed] : owed_.blocks) {
    auto size = segment_bytes.find(seg);
    if (size == segment_bytes.end()) continue;  // unlinked since it was written
    std::vector<uint32_t> blocks;  // those still within the file
    for (uint32_t block : owed) {
      if (uint64_t{block + 1} * bs > size->second) break;  // truncated away
      blocks.push_back(block);
    }
    for (size_t i = 0; i < blocks.size(); i += kBlocksPerRead) {
      std::span<const uint32_t> batch = std::span(blocks).subspan(i, std::min(kBlocksPerRead, blocks.size() - i));
      Status read = source_->ReadBlocks(seg, batch, std::span(pages).first(batch.size() * bs));
      if (read.code() == StatusCode::kNotFound) break;
      ZENITH_RETURN_IF_ERROR(read);
      for (size_t j = 0; j < batch.size(); ++j) {
        pageserver::AppendSnapshotPage(&msg, seg.tag, seg.segno * kZenithPgAbi.relseg_size + batch[j],
                                       std::span(pages).subspan(j * bs, bs));
        ZENITH_RETURN_IF_ERROR(Send(&msg));
        ++end->page_count;
      }
    }
  }
  for (const auto& [rel, nblocks] : RelationSizes(entries)) {
    auto floor = owed_.floors.find(rel);
    uint32_t f = floor == owed_.floors.end() ? nblocks : std::min(floor->second, nblocks);
    pageserver::AppendSnapshotRelation(&msg, rel, {nblocks, f});
    ZENITH_RETURN_IF_ERROR(Send(&msg));
    ++end->relation_count;
  }
  return Status::Ok();
}

Status SnapshotUploader::SendFiles(const std::vector<DatadirEntry>& entries, const std::string& control_bytes) {
  std::string msg, files;
  TarWriter tar([&](std::span<const uint8_t> bytes) -> Status {
    files.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    if (files.size() < kFilesChunk) return Status::Ok();
    pageserver::AppendSnapshotFiles(&msg, AsBytes(files));
    files.clear();
    return Send(&msg);
  });
  ZENITH_RETURN_IF_ERROR(source_->WriteFiles(entries, control_bytes, tar));
  ZENITH_RETURN_IF_ERROR(tar.EndBody());
  if (files.empty()) return Status::Ok();
  pageserver::AppendSnapshotFiles(&msg, AsBytes(files));
  return Send(&msg);
}

Result<bool> SnapshotUploader::Stream(const std::string& control_bytes, const ControlFile& control, Lsn ckpt_end) {
  const auto start = Clock::now();
  const std::string token = options_.lease_token ? options_.lease_token() : "";
  ZENITH_RETURN_IF_ERROR(sink_->Begin(options_.timeline, token));
  pageserver::SnapshotEnd end{};
  const auto lock_start = Clock::now();
  ZENITH_ASSIGN_OR_RETURN(SnapshotStart taken, source_->TakeChanges());
  const Clock::duration locked = Clock::now() - lock_start;
  TakeDelta(taken.delta);  // owed until the page server has it
  ZENITH_RETURN_IF_ERROR(SendRelations(taken.entries, &end));
  ZENITH_RETURN_IF_ERROR(SendFiles(taken.entries, control_bytes));
  // Everything is collected: only now is the end of WAL a valid bound.
  ZENITH_ASSIGN_OR_RETURN(Lsn valid, source_->EndOfWal(ckpt_end));
  ZENITH_ASSIGN_OR_RETURN(bool superseded, Superseded(control_bytes, ckpt_end, valid));
  if (superseded) {
    sink_->Abort("superseded by a newer checkpoint");
    spdlog::info("snapshot at checkpoint {} dropped before it was stored: a newer checkpoint supersedes it",
                 ckpt_end.ToString());
    return false;
  }
  end.lsns = {control.checkpoint_copy.redo, ckpt_end, valid};
  stored_valid_ = valid;
  std::string msg;
  pageserver::AppendSnapshotEnd(&msg, end);
  ZENITH_RETURN_IF_ERROR(Send(&msg));
  ZENITH_RETURN_IF_ERROR(sink_->End());
  auto ms = [](Clock::duration d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d).count(); };
  spdlog::info("uploaded snapshot: redo {} checkpoint {} valid {} ({} pages, {} relations) in {} ms, snapshot lock "
               "taken and held {} ms",
               end.lsns.redo.ToString(), ckpt_end.ToString(), valid.ToString(), end.page_count, end.relation_count,
               ms(Clock::now() - start), ms(locked));
  return true;
}

}  // namespace zenith::fs
