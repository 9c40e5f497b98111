// PqServer: the page server's listeners and connection threads. It accepts
// clients on a Unix socket (named like PostgreSQL's, so `psql -h DIR -p PORT`
// finds it) and optionally on TCP 127.0.0.1, and serves each on its own thread
// with a PqConnection calling the commands of one CommandTable. TCP clients
// get TLS (and only TLS, unless plain TCP was allowed by name).
//
// Lifecycle: Start() binds and starts the acceptor; Stop() (also run by the
// destructor) signals every thread through one StopEvent, closes the
// listeners, joins the acceptor and every connection thread, and removes the
// socket file. A connection blocked on its socket wakes at once; a handler
// busy with work of its own is waited for. No thread outlives Stop().
//
// Thread-safety: Start() and Stop() are called by the owning thread (Stop is
// idempotent); the accessors may be called from any thread. The CommandTable
// is read concurrently by all connection threads and never modified.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <sys/types.h>

#include "common/status.h"
#include "common/unique_fd.h"
#include "pageserver/pq/command.h"
#include "pageserver/pq/connection_limits.h"
#include "pageserver/pq/pq_connection.h"

namespace zenith::pageserver {

struct PqServerOptions {
  // The Unix socket to listen on; empty = none. UnixSocketPath(dir, port)
  // gives the name libpq looks for.
  std::string unix_socket_path;
  // Listen on TCP too, at tcp_host (an IPv4 address; "0.0.0.0" is every
  // interface); port 0 picks a free one (see tcp_port()).
  std::optional<uint16_t> tcp_port;
  std::string tcp_host = "127.0.0.1";
  // Set: every TCP client authenticates with SCRAM-SHA-256 as one of these
  // users before any command, and gets its role (unset: TCP is trusted, as
  // role zenith, for tests on a private port).
  std::shared_ptr<const TcpUsers> tcp_users;
  // Set: TCP clients are served over TLS with it (SSLRequest answered 'S').
  std::shared_ptr<const TlsServerContext> tcp_tls;
  // Serve TCP clients that do not ask for TLS. Start() refuses a TCP
  // listener with neither tcp_tls nor this set.
  bool allow_plain_tcp = false;
  // Serve on the Unix socket only clients running as this process's user
  // (peer credentials); others get FATAL 28000.
  bool unix_owner_only = false;
  // Clients served at once on each listener, counted apart (the Unix
  // socket's never wait for TCP's); more get FATAL 53300 "too many
  // connections".
  int max_connections = 100;
  // A client must finish its startup (TLS handshake and SCRAM included)
  // within this time.
  std::chrono::milliseconds startup_timeout{10000};
  // TCP clients that have not authenticated yet: caps overall and per
  // address (beyond them a new connection is closed at once), and the
  // slowdown of failed logins (connection_limits.h).
  ConnectionLimitsOptions tcp_limits;
  // TCP only: close a connection idle this long between commands while it
  // holds no lease (zero: never), or whose replies stay unread this long.
  std::chrono::milliseconds tcp_idle_timeout{0};
  std::chrono::milliseconds tcp_send_timeout{0};
};

// "<dir>/.s.PGSQL.<port>": where `psql -h <dir> -p <port>` connects.
std::string UnixSocketPath(std::string_view dir, uint16_t port);

class PqServer {
 public:
  PqServer(PqServerOptions options, CommandTable commands);
  PqServer(const PqServer&) = delete;
  PqServer& operator=(const PqServer&) = delete;
  ~PqServer();  // Stop()

  // Binds the listeners and starts accepting. Errors: kInvalidArgument for a
  // socket path longer than sun_path, no listener configured, or TCP with
  // neither TLS nor allow_plain_tcp; kBusy when
  // another server listens on the socket; kAlreadyExists when the path is
  // taken by something that is not a socket; kIoError from bind/listen.
  // A stale socket file (nobody listening) is replaced.
  // REQUIRES: not started before.
  Status Start();
  // Stops everything and returns when every thread has ended. Safe to call
  // twice, and before Start().
  void Stop();

  // The bound TCP port (after Start with tcp_port set), else nullopt.
  std::optional<uint16_t> tcp_port() const { return bound_tcp_port_; }
  const std::string& unix_socket_path() const { return options_.unix_socket_path; }
  // Connections currently being served (refused ones not counted).
  int active_connections() const;
  // TCP clients holding an unauthenticated slot now.
  int unauthenticated_connections() const { return admission_ ? admission_->unauthenticated() : 0; }

 private:
  struct ConnectionSlot;
  struct Peer {
    std::string name;     // for logs: "unix socket", "127.0.0.1:43210"
    std::string address;  // the IP alone ("" for the Unix socket)
  };
  struct Listener {
    UniqueFd fd;
    bool is_unix = false;
  };

  Status ListenUnix();
  Status ListenTcp();
  void AcceptLoop();
  void AcceptFrom(const Listener& listener);
  void StartConnection(UniqueFd fd, Peer peer, bool is_unix);
  PqConnectionOptions ConnectionOptions(int fd, Peer peer, bool is_unix);
  // Notes a TCP client closed for want of an unauthenticated slot; logs
  // their number at most every few seconds. Acceptor thread only.
  void NoteDropped(const Peer& peer);
  void ReapFinished();  // REQUIRES: mu_ held
  void RemoveSocketFile();

  const PqServerOptions options_;
  const CommandTable commands_;
  std::unique_ptr<StopEvent> stop_;
  std::vector<Listener> listeners_;
  std::optional<uint16_t> bound_tcp_port_;
  dev_t socket_dev_ = 0;  // identity of the socket file we created, so Stop
  ino_t socket_ino_ = 0;  // removes only ours
  bool started_ = false;
  bool stopped_ = false;
  uint64_t next_id_ = 1;           // acceptor thread only
  std::mt19937_64 key_generator_;  // acceptor thread only
  std::jthread acceptor_;          // joined by Stop()
  std::shared_ptr<AdmissionControl> admission_;  // TCP only; made by Start()
  uint64_t dropped_ = 0;                         // acceptor thread only
  std::chrono::steady_clock::time_point dropped_logged_;  // acceptor thread only

  // Guards slots_. Connection threads never take it, so joining a finished
  // thread under it is safe; Stop() joins live ones without it.
  mutable std::mutex mu_;
  std::list<std::unique_ptr<ConnectionSlot>> slots_;
};

}  // namespace zenith::pageserver
