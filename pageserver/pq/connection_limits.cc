#include "pageserver/pq/connection_limits.h"

#include <algorithm>

namespace zenith::pageserver {

ConnectionTicket& ConnectionTicket::operator=(ConnectionTicket&& other) noexcept {
  if (this != &other) {
    Release();
    control_ = std::move(other.control_);
    address_ = std::move(other.address_);
    other.control_ = nullptr;
  }
  return *this;
}

void ConnectionTicket::Release() {
  if (control_ == nullptr) return;
  control_->Release(address_);
  control_ = nullptr;
}

std::shared_ptr<AdmissionControl> AdmissionControl::Create(ConnectionLimitsOptions options) {
  return std::make_shared<AdmissionControl>(options);
}

ConnectionTicket AdmissionControl::Admit(const std::string& address) {
  std::lock_guard<std::mutex> lock(mu_);
  if (unauthenticated_ >= options_.max_unauthenticated) return {};
  int& from = per_address_[address];
  if (from >= options_.max_unauthenticated_per_address) return {};
  ++from;
  ++unauthenticated_;
  return ConnectionTicket(shared_from_this(), address);
}

void AdmissionControl::Release(const std::string& address) {
  std::lock_guard<std::mutex> lock(mu_);
  --unauthenticated_;
  auto it = per_address_.find(address);
  if (it != per_address_.end() && --it->second <= 0) per_address_.erase(it);
}

int64_t AdmissionControl::Remaining(const Failures& f, Clock::time_point now) const {
  if (options_.failed_login_decay.count() <= 0) return f.count;
  int64_t lived_down = (now - f.last) / options_.failed_login_decay;
  return std::max<int64_t>(0, f.count - std::max<int64_t>(0, lived_down));
}

std::chrono::milliseconds AdmissionControl::NoteFailedLogin(const std::string& address, Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = failures_.find(address);
  if (it == failures_.end()) {
    if (failures_.size() >= options_.max_tracked_addresses) EvictOne(now);
    it = failures_.emplace(address, Failures{0, now}).first;
  }
  Failures& f = it->second;
  f.count = Remaining(f, now) + 1;
  f.last = now;
  // base * 2^(count-1), without overflowing on the way to the cap.
  int64_t delay = options_.failed_login_delay_base.count();
  const int64_t cap = options_.failed_login_delay_max.count();
  for (int64_t i = 1; i < f.count && delay < cap; ++i) delay *= 2;
  return std::chrono::milliseconds(std::min(delay, cap));
}

void AdmissionControl::NoteSuccessfulLogin(const std::string& address) {
  std::lock_guard<std::mutex> lock(mu_);
  failures_.erase(address);
}

void AdmissionControl::EvictOne(Clock::time_point now) {
  auto oldest = failures_.begin();
  for (auto it = failures_.begin(); it != failures_.end(); ++it) {
    if (Remaining(it->second, now) == 0) {
      failures_.erase(it);
      return;
    }
    if (it->second.last < oldest->second.last) oldest = it;
  }
  if (oldest != failures_.end()) failures_.erase(oldest);
}

int AdmissionControl::unauthenticated() const {
  std::lock_guard<std::mutex> lock(mu_);
  return unauthenticated_;
}

int AdmissionControl::unauthenticated_from(const std::string& address) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = per_address_.find(address);
  return it == per_address_.end() ? 0 : it->second;
}

size_t AdmissionControl::tracked_addresses() const {
  std::lock_guard<std::mutex> lock(mu_);
  return failures_.size();
}

}  // namespace zenith::pageserver
