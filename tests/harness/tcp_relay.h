// TcpRelay: a TCP relay on 127.0.0.1 to a service on another local port,
// which a test can cut: while cut it accepts nothing (connections are
// refused) and has dropped every connection it carried. Real processes
// then meet a real network failure while the service behind it (a real
// Ceph RGW) runs on untouched: how the tests take a bucket away and give it
// back without stopping the RGW other tests share.
//
// With a delay, it is also a link between machines: every byte arrives
// that long after it was sent, each way (latency without a bandwidth limit).
//
// Thread-safety: Cut and Restore from the test's thread; the relay runs
// its own threads, joined by the destructor.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "common/status.h"
#include "common/unique_fd.h"

namespace zenith::testing {

class TcpRelay {
 public:
  // Listens on a free port of 127.0.0.1, relaying to 127.0.0.1:target_port,
  // each way `one_way_delay` late.
  static Result<std::unique_ptr<TcpRelay>> Start(uint16_t target_port,
                                                 std::chrono::microseconds one_way_delay = {});
  ~TcpRelay();
  TcpRelay(const TcpRelay&) = delete;
  TcpRelay& operator=(const TcpRelay&) = delete;

  uint16_t port() const { return port_; }
  // Stops listening and drops every relayed connection.
  void Cut();
  // Listens again on the same port.
  Status Restore();

 private:
  TcpRelay(uint16_t port, uint16_t target, std::chrono::microseconds delay)
      : port_(port), target_(target), delay_(delay) {}
  Status Listen();
  void AcceptLoop(int listen_fd);
  void Relay(int client_fd);

  const uint16_t port_;
  const uint16_t target_;
  const std::chrono::microseconds delay_;
  std::mutex mu_;
  UniqueFd listener_;          // GUARDED_BY(mu_)
  std::set<int> open_;         // GUARDED_BY(mu_): both ends of every relayed connection
  std::vector<std::thread> threads_;  // GUARDED_BY(mu_)
  bool stopping_ = false;      // GUARDED_BY(mu_)
};

}  // namespace zenith::testing
