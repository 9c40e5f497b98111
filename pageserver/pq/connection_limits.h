// Admission of TCP clients that have not authenticated yet, and the slowdown
// of repeated failed logins, per source address. The page server's door
// against strangers (docs/design.md, "Security"): a client that has not
// proved a password holds one of a few unauthenticated slots (a small cap
// overall and per address), so strangers cannot take the threads the
// owner's clients need; the Unix socket is counted elsewhere and never
// waits for any of this.
//
// No sockets here: the PqServer asks, the PqConnection reports, and the
// tests drive it with their own clock.
//
// Thread-safety: every method of AdmissionControl may be called from any
// thread (one mutex guards all of its state). A ConnectionTicket is used by
// one thread at a time.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace zenith::pageserver {

struct ConnectionLimitsOptions {
  // TCP clients between accept and a proved password (TLS handshake,
  // startup, SCRAM), over all addresses and from one address; a new one
  // beyond either is closed at once.
  int max_unauthenticated = 64;
  int max_unauthenticated_per_address = 8;
  // Failed logins from one address: the n-th answer is held back
  // min(base * 2^(n-1), max); each `decay` without a failure forgets one.
  std::chrono::milliseconds failed_login_delay_base{250};
  std::chrono::milliseconds failed_login_delay_max{10000};
  std::chrono::milliseconds failed_login_decay{60000};
  // Addresses remembered for their failures; beyond it the ones that have
  // failed least recently are forgotten.
  size_t max_tracked_addresses = 10000;
};

class AdmissionControl;

// One unauthenticated slot, held from accept until Authenticated() or the
// ticket's end. Move-only; an empty ticket holds nothing.
class ConnectionTicket {
 public:
  ConnectionTicket() = default;
  ConnectionTicket(ConnectionTicket&& other) noexcept { *this = std::move(other); }
  ConnectionTicket& operator=(ConnectionTicket&& other) noexcept;
  ConnectionTicket(const ConnectionTicket&) = delete;
  ConnectionTicket& operator=(const ConnectionTicket&) = delete;
  ~ConnectionTicket() { Release(); }

  // The client proved its password: its slot is free for the next stranger.
  void Authenticated() { Release(); }
  bool holds() const { return control_ != nullptr; }

 private:
  friend class AdmissionControl;
  ConnectionTicket(std::shared_ptr<AdmissionControl> control, std::string address)
      : control_(std::move(control)), address_(std::move(address)) {}
  void Release();

  std::shared_ptr<AdmissionControl> control_;
  std::string address_;
};

class AdmissionControl : public std::enable_shared_from_this<AdmissionControl> {
 public:
  using Clock = std::chrono::steady_clock;

  // Made shared: tickets keep it alive.
  static std::shared_ptr<AdmissionControl> Create(ConnectionLimitsOptions options);

  // A slot for a new TCP client from `address` (its IP, no port), or an
  // empty ticket when the overall or the per-address cap is reached.
  ConnectionTicket Admit(const std::string& address);

  // A login from `address` failed at `now`: how long to hold back the
  // answer (the delay grows with the failures the address has not yet
  // lived down).
  std::chrono::milliseconds NoteFailedLogin(const std::string& address, Clock::time_point now);
  // A login from `address` succeeded: its failures are forgotten.
  void NoteSuccessfulLogin(const std::string& address);

  // For tests and logs.
  int unauthenticated() const;
  int unauthenticated_from(const std::string& address) const;
  size_t tracked_addresses() const;
  const ConnectionLimitsOptions& options() const { return options_; }

  explicit AdmissionControl(ConnectionLimitsOptions options) : options_(options) {}  // use Create

 private:
  friend class ConnectionTicket;
  struct Failures {
    int64_t count = 0;  // not yet decayed at `last`
    Clock::time_point last;
  };
  void Release(const std::string& address);
  int64_t Remaining(const Failures& f, Clock::time_point now) const;
  void EvictOne(Clock::time_point now);  // REQUIRES: mu_ held

  const ConnectionLimitsOptions options_;
  mutable std::mutex mu_;  // guards the three fields below
  int unauthenticated_ = 0;
  std::map<std::string, int> per_address_;
  std::map<std::string, Failures> failures_;
};

}  // namespace zenith::pageserver
