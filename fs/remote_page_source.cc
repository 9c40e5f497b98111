#include "fs/remote_page_source.h"

#include <spdlog/spdlog.h>

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
  return pageserver::PageStream::Open(conninfo_, timeline_);
}

void RemotePageSource::Give(std::unique_ptr<pageserver::PageStream> stream) {
  std::lock_guard lock(mu_);
  idle_.push_back(std::move(stream));
}

Status RemotePageSource::GetPages(const RelTag& rel, std::span<const uint32_t> blocks, std::span<uint8_t> out) {
  Status last;
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto stream = Take();
    if (!stream.ok()) {
      last = stream.status();
      continue;
    }
    last = (*stream)->GetPages(rel, blocks, lsn_, out);
    if (last.ok() || !IsConnectionFailure(last)) {
      Give(std::move(*stream));
      break;
    }
    spdlog::warn("page stream broke ({}); retrying on a new connection", last.message());
  }
  if (!last.ok()) spdlog::error("GetPage of {} blocks of {} failed: {}", blocks.size(), rel.ToString(), last.message());
  return last;
}

}  // namespace zenith::fs
