#include "pageserver/repo/wal_receiver.h"

#include <sys/random.h>

#include <spdlog/spdlog.h>

#include "common/str_format.h"
#include "pageserver/metrics/server_metrics.h"

namespace zenith::pageserver {

namespace {

constexpr size_t kTokenBytes = 32;

Result<std::string> NewToken() {
  uint8_t bytes[kTokenBytes];
  if (::getrandom(bytes, sizeof bytes, 0) != static_cast<ssize_t>(sizeof bytes)) {
    return ErrnoStatus("getrandom for a WAL token", errno);
  }
  static const char kHex[] = "0123456789abcdef";
  std::string token;
  for (uint8_t b : bytes) {
    token.push_back(kHex[b >> 4]);
    token.push_back(kHex[b & 15]);
  }
  return token;
}

// Compares without stopping at the first difference.
bool SameSecret(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

}  // namespace

WalStreamWriter::WalStreamWriter(std::shared_ptr<Timeline> timeline, Lsn start)
    : timeline_(std::move(timeline)), start_(start),
      writer_(timeline_->wal_dir(), WalSegmentWriter::Existing::kKeep), end_(start) {}

Result<Lsn> WalStreamWriter::WriteDurably(Lsn at, std::span<const uint8_t> bytes) {
  std::lock_guard lock(mu_);
  if (revoked_) return Busy("this WAL stream of timeline " + timeline_->id().ToString() + " was replaced or its lease ended");
  if (at != end_) {
    return InvalidArgument("WAL sent at " + at.ToString() + ", but the stream's WAL ends at " + end_.ToString());
  }
  ZENITH_RETURN_IF_ERROR(writer_.Write(at, bytes));
  ZENITH_RETURN_IF_ERROR(writer_.Sync());
  end_ = at + bytes.size();
  CountWalReceived(bytes.size());
  return end_;
}

void WalStreamWriter::Revoke() {
  std::lock_guard lock(mu_);
  revoked_ = true;
}

std::string WalReceivers::IssueToken(const TimelineId& timeline, uint64_t lease_session) {
  auto token = NewToken();
  if (!token.ok()) return "";  // no token: put_wal refuses every one
  std::shared_ptr<WalStreamWriter> old;
  {
    std::lock_guard lock(mu_);
    Lease& lease = leases_[timeline];
    old = std::move(lease.stream);
    lease = Lease{lease_session, *token, nullptr};
  }
  RevokeStream(std::move(old));
  return *token;
}

void WalReceivers::EndLease(const TimelineId& timeline, uint64_t lease_session) {
  std::shared_ptr<WalStreamWriter> old;
  {
    std::lock_guard lock(mu_);
    auto it = leases_.find(timeline);
    if (it == leases_.end() || it->second.session != lease_session) return;
    old = std::move(it->second.stream);
    leases_.erase(it);
  }
  RevokeStream(std::move(old));
}

Result<std::shared_ptr<WalStreamWriter>> WalReceivers::Open(const std::shared_ptr<Timeline>& timeline,
                                                            const std::string& token) {
  auto deny = [&] {
    return PermissionDenied("put_wal: the token is not that of timeline " + timeline->id().ToString() +
                            "'s current read-write lease; ask wal_token on the connection holding it");
  };
  std::shared_ptr<WalStreamWriter> old;
  uint64_t session = 0;
  {
    std::lock_guard lock(mu_);
    auto it = leases_.find(timeline->id());
    if (it == leases_.end() || token.empty() || !SameSecret(it->second.token, token)) return deny();
    old = std::move(it->second.stream);
    session = it->second.session;
  }
  RevokeStream(std::move(old));  // one writer of wal/ at a time
  // Under mu_ (disk I/O only): the lease cannot end, nor another mount
  // start writing wal/, between this check and the zeroing.
  std::lock_guard lock(mu_);
  auto it = leases_.find(timeline->id());
  if (it == leases_.end() || it->second.session != session || !SameSecret(it->second.token, token)) {
    return deny();  // the lease ended meanwhile
  }
  if (it->second.stream) return Busy("another WAL stream of timeline " + timeline->id().ToString() + " opened meanwhile");
  ZENITH_ASSIGN_OR_RETURN(const Lsn start, timeline->EndOfWal());
  WalSegmentWriter discard(timeline->wal_dir(), WalSegmentWriter::Existing::kKeep);
  ZENITH_RETURN_IF_ERROR(discard.DiscardFrom(start));  // a partial record a dead compute left
  it->second.stream = std::make_shared<WalStreamWriter>(timeline, start);
  spdlog::info("timeline {}: receiving a remote compute's WAL at {}", timeline->id().ToString(), start.ToString());
  return it->second.stream;
}

bool WalReceivers::Receiving(const TimelineId& timeline) {
  std::lock_guard lock(mu_);
  return leases_.contains(timeline);
}

void WalReceivers::RevokeStream(std::shared_ptr<WalStreamWriter> stream) {
  if (stream) stream->Revoke();
}

}  // namespace zenith::pageserver
