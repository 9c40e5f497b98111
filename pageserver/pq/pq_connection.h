// One client connection of the page server: buffered socket I/O (plain or
// TLS, pq_transport.h), the startup handshake (SSLRequest, authentication),
// the message loop with the simple and extended query protocols, and the
// COPY sub-protocols, calling commands from a CommandTable.
//
// Error policy (PostgreSQL's): a malformed message whose framing is intact
// (bad fields, unknown statement, handler error) gets an ErrorResponse
// (severity ERROR) and the connection goes on; in the extended protocol the
// following messages are then discarded until Sync. A broken framing (bad
// length, unknown message type), a failed startup or the server stopping gets
// a best-effort FATAL ErrorResponse and the connection is closed.
//
// Output is buffered and flushed at ReadyForQuery, at Flush, when it grows
// large, and when a COPY handler's read would block.
//
// Thread-safety: a PqConnection is created and run by one thread; the only
// thing other threads touch is the StopEvent they share.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/unique_fd.h"
#include "pageserver/pq/command.h"
#include "pageserver/pq/connection_limits.h"
#include "pageserver/pq/pq_message.h"
#include "pageserver/pq/pq_transport.h"
#include "pageserver/pq/scram.h"
#include "pageserver/pq/tcp_users.h"

namespace zenith::pageserver {

// Tells every connection of a server to stop: an eventfd that stays readable
// once signalled (so every poll() wakes), plus a flag for busy loops that do
// not poll. Thread-safe.
class StopEvent {
 public:
  static Result<StopEvent> Create();
  StopEvent(StopEvent&&) = default;
  void Signal();
  bool signaled() const { return flag_->load(std::memory_order_acquire); }
  int fd() const { return fd_.get(); }

 private:
  explicit StopEvent(UniqueFd fd) : fd_(std::move(fd)), flag_(std::make_unique<std::atomic<bool>>(false)) {}
  UniqueFd fd_;
  std::unique_ptr<std::atomic<bool>> flag_;
};

// Buffered I/O on one non-blocking stream socket, in plain text or TLS
// (PqTransport). Every wait also watches the StopEvent and an optional
// deadline. After any error the socket is broken(): nothing more is read or
// written.
class PqSocket {
 public:
  using Clock = std::chrono::steady_clock;
  // REQUIRES: fd is a non-blocking stream socket; `stop` outlives this.
  PqSocket(UniqueFd fd, const StopEvent& stop);

  // Every wait fails with kTimeout after `deadline`; nullopt waits forever.
  void set_deadline(std::optional<Clock::time_point> deadline) { deadline_ = deadline; }
  // A send that makes no progress for this long (the client stopped
  // reading and our output stays queued) fails with kTimeout; zero waits
  // as long as the deadline allows.
  void set_send_timeout(std::chrono::milliseconds timeout) { send_timeout_ = timeout; }
  // Waits `pause` unless the server stops first (then false).
  bool Pause(std::chrono::milliseconds pause);
  // Appends exactly n bytes to *out. With flush_before_block, pending output
  // is sent first whenever the read would have to wait. Errors: kUnavailable
  // at end of stream (peer_closed()) or when stopping, kTimeout, kIoError.
  Status Read(size_t n, std::string* out, bool flush_before_block = false);
  size_t buffered_input() const { return in_end_ - in_begin_; }
  // The pending output; append complete messages to it.
  std::string& output() { return out_; }
  // Sends all pending output, waiting as needed.
  Status Flush();
  // Runs the TLS handshake as the server; every byte after it is in TLS.
  // A failed handshake breaks the socket (kProtocol) with peer_gone() set:
  // nothing can be said to a client that does not speak our TLS.
  // REQUIRES: no buffered input, no pending output, not in TLS yet.
  Status StartTls(const TlsServerContext& context);
  bool tls() const { return transport_.tls(); }
  std::string DescribeTls() const { return transport_.Describe(); }
  // Flushes when the pending output exceeds `threshold` bytes.
  Status FlushIfOver(size_t threshold) { return out_.size() > threshold ? Flush() : Status::Ok(); }
  // Sends pending output for at most `limit`, ignoring the StopEvent (for a
  // last FATAL message before closing). Errors are dropped.
  void FlushBestEffort(std::chrono::milliseconds limit);

  bool broken() const { return broken_; }
  // Why the socket broke; OK while it is not broken.
  const Status& error() const { return error_; }
  // True when the peer closed or reset the connection (so writing is futile).
  bool peer_gone() const { return peer_gone_; }

 private:
  Status Fill(bool flush_before_block);
  // Waits for `events`; kTimeout past deadline_ or `until`, if set.
  Status Wait(short events, std::optional<Clock::time_point> until = std::nullopt);
  Status Break(Status s, bool peer_gone);
  // A transport error or end of stream, as Fill and Flush report it.
  Status BreakOn(PqTransport::Io io);

  PqTransport transport_;
  const StopEvent& stop_;
  std::optional<Clock::time_point> deadline_;
  std::chrono::milliseconds send_timeout_{0};
  std::vector<char> in_;
  size_t in_begin_ = 0;
  size_t in_end_ = 0;
  std::string out_;
  bool broken_ = false;
  bool peer_gone_ = false;
  Status error_;
};

struct PqConnectionOptions {
  uint64_t id = 0;                      // Session::id()
  uint32_t secret_key = 0;              // BackendKeyData
  std::string peer;                     // for logs: "unix socket", "127.0.0.1:43210"
  std::chrono::milliseconds startup_timeout{10000};
  // Answer the startup packet with FATAL 53300 and close (the server is full).
  bool refuse_too_many = false;
  int max_connections = 0;              // for the refusal message
  // Not empty: answer the startup packet with FATAL 28000 and this message
  // (a Unix-socket peer that is not the repository's owner).
  std::string refuse_peer;
  // The peer came over the Unix socket as the repository's owner
  // (Session::local).
  bool local = false;
  // Set (TCP): an SSLRequest is answered 'S' and the session goes on in TLS
  // with this context; a client that starts without TLS gets FATAL 28000
  // unless allow_plain is set. Unset: SSLRequest is answered 'N'. Not owned.
  const TlsServerContext* tls = nullptr;
  bool allow_plain = false;
  // Set: the client authenticates with SCRAM-SHA-256 as one of these users
  // before anything else (TCP), and gets that user's role; over TLS it may
  // choose SCRAM-SHA-256-PLUS, bound to the TLS channel. Not owned.
  const TcpUsers* users = nullptr;
  // The role of a client that does not authenticate (Session::role).
  Role role = Role::kZenith;
  // TCP: the client's unauthenticated slot, given back once it proved its
  // password (or at the end); and where failed logins are counted, with
  // the client's IP address (`peer` without the port). Unset for the Unix
  // socket.
  ConnectionTicket ticket;
  std::shared_ptr<AdmissionControl> admission;
  std::string address;
  // Close the connection when the client sends nothing for this long between
  // commands while it holds no lease (no OnClose hook); zero: never.
  std::chrono::milliseconds idle_timeout{0};
  // Close it when our replies stay unread this long (PqSocket::set_send_timeout).
  std::chrono::milliseconds send_timeout{0};
};

class PqConnection final : public Session {
 public:
  // `commands` and `stop` must outlive the connection.
  PqConnection(UniqueFd fd, const CommandTable& commands, const StopEvent& stop, PqConnectionOptions options);
  PqConnection(const PqConnection&) = delete;
  PqConnection& operator=(const PqConnection&) = delete;
  ~PqConnection() override;

  // Serves the client until it leaves, breaks the protocol, or the server
  // stops; runs the OnClose hooks before returning. Never throws.
  void Run();

  // Session
  const std::map<std::string, std::string>& startup_params() const override { return params_; }
  uint64_t id() const override { return options_.id; }
  bool local() const override { return options_.local; }
  Role role() const override { return role_; }
  void OnClose(std::function<void()> hook) override { close_hooks_.push_back(std::move(hook)); }

 private:
  class CommandRun;
  struct FrontendMessage {
    uint8_t type = 0;
    std::string body;
    std::span<const uint8_t> bytes() const {
      return {reinterpret_cast<const uint8_t*>(body.data()), body.size()};
    }
  };
  // A prepared statement: the parsed query, checked against the table.
  struct Statement {
    pq::Query query;
    const CommandSpec* spec = nullptr;  // nullptr: the empty query
    std::vector<uint32_t> param_types;  // one per parameter
    size_t bytes = 0;                   // counted in prepared_bytes_
  };
  struct Portal {
    const CommandSpec* spec = nullptr;  // nullptr: the empty query
    std::vector<std::string> args;
    bool executed = false;
    size_t bytes = 0;                   // counted in prepared_bytes_
  };
  enum class StartupOutcome { kReady, kCancel, kRefused };

  Result<StartupOutcome> Startup();
  Result<pq::StartupPacket> ReadStartupPacket();
  Result<StartupOutcome> AcceptStartup(const pq::StartupPacket& packet);
  // Answers an SSLRequest: 'S' and the handshake, or 'N'.
  Status AnswerSslRequest();
  // The SCRAM-SHA-256 exchange; OK once the client proved the password.
  Status Authenticate();
  // Authenticate, with a failure counted against the client's address and
  // its answer held back as AdmissionControl says.
  Status AuthenticateCounted();
  // ReadMessage with the idle timeout applied, when it applies.
  Result<FrontendMessage> ReadNextCommand();
  Status ServeMessages();
  Result<FrontendMessage> ReadMessage(bool flush_before_block);
  // A message during authentication (CheckAuthMessageHeader).
  Result<FrontendMessage> ReadAuthMessage();
  Status Dispatch(const FrontendMessage& msg);
  Status HandleQuery(const FrontendMessage& msg);
  Status RunSimpleQuery(const FrontendMessage& msg);
  Status HandleFunctionCall();
  Status HandleParse(const FrontendMessage& msg);
  Status HandleBind(const FrontendMessage& msg);
  Status HandleDescribe(const FrontendMessage& msg);
  Status HandleExecute(const FrontendMessage& msg);
  Status HandleClose(const FrontendMessage& msg);
  Status HandleSync(const FrontendMessage& msg);
  // Statements and portals leave only through these (prepared_bytes_).
  void EraseStatement(const std::string& name);
  void ErasePortal(const std::string& name);
  void ClearPortals();
  // Busy when `bytes` more would pass kMaxPreparedBytes.
  Status CheckPreparedRoom(size_t bytes) const;
  Result<Statement> PrepareStatement(const std::string& text, const std::vector<uint32_t>& param_types) const;
  Status Execute(const CommandSpec& spec, std::vector<std::string> args, bool simple_protocol);
  void ReportError(const Status& status);
  void Close(const Status& why);
  void RunCloseHooks();

  PqSocket socket_;
  const CommandTable& commands_;
  PqConnectionOptions options_;
  std::map<std::string, std::string> params_;
  std::map<std::string, Statement> statements_;
  std::map<std::string, Portal> portals_;
  size_t prepared_bytes_ = 0;         // what statements_ and portals_ hold (roughly)
  std::vector<std::function<void()>> close_hooks_;
  Role role_;                         // options_.role, or the authenticated user's
  Status fatal_;                      // the framing broke: close after reporting
  bool ignore_till_sync_ = false;
  bool terminate_requested_ = false;  // Terminate arrived inside a COPY
};

}  // namespace zenith::pageserver
