#include "fs/remote_page_source.h"

#include <spdlog/spdlog.h>

#include <chrono>

#include "fs/mount_counters.h"

namespace zenith::fs {

namespace {

// The stream itself failed (as opposed to an error reply about one page).
bool IsConnectionFailure(const Status& s) {
  return s.code() == StatusCode::kUnavailable || s.code() == StatusCode::kProtocol;
}

}  // namespace

Result<std::unique_ptr<pageserver::PageStream>> RemotePageSource::Take() {
  {
    std::lock_guard lock(mu_);
    if (!idle_.empty()) {
      auto stream = std::move(idle_.back());
      idle_.pop_back();
      return stream;
    }
  }
  connections_.fetch_add(1, std::memory_order_relaxed);
  return pageserver::PageStream::Open(conninfo_, timeline_, /*exact=*/true);
}

void RemotePageSource::Give(std::unique_ptr<pageserver::PageStream> stream) {
  std::lock_guard lock(mu_);
  idle_.push_back(std::move(stream));
}

void RemotePageSource::DropIdle() {
  std::lock_guard lock(mu_);
  idle_.clear();
}

Status RemotePageSource::StartServer() {
  if (!start_server_) return Unavailable("no page server answers");
  std::lock_guard lock(start_mu_);
  return start_server_();
}

Status RemotePageSource::GetPages(const RelTag& rel, std::span<const uint32_t> blocks, std::span<uint8_t> out) {
  const auto start = std::chrono::steady_clock::now();
  Status last;
  // A broken pooled connection, then a failed connect (the server is gone),
  // then a connection to the restarted server.
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto stream = Take();
    if (!stream.ok()) {
      last = stream.status();
      if (!IsConnectionFailure(last)) break;
      spdlog::warn("no page server answers ({}); starting one", last.message());
      if (Status started = StartServer(); !started.ok()) {
        last = started;
        break;
      }
      continue;
    }
    last = (*stream)->GetPages(rel, blocks, Lsn(lsn_.load()), out);
    if (last.ok() || !IsConnectionFailure(last)) {
      Give(std::move(*stream));
      break;
    }
    spdlog::warn("page stream broke ({}); retrying on a new connection", last.message());
    DropIdle();
  }
  calls_.fetch_add(1, std::memory_order_relaxed);
  pages_.fetch_add(blocks.size(), std::memory_order_relaxed);
  if (last.ok()) ThisMount().PagesFetched(blocks.size());
  nanos_.fetch_add(static_cast<uint64_t>(std::chrono::nanoseconds(std::chrono::steady_clock::now() - start).count()),
                   std::memory_order_relaxed);
  return last;
}

std::string RemotePageSource::Summary() const {
  uint64_t calls = calls_.load(std::memory_order_relaxed);
  uint64_t avg_us = calls == 0 ? 0 : nanos_.load(std::memory_order_relaxed) / calls / 1000;
  return std::to_string(calls) + " calls, " + std::to_string(pages_.load(std::memory_order_relaxed)) + " pages, avg " +
         std::to_string(avg_us) + " us per call, " + std::to_string(connections_.load(std::memory_order_relaxed)) +
         " connections";
}

}  // namespace zenith::fs
