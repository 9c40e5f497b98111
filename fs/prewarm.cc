#include "fs/prewarm.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <spdlog/spdlog.h>
#include <sstream>

#include "common/byte_io.h"
#include "common/daemon_process.h"
#include "common/file_util.h"
#include "common/pg_abi.h"

namespace zenith::fs {

namespace {

constexpr size_t kChunkBytes = 1 << 20;
constexpr auto kPollInterval = std::chrono::milliseconds(100);
constexpr auto kSaveInterval = std::chrono::seconds(60);

uint64_t BlockBytes() { return kZenithPgAbi.blcksz; }

}  // namespace

std::string FormatHotList(const std::map<RelSegment, std::vector<uint32_t>>& used) {
  std::string out;
  for (const auto& [seg, blocks] : used) {
    const std::string path = RelationSegmentPath(seg.tag, seg.segno);
    for (size_t i = 0; i < blocks.size();) {
      size_t j = i + 1;
      while (j < blocks.size() && blocks[j] == blocks[j - 1] + 1) ++j;
      out += path + " " + std::to_string(blocks[i]) + " " + std::to_string(j - i) + "\n";
      i = j;
    }
  }
  return out;
}

std::vector<HotRun> ParseHotList(std::string_view text) {
  std::vector<HotRun> runs;
  std::istringstream lines{std::string(text)};
  for (std::string line; std::getline(lines, line);) {
    std::istringstream fields(line);
    HotRun run;
    long long first = -1, count = -1;
    std::string rest;
    if (!(fields >> run.path >> first >> count) || (fields >> rest)) continue;
    if (first < 0 || count <= 0 || first > UINT32_MAX || count > UINT32_MAX || !ParseRelationPath(run.path)) continue;
    run.first = static_cast<uint32_t>(first);
    run.count = static_cast<uint32_t>(count);
    runs.push_back(std::move(run));
  }
  return runs;
}

std::vector<HotRun> RunsWithin(const std::vector<HotRun>& runs, const std::map<std::string, uint64_t>& sizes) {
  std::vector<HotRun> out;
  for (const auto& run : runs) {
    auto size = sizes.find(run.path);
    if (size == sizes.end()) continue;
    const uint64_t blocks = size->second / BlockBytes();
    if (run.first >= blocks) continue;
    HotRun cut = run;
    cut.count = static_cast<uint32_t>(std::min<uint64_t>(run.count, blocks - run.first));
    out.push_back(cut);
  }
  std::sort(out.begin(), out.end(), [](const HotRun& a, const HotRun& b) {
    return a.path != b.path ? a.path < b.path : a.first < b.first;
  });
  return out;
}

Status SaveHotList(const std::string& path, const std::map<RelSegment, std::vector<uint32_t>>& used) {
  const std::string tmp = path + ".tmp";
  {
    ZENITH_ASSIGN_OR_RETURN(UniqueFd fd, OpenFile(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600));
    ZENITH_RETURN_IF_ERROR(WriteFull(fd.get(), AsBytes(FormatHotList(used)), tmp));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) return ErrnoStatus("rename", tmp, errno);
  return Status::Ok();
}

Prewarmer::Prewarmer(std::string mountpoint, std::string scratch_dir, std::vector<HotRun> runs)
    : mountpoint_(std::move(mountpoint)), scratch_dir_(std::move(scratch_dir)), runs_(std::move(runs)) {
  if (!runs_.empty()) thread_ = std::thread([this] { Run(); });
}

Prewarmer::~Prewarmer() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

HotListKeeper::HotListKeeper(std::string path, UsedBlocks used) : path_(std::move(path)), used_(std::move(used)) {
  thread_ = std::thread([this] {
    std::unique_lock lock(mu_);
    while (!wake_.wait_for(lock, kSaveInterval, [this] { return stop_; })) {
      lock.unlock();
      Save();
      lock.lock();
    }
  });
}

HotListKeeper::~HotListKeeper() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
  Save();
}

void HotListKeeper::Save() {
  auto used = used_();
  if (used.empty()) return;  // keep the last list rather than none
  if (Status s = SaveHotList(path_, used); !s.ok()) spdlog::warn("could not save the hot list: {}", s.message());
}

void Prewarmer::Run() {
  while (!stop_ && !RunningPostmaster(scratch_dir_)) std::this_thread::sleep_for(kPollInterval);
  const auto start = std::chrono::steady_clock::now();
  std::vector<uint8_t> buf(kChunkBytes);
  uint64_t bytes = 0;
  for (const auto& run : runs_) {
    UniqueFd fd;
    uint64_t at = uint64_t{run.first} * BlockBytes();
    const uint64_t end = at + uint64_t{run.count} * BlockBytes();
    while (at < end) {
      if (stop_ || !RunningPostmaster(scratch_dir_)) {
        spdlog::info("prewarming stopped with PostgreSQL after {} MB", bytes >> 20);
        return;
      }
      if (!fd.valid()) {
        auto opened = OpenFile(mountpoint_ + "/" + run.path, O_RDONLY | O_CLOEXEC);
        if (!opened.ok()) break;  // dropped since: nothing to warm
        fd = std::move(*opened);
      }
      const size_t n = static_cast<size_t>(std::min<uint64_t>(kChunkBytes, end - at));
      const ssize_t got = ::pread(fd.get(), buf.data(), n, static_cast<off_t>(at));
      if (got <= 0) break;
      bytes += static_cast<uint64_t>(got);
      at += static_cast<uint64_t>(got);
    }
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  spdlog::info("prewarmed {} MB of the blocks the last mount used in {:.1f} s", bytes >> 20, s);
}

}  // namespace zenith::fs
