// TcpRelay: a TCP relay on 127.0.0.1 to a service on another local port,
// which a test can cut: while cut it accepts nothing (connections are
// refused) and has dropped every connection it carried. Real processes
// then meet a real network failure while the service behind it (a real
// Ceph RGW) runs on untouched: how the tests take a bucket away and give it
// back without stopping the RGW other tests share.
//
// Thread-safety: Cut and Restore from the test's thread; the relay runs
// its own threads, joined by the destructor.
#pragma once

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
  // Listens on a free port of 127.0.0.1, relaying to 127.0.0.1:target_port.
  static Result<std::unique_ptr<TcpRelay>> Start(uint16_t target_port);
  ~TcpRelay();
  TcpRelay(const TcpRelay&) = delete;
  TcpRelay& operator=(const TcpRelay&) = delete;

  uint16_t port() const { return port_; }
  // Stops listening and drops every relayed connection.
  void Cut();
  // Listens again on the same port.
  Status Restore();

 private:
  TcpRelay(uint16_t port, uint16_t target) : port_(port), target_(target) {}
  Status Listen();
  void AcceptLoop(int listen_fd);
  void Relay(int client_fd);

  const uint16_t port_;
  const uint16_t target_;
  std::mutex mu_;
  UniqueFd listener_;          // GUARDED_BY(mu_)
  std::set<int> open_;         // GUARDED_BY(mu_): both ends of every relayed connection
  std::vector<std::thread> threads_;  // GUARDED_BY(mu_)
  bool stopping_ = false;      // GUARDED_BY(mu_)
};

}  // namespace zenith::testing
