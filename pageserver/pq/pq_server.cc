#include "pageserver/pq/pq_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <exception>

#include <spdlog/spdlog.h>

#include "pageserver/metrics/server_metrics.h"

namespace zenith::pageserver {

struct PqServer::ConnectionSlot {
  std::atomic<bool> done{false};  // set by the thread as its last act
  bool refusal = false;           // only answers "too many connections"
  bool is_unix = false;           // which listener's pool it counts in
  std::jthread thread;            // declared last: joined before the fields above die
};

namespace {

// How long the acceptor pauses when out of file descriptors or memory.
constexpr int kAcceptBackoffMs = 100;
// How often the count of strangers' connections closed at once is logged.
constexpr auto kDroppedLogInterval = std::chrono::seconds(10);

Result<sockaddr_un> UnixAddress(const std::string& path) {
  sockaddr_un addr{};
  if (path.size() >= sizeof(addr.sun_path)) {
    return InvalidArgument("Unix socket path \"" + path + "\" is " + std::to_string(path.size()) +
                           " bytes long; the limit is " + std::to_string(sizeof(addr.sun_path) - 1) +
                           " (sun_path): use a shorter directory");
  }
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  return addr;
}

// Removes `path` if it is a socket nobody listens on (left by a crashed
// server); refuses to touch anything else.
Status RemoveStaleSocket(const std::string& path, const sockaddr_un& addr) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return Status::Ok();
    return ErrnoStatus("stat", path, errno);
  }
  if (!S_ISSOCK(st.st_mode)) {
    return AlreadyExists("\"" + path + "\" exists and is not a socket; remove it or choose another directory");
  }
  UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!probe) return ErrnoStatus("create a Unix socket", errno);
  if (::connect(probe.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0 || errno == EAGAIN) {
    return Busy("another server is listening on \"" + path + "\"; stop it or use another port");
  }
  if (errno != ECONNREFUSED) return ErrnoStatus("probe the socket", path, errno);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return ErrnoStatus("remove the stale socket", path, errno);
  spdlog::info("removed the stale socket {}", path);
  return Status::Ok();
}

std::pair<std::string, std::string> PeerNameAndAddress(const sockaddr_storage& addr) {
  if (addr.ss_family != AF_INET) return {"unix socket", ""};
  const auto& in = reinterpret_cast<const sockaddr_in&>(addr);
  char ip[INET_ADDRSTRLEN] = "?";
  ::inet_ntop(AF_INET, &in.sin_addr, ip, sizeof ip);
  return {std::string(ip) + ":" + std::to_string(ntohs(in.sin_port)), ip};
}

}  // namespace

std::string UnixSocketPath(std::string_view dir, uint16_t port) {
  std::string path(dir);
  if (path.empty() || path.back() != '/') path += '/';
  return path + ".s.PGSQL." + std::to_string(port);
}

PqServer::PqServer(PqServerOptions options, CommandTable commands)
    : options_(std::move(options)), commands_(std::move(commands)) {}

PqServer::~PqServer() { Stop(); }

Status PqServer::Start() {
  if (started_) return Internal("PqServer::Start called twice");
  started_ = true;
  if (options_.unix_socket_path.empty() && !options_.tcp_port) {
    return InvalidArgument("the page server has no listener: set a Unix socket path or a TCP port");
  }
  if (options_.max_connections < 1) return InvalidArgument("max_connections must be at least 1");
  if (options_.tcp_limits.max_unauthenticated < 1 || options_.tcp_limits.max_unauthenticated_per_address < 1) {
    return InvalidArgument("the caps on unauthenticated connections must be at least 1");
  }
  admission_ = AdmissionControl::Create(options_.tcp_limits);
  if (options_.tcp_port && !options_.tcp_tls && !options_.allow_plain_tcp) {
    return InvalidArgument("a TCP listener needs a TLS certificate (or plain TCP allowed by name)");
  }
  ZENITH_ASSIGN_OR_RETURN(StopEvent stop, StopEvent::Create());
  stop_ = std::make_unique<StopEvent>(std::move(stop));
  Status s = options_.unix_socket_path.empty() ? Status::Ok() : ListenUnix();
  if (s.ok() && options_.tcp_port) s = ListenTcp();
  if (!s.ok()) {
    listeners_.clear();
    RemoveSocketFile();
    return s;
  }
  key_generator_.seed(std::random_device{}());
  acceptor_ = std::jthread([this] { AcceptLoop(); });
  spdlog::info("page server listening on {}{}", options_.unix_socket_path.empty() ? "" : options_.unix_socket_path,
               bound_tcp_port_ ? " " + options_.tcp_host + ":" + std::to_string(*bound_tcp_port_) : "");
  return Status::Ok();
}

void PqServer::Stop() {
  if (!started_ || stopped_) return;
  stopped_ = true;
  if (stop_) stop_->Signal();
  if (acceptor_.joinable()) acceptor_.join();
  listeners_.clear();  // new clients are refused from here on
  RemoveSocketFile();
  std::list<std::unique_ptr<ConnectionSlot>> slots;
  {
    std::lock_guard<std::mutex> lock(mu_);
    slots.swap(slots_);
  }
  slots.clear();  // joins every connection thread; each wakes on the StopEvent
  spdlog::info("page server stopped");
}

int PqServer::active_connections() const {
  std::lock_guard<std::mutex> lock(mu_);
  int n = 0;
  for (const auto& slot : slots_) n += (!slot->refusal && !slot->done.load(std::memory_order_acquire)) ? 1 : 0;
  return n;
}

Status PqServer::ListenUnix() {
  const std::string& path = options_.unix_socket_path;
  ZENITH_ASSIGN_OR_RETURN(sockaddr_un addr, UnixAddress(path));
  ZENITH_RETURN_IF_ERROR(RemoveStaleSocket(path, addr));
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return ErrnoStatus("create a Unix socket", errno);
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    return ErrnoStatus("bind the Unix socket", path, errno);
  }
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0) {
    socket_dev_ = st.st_dev;
    socket_ino_ = st.st_ino;
  }
  if (::listen(fd.get(), SOMAXCONN) != 0) return ErrnoStatus("listen on", path, errno);
  listeners_.push_back({std::move(fd), true});
  return Status::Ok();
}

Status PqServer::ListenTcp() {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return ErrnoStatus("create a TCP socket", errno);
  int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  std::string where = options_.tcp_host + ":" + std::to_string(*options_.tcp_port);
  if (::inet_pton(AF_INET, options_.tcp_host.c_str(), &addr.sin_addr) != 1) {
    return InvalidArgument("'" + options_.tcp_host + "' is not an IPv4 address to listen on");
  }
  addr.sin_port = htons(*options_.tcp_port);
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    return ErrnoStatus("bind", where, errno);
  }
  if (::listen(fd.get(), SOMAXCONN) != 0) return ErrnoStatus("listen on", where, errno);
  socklen_t len = sizeof addr;
  if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return ErrnoStatus("read the address of", where, errno);
  }
  bound_tcp_port_ = ntohs(addr.sin_port);
  listeners_.push_back({std::move(fd), false});
  return Status::Ok();
}

void PqServer::RemoveSocketFile() {
  if (socket_ino_ == 0) return;
  struct stat st;
  const std::string& path = options_.unix_socket_path;
  // Only ours: another server may have replaced it since.
  if (::lstat(path.c_str(), &st) == 0 && st.st_dev == socket_dev_ && st.st_ino == socket_ino_) ::unlink(path.c_str());
  socket_ino_ = 0;
}

void PqServer::AcceptLoop() {
  std::vector<pollfd> fds;
  for (const Listener& l : listeners_) fds.push_back({l.fd.get(), POLLIN, 0});
  fds.push_back({stop_->fd(), POLLIN, 0});
  for (;;) {
    int ready = ::poll(fds.data(), fds.size(), -1);
    if (stop_->signaled()) return;
    if (ready < 0) {
      if (errno == EINTR) continue;
      spdlog::error("page server: poll on the listeners failed: {}", std::strerror(errno));
      pollfd stop = {stop_->fd(), POLLIN, 0};
      ::poll(&stop, 1, kAcceptBackoffMs);
      continue;
    }
    for (size_t i = 0; i < listeners_.size(); ++i) {
      if (fds[i].revents != 0) AcceptFrom(listeners_[i]);
    }
  }
}

void PqServer::AcceptFrom(const Listener& listener) {
  for (;;) {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    int fd = ::accept4(listener.fd.get(), reinterpret_cast<sockaddr*>(&addr), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      int err = errno;
      if (err == EAGAIN || err == EWOULDBLOCK) return;
      if (err == EINTR || err == ECONNABORTED || err == EPROTO) continue;
      spdlog::warn("page server: accept failed: {}", std::strerror(err));
      pollfd stop = {stop_->fd(), POLLIN, 0};
      ::poll(&stop, 1, kAcceptBackoffMs);  // out of fds or memory: let connections end
      return;
    }
    UniqueFd client(fd);
    if (!listener.is_unix) {
      int one = 1;
      ::setsockopt(client.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    auto [name, address] = PeerNameAndAddress(addr);
    StartConnection(std::move(client), Peer{std::move(name), std::move(address)}, listener.is_unix);
  }
}

namespace {

// Why a Unix-socket peer may not be served, or "" (it runs as our user).
std::string PeerRefusal(int fd) {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return "the peer's credentials are unknown";
  if (cred.uid == ::geteuid()) return "";
  return "only the repository's owner (uid " + std::to_string(::geteuid()) + ") may use the page server's socket; uid " +
         std::to_string(cred.uid) + " may connect over TCP with the password";
}

}  // namespace

PqConnectionOptions PqServer::ConnectionOptions(int fd, Peer peer, bool is_unix) {
  PqConnectionOptions options;
  options.id = next_id_++;
  options.secret_key = static_cast<uint32_t>(key_generator_());
  options.peer = std::move(peer.name);
  options.startup_timeout = options_.startup_timeout;
  options.max_connections = options_.max_connections;
  if (is_unix && options_.unix_owner_only) options.refuse_peer = PeerRefusal(fd);
  options.local = is_unix && options_.unix_owner_only && options.refuse_peer.empty();
  if (!is_unix) {
    options.users = options_.tcp_users.get();
    options.tls = options_.tcp_tls.get();
    options.allow_plain = options_.allow_plain_tcp;
    options.admission = admission_;
    options.address = std::move(peer.address);
    options.idle_timeout = options_.tcp_idle_timeout;
    options.send_timeout = options_.tcp_send_timeout;
  }
  return options;
}

void PqServer::NoteDropped(const Peer& peer) {
  ++dropped_;
  auto now = std::chrono::steady_clock::now();
  if (dropped_ > 1 && now - dropped_logged_ < kDroppedLogInterval) return;
  spdlog::warn("page server: closed {} TCP connection(s) at once, the last from {}: too many not yet authenticated "
               "(caps: {} overall, {} per address)",
               dropped_, peer.name, options_.tcp_limits.max_unauthenticated,
               options_.tcp_limits.max_unauthenticated_per_address);
  dropped_ = 0;
  dropped_logged_ = now;
}

void PqServer::StartConnection(UniqueFd fd, Peer peer, bool is_unix) {
  // A stranger's connection costs no thread unless it fits the caps.
  ConnectionTicket ticket;
  if (!is_unix) {
    ticket = admission_->Admit(peer.address);
    if (!ticket.holds()) {
      CountRefusedConnection("unauthenticated_cap");
      return NoteDropped(peer);
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  ReapFinished();
  int active = 0;
  int refusing = 0;
  for (const auto& slot : slots_) {
    if (slot->is_unix == is_unix) (slot->refusal ? refusing : active) += 1;
  }
  PqConnectionOptions options = ConnectionOptions(fd.get(), std::move(peer), is_unix);
  options.ticket = std::move(ticket);
  if (active >= options_.max_connections) {
    if (refusing >= options_.max_connections) {
      spdlog::warn("page server: dropped a connection from {}: too many connections", options.peer);
      CountRefusedConnection("too_many");
      return;  // closes fd without a word: even refusing costs a thread
    }
    options.refuse_too_many = true;
    CountRefusedConnection("too_many");
  }
  auto slot = std::make_unique<ConnectionSlot>();
  slot->refusal = options.refuse_too_many;
  slot->is_unix = is_unix;
  ConnectionSlot* raw = slot.get();
  const bool served = !options.refuse_too_many;
  if (served) ConnectionOpened(is_unix);  // counted on accept, so a scrape never misses a connection being served
  try {
    slot->thread = std::jthread([this, raw, is_unix, served, fd = std::move(fd), options = std::move(options)]() mutable {
      uint64_t id = options.id;
      try {
        PqConnection connection(std::move(fd), commands_, *stop_, std::move(options));
        connection.Run();
      } catch (const std::exception& e) {  // e.g. bad_alloc: end this connection, not the process
        spdlog::error("connection {} failed: {}", id, e.what());
      }
      if (served) ConnectionClosed(is_unix);
      raw->done.store(true, std::memory_order_release);
    });
  } catch (const std::exception& e) {
    spdlog::error("page server: could not start a connection thread: {}", e.what());
    if (served) ConnectionClosed(is_unix);
    return;
  }
  slots_.push_back(std::move(slot));
}

void PqServer::ReapFinished() {
  slots_.remove_if([](const std::unique_ptr<ConnectionSlot>& slot) {
    return slot->done.load(std::memory_order_acquire);
  });
}

}  // namespace zenith::pageserver
