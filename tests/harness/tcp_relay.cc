#include "tests/harness/tcp_relay.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <deque>
#include <string>

namespace zenith::testing {

namespace {

sockaddr_in Loopback(uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

Result<UniqueFd> ListenOn(uint16_t port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return ErrnoStatus("socket", errno);
  int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a = Loopback(port);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return ErrnoStatus("bind", errno);
  if (::listen(fd.get(), 64) != 0) return ErrnoStatus("listen", errno);
  return fd;
}

// Copies what arrives on either socket to the other until one closes.
void Pump(int a, int b) {
  pollfd fds[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
  char buf[65536];
  while (::poll(fds, 2, -1) > 0) {
    for (int i = 0; i < 2; ++i) {
      if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      const ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n <= 0) return;
      for (ssize_t off = 0; off < n;) {
        const ssize_t w = ::write(fds[1 - i].fd, buf + off, static_cast<size_t>(n - off));
        if (w <= 0) return;
        off += w;
      }
    }
  }
}

bool WriteAll(int fd, const char* p, size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

// Copies what arrives on `from` to `to`, each chunk `delay` after it
// arrived, until either closes; then shuts both down (which ends the other
// direction's copy too).
void DelayedCopy(int from, int to, std::chrono::microseconds delay) {
  using Clock = std::chrono::steady_clock;
  struct Chunk {
    Clock::time_point due;
    std::string bytes;
  };
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Chunk> queue;
  bool ended = false;
  std::thread sender([&] {
    std::unique_lock lock(mu);
    while (true) {
      cv.wait(lock, [&] { return ended || !queue.empty(); });
      if (queue.empty()) return;
      Chunk c = std::move(queue.front());
      queue.pop_front();
      lock.unlock();
      std::this_thread::sleep_until(c.due);
      const bool sent = WriteAll(to, c.bytes.data(), c.bytes.size());
      lock.lock();
      if (!sent) return;
    }
  });
  char buf[65536];
  ssize_t n;
  while ((n = ::read(from, buf, sizeof buf)) > 0) {
    std::lock_guard lock(mu);
    queue.push_back({Clock::now() + delay, std::string(buf, static_cast<size_t>(n))});
    cv.notify_one();
  }
  {
    std::lock_guard lock(mu);
    ended = true;
    cv.notify_one();
  }
  sender.join();
  ::shutdown(from, SHUT_RDWR);
  ::shutdown(to, SHUT_RDWR);
}

}  // namespace

Result<std::unique_ptr<TcpRelay>> TcpRelay::Start(uint16_t target_port, std::chrono::microseconds one_way_delay) {
  ZENITH_ASSIGN_OR_RETURN(UniqueFd probe, ListenOn(0));
  sockaddr_in a{};
  socklen_t len = sizeof a;
  if (::getsockname(probe.get(), reinterpret_cast<sockaddr*>(&a), &len) != 0) return ErrnoStatus("getsockname", errno);
  probe.reset();
  std::unique_ptr<TcpRelay> relay(new TcpRelay(ntohs(a.sin_port), target_port, one_way_delay));
  ZENITH_RETURN_IF_ERROR(relay->Listen());
  return relay;
}

Status TcpRelay::Listen() {
  ZENITH_ASSIGN_OR_RETURN(UniqueFd fd, ListenOn(port_));
  std::lock_guard lock(mu_);
  const int raw = fd.get();
  listener_ = std::move(fd);
  threads_.emplace_back([this, raw] { AcceptLoop(raw); });
  return Status::Ok();
}

void TcpRelay::AcceptLoop(int listen_fd) {
  while (true) {
    const int client = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return;  // the listener was shut down (Cut, or the destructor)
    }
    std::lock_guard lock(mu_);
    if (stopping_) {
      ::close(client);
      return;
    }
    open_.insert(client);
    threads_.emplace_back([this, client] { Relay(client); });
  }
}

void TcpRelay::Relay(int client) {
  const int server = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a = Loopback(target_);
  bool connected = server >= 0 && ::connect(server, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  if (connected) {
    {
      std::lock_guard lock(mu_);
      open_.insert(server);
    }
    if (delay_.count() == 0) {
      Pump(client, server);
    } else {
      std::thread back([&] { DelayedCopy(server, client, delay_); });
      DelayedCopy(client, server, delay_);
      back.join();
    }
  }
  std::lock_guard lock(mu_);
  for (int fd : {client, server}) {
    if (fd < 0) continue;
    open_.erase(fd);
    ::close(fd);
  }
}

void TcpRelay::Cut() {
  std::lock_guard lock(mu_);
  if (listener_.get() >= 0) ::shutdown(listener_.get(), SHUT_RDWR);  // wakes accept
  for (int fd : open_) ::shutdown(fd, SHUT_RDWR);  // each relay then closes its pair
}

Status TcpRelay::Restore() {
  {
    std::lock_guard lock(mu_);
    listener_.reset();
  }
  return Listen();
}

TcpRelay::~TcpRelay() {
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    if (listener_.get() >= 0) ::shutdown(listener_.get(), SHUT_RDWR);
    for (int fd : open_) ::shutdown(fd, SHUT_RDWR);
    threads.swap(threads_);
  }
  for (auto& t : threads) t.join();
}

}  // namespace zenith::testing
