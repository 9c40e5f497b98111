#include "fs/mount_lease.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include "fs/mount_counters.h"

namespace zenith::fs {

Status MountLease::Pin(Lsn lsn, bool with_wal) { return conn_->Pin(timeline_, lsn, with_wal); }

Status MountLease::Acquire() {
  ZENITH_ASSIGN_OR_RETURN(conn_, connect_());
  ZENITH_ASSIGN_OR_RETURN(std::string token, conn_->Attach(timeline_, mountpoint_, getpid()));
  {
    std::lock_guard lock(mu_);
    token_ = std::move(token);
  }
  releasing_ = Lsn();  // a new session holds no old pin
  if (wal_token_enabled_) {
    if (Status s = FetchWalToken(); !s.ok()) spdlog::warn("no WAL token for this remote mount yet: {}", s.message());
  }
  if (!pinned_.valid()) return Status::Ok();
  // Kept as it is on failure: reads at a snapshot that is gone fail (the
  // page stream is exact), they never return another state.
  if (Status pin = Pin(pinned_, pinned_with_wal_); !pin.ok()) {
    spdlog::error("could not pin this mount's snapshot again; unmount and mount again: {}", pin.message());
  }
  return Status::Ok();
}

Result<std::string> MountLease::PinnedBasebackup() { return conn_->PinnedBasebackup(timeline_); }

void MountLease::StartKeepAlive(OnMoved on_moved) {
  on_moved_ = std::move(on_moved);
  keepalive_.Start(std::chrono::seconds(1), "mount lease keepalive", [this] { Tick(); });
}

void MountLease::Stop() { keepalive_.Stop(); }

// Releases the pin superseded a tick ago, then pins the newest snapshot
// stored and moves the mount's reads to it. A snapshot merged away before
// its pin is skipped: the next one comes with the next checkpoint.
void MountLease::MovePin() {
  if (releasing_.valid()) {
    IgnoreError(conn_->Unpin(timeline_, releasing_));
    releasing_ = Lsn();
  }
  const Lsn wanted(wanted_.load());
  if (!wanted.valid() || wanted <= pinned_) return;
  if (Status s = Pin(wanted, /*with_wal=*/false); !s.ok()) {
    spdlog::info("did not move this mount's pin to {}: {}", wanted.ToString(), s.message());
    return;
  }
  on_moved_(wanted);
  releasing_ = pinned_;
  pinned_ = wanted;
  pinned_with_wal_ = false;
}

std::string MountLease::token() const {
  std::lock_guard lock(mu_);
  return token_;
}

Status MountLease::EnableWalToken() {
  wal_token_enabled_ = true;
  return FetchWalToken();
}

Status MountLease::FetchWalToken() {
  {
    std::lock_guard lock(mu_);
    wal_token_.clear();
  }
  ZENITH_ASSIGN_OR_RETURN(std::string token, conn_->WalToken(timeline_));
  std::lock_guard lock(mu_);
  wal_token_ = std::move(token);
  return Status::Ok();
}

std::string MountLease::WalToken() {
  std::lock_guard lock(mu_);
  return wal_token_;
}

void MountLease::Tick() {
  if (conn_ && conn_->KeepAlive(ThisMount().Read()).ok()) {
    MovePin();
    if (wal_token_enabled_ && WalToken().empty()) IgnoreError(FetchWalToken());
    return;
  }
  conn_.reset();
  {
    std::lock_guard lock(mu_);
    token_.clear();  // that lease is gone with its connection
  }
  if (Status s = Acquire(); !s.ok()) spdlog::warn("could not renew the mount lease: {}", s.message());
  else spdlog::info("renewed the mount lease after losing the page server connection");
}

}  // namespace zenith::fs
