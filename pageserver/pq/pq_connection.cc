#include "pageserver/pq/pq_connection.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <exception>

#include <spdlog/spdlog.h>

#include "common/byte_io.h"
#include "common/log_text.h"
#include "pageserver/metrics/server_metrics.h"

namespace zenith::pageserver {
namespace {

constexpr size_t kReadChunk = 64 << 10;
// Pending output beyond this is sent at once (long row sets, COPY streams).
constexpr size_t kFlushThreshold = 256 << 10;
// Named prepared statements, and named portals, one connection may hold.
constexpr size_t kMaxNamedObjects = 1000;
// Bytes of query text and bound arguments the prepared statements and
// portals of one connection may hold together.
constexpr size_t kMaxPreparedBytes = 16u << 20;
constexpr std::string_view kTlsRequiredMessage =
    "the page server requires TLS: connect with sslmode=verify-full sslrootcert=.zenith/ca.crt";
// How long a last FATAL message may take to go out before the close.
constexpr std::chrono::milliseconds kFinalFlushLimit{200};

// "2 s", or "500 ms" when not whole seconds.
std::string Millis(std::chrono::milliseconds d) {
  return d.count() % 1000 == 0 ? std::to_string(d.count() / 1000) + " s" : std::to_string(d.count()) + " ms";
}

// Messages after which an error discards input until Sync.
bool IsExtendedQueryMessage(uint8_t type) {
  return type == 'P' || type == 'B' || type == 'D' || type == 'E' || type == 'C' || type == 'H';
}

std::string Param(const std::map<std::string, std::string>& params, const std::string& name) {
  auto it = params.find(name);
  return it == params.end() ? "" : it->second;
}

}  // namespace

// ---- StopEvent ---------------------------------------------------------------

Result<StopEvent> StopEvent::Create() {
  int fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fd < 0) return ErrnoStatus("create eventfd", errno);
  return StopEvent(UniqueFd(fd));
}

void StopEvent::Signal() {
  flag_->store(true, std::memory_order_release);
  uint64_t one = 1;
  // The counter only grows; a failed write (counter overflow) leaves it readable anyway.
  [[maybe_unused]] ssize_t n = ::write(fd_.get(), &one, sizeof one);
}

// ---- PqSocket ----------------------------------------------------------------

PqSocket::PqSocket(UniqueFd fd, const StopEvent& stop) : transport_(std::move(fd)), stop_(stop), in_(kReadChunk) {}

Status PqSocket::Read(size_t n, std::string* out, bool flush_before_block) {
  while (n > 0) {
    if (in_begin_ == in_end_) ZENITH_RETURN_IF_ERROR(Fill(flush_before_block));
    size_t take = std::min(n, in_end_ - in_begin_);
    out->append(in_.data() + in_begin_, take);
    in_begin_ += take;
    n -= take;
  }
  return Status::Ok();
}

// REQUIRES: the input buffer is empty.
Status PqSocket::Fill(bool flush_before_block) {
  if (broken_) return error_;
  in_begin_ = in_end_ = 0;
  for (;;) {
    if (stop_.signaled()) return Break(Unavailable("the page server is shutting down"), false);
    PqTransport::Io io = transport_.Recv(in_.data(), in_.size());
    if (io.state == PqTransport::Io::kDone) {
      in_end_ = io.bytes;
      return Status::Ok();
    }
    if (io.state != PqTransport::Io::kWait) return BreakOn(std::move(io));
    if (flush_before_block && !out_.empty()) ZENITH_RETURN_IF_ERROR(Flush());
    ZENITH_RETURN_IF_ERROR(Wait(io.events));
  }
}

Status PqSocket::BreakOn(PqTransport::Io io) {
  if (io.state == PqTransport::Io::kEof) return Break(Unavailable("the client closed the connection"), true);
  return Break(std::move(io.error), true);
}

Status PqSocket::Wait(short events, std::optional<Clock::time_point> until) {
  if (!until || (deadline_ && *deadline_ < *until)) until = deadline_;
  for (;;) {
    int timeout_ms = -1;
    if (until) {
      auto left = *until - Clock::now();
      if (left <= Clock::duration::zero()) {
        if (until == deadline_) return Break(Timeout("timed out waiting for the client"), false);
        return Break(Timeout("the client has not read its replies for " + Millis(send_timeout_) + "; closing the connection"),
                     true);
      }
      timeout_ms = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(left).count()) + 1;
    }
    pollfd fds[2] = {{transport_.fd(), events, 0}, {stop_.fd(), POLLIN, 0}};
    int ready = ::poll(fds, 2, timeout_ms);
    if (ready < 0) {
      if (errno == EINTR) continue;
      return Break(ErrnoStatus("poll the client socket", errno), false);
    }
    if (fds[1].revents != 0) return Break(Unavailable("the page server is shutting down"), false);
    if (ready > 0) return Status::Ok();  // ready, or an error the next recv/send reports
  }
}

Status PqSocket::Flush() {
  size_t sent = 0;
  Status result;
  while (sent < out_.size()) {
    if (broken_) {
      result = error_;
      break;
    }
    PqTransport::Io io = transport_.Send(out_.data() + sent, out_.size() - sent);
    if (io.state == PqTransport::Io::kDone) {
      sent += io.bytes;
      continue;
    }
    if (io.state == PqTransport::Io::kWait) {
      std::optional<Clock::time_point> until;
      if (send_timeout_.count() > 0) until = Clock::now() + send_timeout_;
      result = Wait(io.events, until);
      if (!result.ok()) break;
      continue;
    }
    result = BreakOn(std::move(io));
    break;
  }
  out_.erase(0, sent);
  return result;
}

bool PqSocket::Pause(std::chrono::milliseconds pause) {
  auto until = Clock::now() + pause;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count();
    if (left <= 0) return !stop_.signaled();
    pollfd stop = {stop_.fd(), POLLIN, 0};
    if (::poll(&stop, 1, static_cast<int>(left) + 1) > 0) return false;
  }
}

Status PqSocket::StartTls(const TlsServerContext& context) {
  if (Status s = transport_.StartTls(context); !s.ok()) return Break(s, false);
  for (;;) {
    if (stop_.signaled()) return Break(Unavailable("the page server is shutting down"), true);
    PqTransport::Io io = transport_.Handshake();
    if (io.state == PqTransport::Io::kDone) return Status::Ok();
    if (io.state == PqTransport::Io::kWait) {
      ZENITH_RETURN_IF_ERROR(Wait(io.events));
      continue;
    }
    if (io.state == PqTransport::Io::kEof) return Break(Unavailable("the client closed the connection during the TLS handshake"), true);
    return Break(io.error, true);
  }
}

void PqSocket::FlushBestEffort(std::chrono::milliseconds limit) {
  if (peer_gone_) return;
  auto deadline = Clock::now() + limit;
  size_t sent = 0;
  while (sent < out_.size()) {
    PqTransport::Io io = transport_.Send(out_.data() + sent, out_.size() - sent);
    if (io.state == PqTransport::Io::kDone) {
      sent += io.bytes;
      continue;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (io.state != PqTransport::Io::kWait || left <= 0) break;
    pollfd pfd = {transport_.fd(), io.events, 0};
    if (::poll(&pfd, 1, static_cast<int>(left)) <= 0) break;
  }
  out_.clear();
}

Status PqSocket::Break(Status s, bool peer_gone) {
  broken_ = true;
  peer_gone_ = peer_gone_ || peer_gone;
  error_ = s;
  return s;
}

// ---- CommandRun: the CommandContext of one executed command -----------------

class PqConnection::CommandRun final : public CommandContext {
 public:
  CommandRun(PqConnection* conn, const CommandSpec& spec, std::vector<std::string> args, bool simple_protocol)
      : conn_(conn), spec_(spec), args_(std::move(args)), simple_protocol_(simple_protocol) {}

  const std::vector<std::string>& args() const override { return args_; }
  const std::string& usage() const override { return spec_.usage; }
  Session& session() override { return *conn_; }
  Status SendRows(const std::vector<Row>& rows) override;
  Status SendOk(std::string_view tag) override;
  Status StartCopyOut() override { return StartCopy(Reply::kCopyOut, 'H'); }
  Status StartCopyIn() override { return StartCopy(Reply::kCopyIn, 'G'); }
  Status StartCopyBoth() override { return StartCopy(Reply::kCopyBoth, 'W'); }
  using CommandContext::CopyData;
  Status CopyData(std::initializer_list<std::span<const uint8_t>> parts) override;
  Result<std::optional<std::string>> ReadCopyData() override;
  Status Flush() override { return conn_->socket_.Flush(); }

  // Completes the reply after the handler returned `handler_status`; returns
  // the error the caller must report, if any.
  Status Finish(Status handler_status);

 private:
  enum class Reply { kNone, kRows, kOk, kCopyOut, kCopyIn, kCopyBoth };

  Status Claim(Reply reply);
  Status StartCopy(Reply reply, char response_type);
  std::string* out() { return &conn_->socket_.output(); }

  PqConnection* conn_;
  const CommandSpec& spec_;
  std::vector<std::string> args_;
  bool simple_protocol_;
  Reply reply_ = Reply::kNone;
  bool client_done_ = false;  // the client sent CopyDone
  Status client_error_;       // CopyFail, a stray message, a lost connection
  uint64_t copy_messages_ = 0;
};

Status PqConnection::CommandRun::Claim(Reply reply) {
  if (reply_ != Reply::kNone) {
    return Internal("command \"" + spec_.name + "\" replied twice; a handler replies exactly once");
  }
  reply_ = reply;
  return Status::Ok();
}

Status PqConnection::CommandRun::SendRows(const std::vector<Row>& rows) {
  if (spec_.columns.empty()) {
    return Internal("command \"" + spec_.name + "\" declares no result columns, so it cannot send rows");
  }
  for (const Row& row : rows) {
    if (row.size() != spec_.columns.size()) {
      return Internal("command \"" + spec_.name + "\" sent a row of " + std::to_string(row.size()) +
                      " values for " + std::to_string(spec_.columns.size()) + " columns");
    }
    if (!pq::EncodedDataRowFits(row)) return Internal("command \"" + spec_.name + "\" sent a row over 1 GB");
  }
  ZENITH_RETURN_IF_ERROR(Claim(Reply::kRows));
  // In the extended protocol the RowDescription went out with Describe.
  if (simple_protocol_) pq::AppendRowDescription(out(), spec_.columns);
  for (const Row& row : rows) {
    pq::AppendDataRow(out(), row);
    ZENITH_RETURN_IF_ERROR(conn_->socket_.FlushIfOver(kFlushThreshold));
  }
  pq::AppendCommandComplete(out(), "SELECT " + std::to_string(rows.size()));
  return Status::Ok();
}

Status PqConnection::CommandRun::SendOk(std::string_view tag) {
  ZENITH_RETURN_IF_ERROR(Claim(Reply::kOk));
  pq::AppendCommandComplete(out(), tag);
  return Status::Ok();
}

Status PqConnection::CommandRun::StartCopy(Reply reply, char response_type) {
  ZENITH_RETURN_IF_ERROR(Claim(reply));
  pq::AppendCopyResponse(out(), response_type);
  // The client waits for the response before it sends any CopyData.
  if (reply != Reply::kCopyOut) return conn_->socket_.Flush();
  return Status::Ok();
}

Status PqConnection::CommandRun::CopyData(std::initializer_list<std::span<const uint8_t>> parts) {
  if (reply_ != Reply::kCopyOut && reply_ != Reply::kCopyBoth) {
    return Internal("command \"" + spec_.name + "\" called CopyData without StartCopyOut or StartCopyBoth");
  }
  size_t size = 0;
  for (std::span<const uint8_t> part : parts) size += part.size();
  if (size > pq::kMaxBackendCopyData) {
    return InvalidArgument("CopyData of " + std::to_string(size) + " bytes is too large; send it in chunks");
  }
  if (conn_->socket_.broken()) return conn_->socket_.error();
  pq::AppendCopyData(out(), parts);
  ++copy_messages_;
  return conn_->socket_.FlushIfOver(kFlushThreshold);
}

Result<std::optional<std::string>> PqConnection::CommandRun::ReadCopyData() {
  if (reply_ != Reply::kCopyIn && reply_ != Reply::kCopyBoth) {
    return Internal("command \"" + spec_.name + "\" called ReadCopyData without StartCopyIn or StartCopyBoth");
  }
  if (!client_error_.ok()) return client_error_;
  if (client_done_) return std::optional<std::string>();
  for (;;) {
    Result<FrontendMessage> msg = conn_->ReadMessage(/*flush_before_block=*/true);
    if (!msg.ok()) {
      client_error_ = msg.status();
      return client_error_;
    }
    switch (msg->type) {
      case 'd':
        ++copy_messages_;
        return std::optional<std::string>(std::move(msg->body));
      case 'c':
        client_done_ = true;
        return std::optional<std::string>();
      case 'f': {
        Result<std::string> reason = pq::DecodeCopyFail(msg->bytes());
        client_error_ = InvalidArgument("COPY from the client failed: " + (reason.ok() ? *reason : "(malformed CopyFail)"));
        return client_error_;
      }
      case 'H':
      case 'S':
        continue;  // ignored during copy-in, as PostgreSQL does
      case 'X':
        conn_->terminate_requested_ = true;
        client_error_ = Unavailable("the client terminated the connection during COPY");
        return client_error_;
      default:
        client_error_ = ProtocolError("unexpected message type " + HexByte(msg->type) + " during COPY from the client");
        return client_error_;
    }
  }
}

Status PqConnection::CommandRun::Finish(Status handler_status) {
  if (!handler_status.ok()) return handler_status;
  switch (reply_) {
    case Reply::kNone:
      pq::AppendCommandComplete(out(), spec_.name);
      break;
    case Reply::kCopyOut:
    case Reply::kCopyBoth:
      pq::AppendCopyDone(out());
      [[fallthrough]];
    case Reply::kCopyIn:
      // A client still sending (the handler stopped reading early) has its
      // further CopyData/CopyDone dropped by the message loop.
      pq::AppendCommandComplete(out(), "COPY " + std::to_string(copy_messages_));
      break;
    case Reply::kRows:
    case Reply::kOk:
      break;
  }
  return Status::Ok();
}

// ---- PqConnection: lifecycle and startup -------------------------------------

PqConnection::PqConnection(UniqueFd fd, const CommandTable& commands, const StopEvent& stop,
                           PqConnectionOptions options)
    : socket_(std::move(fd), stop), commands_(commands), options_(std::move(options)), role_(options_.role) {
  socket_.set_send_timeout(options_.send_timeout);
}

PqConnection::~PqConnection() { RunCloseHooks(); }

void PqConnection::Run() {
  Status end;
  Result<StartupOutcome> outcome = Startup();
  if (!outcome.ok()) {
    end = outcome.status();
  } else if (*outcome == StartupOutcome::kReady) {
    spdlog::info("connection {} from {}: user={} database={} application_name={}{}", id(), options_.peer,
                 LogText(Param(params_, "user")), LogText(Param(params_, "database")),
                 LogText(Param(params_, "application_name")),
                 socket_.tls() ? " (" + socket_.DescribeTls() + ")" : "");
    end = ServeMessages();
  } else if (*outcome == StartupOutcome::kRefused && options_.refuse_too_many) {
    spdlog::warn("connection {} from {} refused: too many connections (max {})", id(), options_.peer,
                 options_.max_connections);
  }
  Close(end);
}

void PqConnection::Close(const Status& why) {
  if (!why.ok() && !socket_.peer_gone()) {
    pq::AppendErrorResponse(&socket_.output(), pq::Severity::kFatal, pq::SqlStateFor(why), why.message());
  }
  socket_.FlushBestEffort(kFinalFlushLimit);
  if (why.code() == StatusCode::kProtocol) spdlog::warn("connection {}: protocol error: {}", id(), LogText(why.message()));
  RunCloseHooks();
  spdlog::info("connection {} closed: {}", id(), why.ok() ? "by the client" : LogText(why.message()));
}

void PqConnection::RunCloseHooks() {
  while (!close_hooks_.empty()) {
    std::function<void()> hook = std::move(close_hooks_.back());
    close_hooks_.pop_back();
    try {
      hook();
    } catch (const std::exception& e) {
      spdlog::error("connection {}: an OnClose hook threw: {}", id(), e.what());
    } catch (...) {
      spdlog::error("connection {}: an OnClose hook threw", id());
    }
  }
}

Result<PqConnection::StartupOutcome> PqConnection::Startup() {
  socket_.set_deadline(PqSocket::Clock::now() + options_.startup_timeout);
  bool ssl_answered = false;
  bool gss_answered = false;
  for (;;) {
    ZENITH_ASSIGN_OR_RETURN(pq::StartupPacket packet, ReadStartupPacket());
    if (packet.kind == pq::StartupKind::kCancelRequest) return StartupOutcome::kCancel;
    if (packet.kind == pq::StartupKind::kStartup) {
      Result<StartupOutcome> outcome = AcceptStartup(packet);
      socket_.set_deadline(std::nullopt);
      return outcome;
    }
    bool& answered = packet.kind == pq::StartupKind::kSslRequest ? ssl_answered : gss_answered;
    if (answered || socket_.tls()) return ProtocolError("duplicate SSL or GSS encryption request");
    answered = true;
    // Bytes sent before our answer could not have been encrypted (CVE-2021-23214).
    if (socket_.buffered_input() != 0) return ProtocolError("received unencrypted data after an encryption request");
    if (packet.kind == pq::StartupKind::kSslRequest) {
      ZENITH_RETURN_IF_ERROR(AnswerSslRequest());
    } else {
      socket_.output().push_back('N');  // no GSS encryption: go on as before
      ZENITH_RETURN_IF_ERROR(socket_.Flush());
    }
  }
}

Status PqConnection::AnswerSslRequest() {
  socket_.output().push_back(options_.tls != nullptr ? 'S' : 'N');
  ZENITH_RETURN_IF_ERROR(socket_.Flush());
  if (options_.tls == nullptr) return Status::Ok();
  Status s = socket_.StartTls(*options_.tls);
  if (!s.ok()) spdlog::warn("connection {} from {}: {}", id(), options_.peer, LogText(s.message()));
  return s;
}

Result<pq::StartupPacket> PqConnection::ReadStartupPacket() {
  std::string header;
  ZENITH_RETURN_IF_ERROR(socket_.Read(4, &header));
  uint32_t length = LoadBe32(AsBytes(header), 0);
  ZENITH_RETURN_IF_ERROR(pq::CheckStartupLength(length));
  std::string body;
  ZENITH_RETURN_IF_ERROR(socket_.Read(length - 4, &body));
  return pq::DecodeStartupPacket(AsBytes(body));
}

Result<PqConnection::StartupOutcome> PqConnection::AcceptStartup(const pq::StartupPacket& packet) {
  uint32_t major = packet.protocol >> 16;
  uint32_t minor = packet.protocol & 0xFFFF;
  if (major != 3) {
    return ProtocolError("unsupported frontend protocol " + std::to_string(major) + "." + std::to_string(minor) +
                         ": the page server supports 3.0");
  }
  params_ = packet.params;
  std::string* out = &socket_.output();
  if (options_.refuse_too_many) {
    pq::AppendErrorResponse(out, pq::Severity::kFatal, "53300",
                            "too many connections (the page server allows " +
                                std::to_string(options_.max_connections) + "); try again later");
    return StartupOutcome::kRefused;
  }
  if (!options_.refuse_peer.empty()) {
    spdlog::warn("connection {} from {} refused: {}", id(), options_.peer, options_.refuse_peer);
    pq::AppendErrorResponse(out, pq::Severity::kFatal, "28000", options_.refuse_peer);
    return StartupOutcome::kRefused;
  }
  if (options_.tls != nullptr && !socket_.tls() && !options_.allow_plain) {
    spdlog::warn("connection {} from {} refused: it did not ask for TLS", id(), options_.peer);
    pq::AppendErrorResponse(out, pq::Severity::kFatal, "28000", std::string(kTlsRequiredMessage));
    return StartupOutcome::kRefused;
  }
  if (minor > 0 || !packet.protocol_options.empty()) pq::AppendNegotiateProtocolVersion(out, 0, packet.protocol_options);
  if (options_.users != nullptr) {
    if (Status s = AuthenticateCounted(); !s.ok()) {
      if (s.code() != StatusCode::kPermissionDenied) return s;
      pq::AppendErrorResponse(out, pq::Severity::kFatal, "28P01", s.message());
      return StartupOutcome::kRefused;
    }
  }
  options_.ticket.Authenticated();
  pq::AppendAuthenticationOk(out);
  pq::AppendParameterStatus(out, "server_version", "15.0");
  pq::AppendParameterStatus(out, "server_encoding", "UTF8");
  pq::AppendParameterStatus(out, "client_encoding", "UTF8");
  pq::AppendParameterStatus(out, "DateStyle", "ISO, MDY");
  pq::AppendParameterStatus(out, "integer_datetimes", "on");
  pq::AppendParameterStatus(out, "standard_conforming_strings", "on");
  pq::AppendBackendKeyData(out, static_cast<uint32_t>(id()), options_.secret_key);
  pq::AppendReadyForQuery(out);
  ZENITH_RETURN_IF_ERROR(socket_.Flush());
  return StartupOutcome::kReady;
}

Status PqConnection::AuthenticateCounted() {
  Status s = Authenticate();
  if (options_.admission == nullptr) return s;
  if (s.ok()) {
    options_.admission->NoteSuccessfulLogin(options_.address);
    return s;
  }
  if (s.code() != StatusCode::kPermissionDenied) return s;
  // Held back before the answer, so a guesser from one address gets few
  // tries a second; its other connections wait in its own per-address slots.
  CountFailedLogin();
  std::chrono::milliseconds delay = options_.admission->NoteFailedLogin(options_.address, PqSocket::Clock::now());
  spdlog::warn("connection {} from {}: {} (answered after {} ms)", id(), options_.peer, LogText(s.message()),
               delay.count());
  if (!socket_.Pause(delay)) return Unavailable("the page server is shutting down");
  return s;
}

Status PqConnection::Authenticate() {
  const std::string user = Param(params_, "user");
  const Status denied = PermissionDenied("password authentication failed for user \"" + user + "\"");
  std::string* out = &socket_.output();
  // Over TLS, SCRAM-SHA-256-PLUS first, as PostgreSQL offers them.
  ScramChannel channel{socket_.tls() ? options_.tls->endpoint_binding() : ""};
  if (channel.endpoint_binding.empty()) {
    pq::AppendAuthenticationSasl(out, {kScramSha256});
  } else {
    pq::AppendAuthenticationSasl(out, {kScramSha256Plus, kScramSha256});
  }
  // An unknown user goes through the same exchange, against a mock verifier.
  const TcpUsers::Match match = options_.users->Find(user);
  ZENITH_ASSIGN_OR_RETURN(FrontendMessage first, ReadAuthMessage());
  ZENITH_ASSIGN_OR_RETURN(pq::SaslInitialResponse initial, pq::DecodeSaslInitialResponse(first.bytes()));
  channel.plus = !channel.endpoint_binding.empty() && initial.mechanism == kScramSha256Plus;
  if (initial.mechanism != kScramSha256 && !channel.plus) {
    return ProtocolError("unsupported SASL mechanism \"" + initial.mechanism + "\": the page server offers " +
                         (channel.endpoint_binding.empty() ? "SCRAM-SHA-256" : "SCRAM-SHA-256-PLUS and SCRAM-SHA-256"));
  }
  ScramExchange scram(match.verifier, "", std::move(channel));
  ZENITH_ASSIGN_OR_RETURN(std::string server_first, scram.ClientFirst(initial.data));
  pq::AppendAuthenticationSaslContinue(out, server_first);
  ZENITH_ASSIGN_OR_RETURN(FrontendMessage final, ReadAuthMessage());
  Result<std::string> server_final = scram.ClientFinal(final.body);
  if (server_final.status().code() == StatusCode::kPermissionDenied) return denied;
  ZENITH_RETURN_IF_ERROR(server_final.status());
  // The same message for a wrong user as for a wrong password: nothing to learn.
  if (!match.role) return denied;
  role_ = *match.role;
  pq::AppendAuthenticationSaslFinal(out, *server_final);
  return Status::Ok();
}

// ---- PqConnection: the message loop ------------------------------------------

Result<PqConnection::FrontendMessage> PqConnection::ReadNextCommand() {
  if (options_.idle_timeout.count() <= 0 || !close_hooks_.empty()) return ReadMessage(/*flush_before_block=*/false);
  socket_.set_deadline(PqSocket::Clock::now() + options_.idle_timeout);
  Result<FrontendMessage> msg = ReadMessage(/*flush_before_block=*/false);
  socket_.set_deadline(std::nullopt);
  if (msg.status().code() == StatusCode::kTimeout) {
    return Timeout("closing the connection: idle for " + Millis(options_.idle_timeout) +
                   " without a lease (idle_timeout)");
  }
  return msg;
}

Status PqConnection::ServeMessages() {
  for (;;) {
    ZENITH_ASSIGN_OR_RETURN(FrontendMessage msg, ReadNextCommand());
    if (msg.type == 'X') return Status::Ok();
    if (msg.type == 'S') ignore_till_sync_ = false;
    if (ignore_till_sync_) continue;
    Status s = Dispatch(msg);
    if (terminate_requested_) return Status::Ok();
    if (!fatal_.ok()) return fatal_;
    if (socket_.broken()) return socket_.error();
    if (s.ok()) continue;
    ReportError(s);
    if (IsExtendedQueryMessage(msg.type)) ignore_till_sync_ = true;
  }
}

Result<PqConnection::FrontendMessage> PqConnection::ReadAuthMessage() {
  std::string header;
  ZENITH_RETURN_IF_ERROR(socket_.Read(5, &header, /*flush_before_block=*/true));
  FrontendMessage msg;
  msg.type = static_cast<uint8_t>(header[0]);
  const uint32_t length = LoadBe32(AsBytes(header), 1);
  ZENITH_RETURN_IF_ERROR(pq::CheckAuthMessageHeader(msg.type, length));
  ZENITH_RETURN_IF_ERROR(socket_.Read(length - 4, &msg.body, /*flush_before_block=*/true));
  return msg;
}

Result<PqConnection::FrontendMessage> PqConnection::ReadMessage(bool flush_before_block) {
  std::string header;
  ZENITH_RETURN_IF_ERROR(socket_.Read(5, &header, flush_before_block));
  FrontendMessage msg;
  msg.type = static_cast<uint8_t>(header[0]);
  uint32_t length = LoadBe32(AsBytes(header), 1);
  Status valid = pq::CheckMessageHeader(msg.type, length);
  if (!valid.ok()) {
    fatal_ = valid;  // the framing is lost: nothing after this can be trusted
    return valid;
  }
  ZENITH_RETURN_IF_ERROR(socket_.Read(length - 4, &msg.body, flush_before_block));
  return msg;
}

// The one table from frontend message types to their handlers.
Status PqConnection::Dispatch(const FrontendMessage& msg) {
  switch (msg.type) {
    case 'Q': return HandleQuery(msg);
    case 'P': return HandleParse(msg);
    case 'B': return HandleBind(msg);
    case 'D': return HandleDescribe(msg);
    case 'E': return HandleExecute(msg);
    case 'C': return HandleClose(msg);
    case 'S': return HandleSync(msg);
    case 'H':
      ZENITH_RETURN_IF_ERROR(pq::CheckEmptyBody(msg.bytes()));
      return socket_.Flush();
    case 'F': return HandleFunctionCall();
    case 'd':
    case 'c':
    case 'f':
      return Status::Ok();  // leftovers of a COPY that ended early: dropped, as PostgreSQL does
    default:
      return Internal("no handler for message type " + HexByte(msg.type));
  }
}

void PqConnection::ReportError(const Status& status) {
  pq::AppendErrorResponse(&socket_.output(), pq::Severity::kError, pq::SqlStateFor(status), status.message());
  if (status.code() == StatusCode::kProtocol) {
    spdlog::warn("connection {}: protocol error: {}", id(), LogText(status.message()));
  } else {
    spdlog::debug("connection {}: error: {}", id(), LogText(status.message()));
  }
}

// ---- Simple query ---------------------------------------------------------------

Status PqConnection::HandleQuery(const FrontendMessage& msg) {
  // A simple query ends the implicit transaction: unnamed statement and portals go.
  EraseStatement("");
  ClearPortals();
  Status s = RunSimpleQuery(msg);
  if (!fatal_.ok() || socket_.broken() || terminate_requested_) return s;
  if (!s.ok()) ReportError(s);
  pq::AppendReadyForQuery(&socket_.output());
  return socket_.Flush();
}

Status PqConnection::RunSimpleQuery(const FrontendMessage& msg) {
  ZENITH_ASSIGN_OR_RETURN(std::string text, pq::DecodeQuery(msg.bytes()));
  ZENITH_ASSIGN_OR_RETURN(Statement statement, PrepareStatement(text, {}));
  if (statement.spec == nullptr) {
    pq::AppendEmptyQueryResponse(&socket_.output());
    return Status::Ok();
  }
  ZENITH_ASSIGN_OR_RETURN(std::vector<std::string> args, pq::BindArguments(statement.query, {}));
  return Execute(*statement.spec, std::move(args), /*simple_protocol=*/true);
}

Status PqConnection::HandleFunctionCall() {
  ReportError(InvalidArgument("function calls are not supported by the page server"));
  pq::AppendReadyForQuery(&socket_.output());
  return socket_.Flush();
}

Result<PqConnection::Statement> PqConnection::PrepareStatement(const std::string& text,
                                                                const std::vector<uint32_t>& param_types) const {
  ZENITH_ASSIGN_OR_RETURN(pq::Query query, pq::ParseQuery(text));
  Statement statement;
  if (!query.empty()) {
    statement.spec = commands_.Find(query.name());
    if (statement.spec == nullptr) {
      std::string known;
      for (const std::string& name : commands_.Names()) known += (known.empty() ? "" : ", ") + name;
      return SyntaxError("unknown command \"" + query.name() + "\"; the page server knows: " + known);
    }
  }
  size_t nparams = std::max(param_types.size(), static_cast<size_t>(query.max_param));
  statement.param_types.assign(nparams, pq::kTextOid);
  for (size_t i = 0; i < param_types.size(); ++i) {
    if (param_types[i] != 0) statement.param_types[i] = param_types[i];
  }
  statement.query = std::move(query);
  return statement;
}

Status PqConnection::Execute(const CommandSpec& spec, std::vector<std::string> args, bool simple_protocol) {
  CommandRun run(this, spec, std::move(args), simple_protocol);
  Status s;
  try {
    s = spec.handler(run);
  } catch (const std::exception& e) {
    s = Internal("command \"" + spec.name + "\" failed with an exception: " + e.what());
  } catch (...) {
    s = Internal("command \"" + spec.name + "\" failed with an exception");
  }
  return run.Finish(std::move(s));
}

// ---- Extended query -------------------------------------------------------------

Status PqConnection::HandleParse(const FrontendMessage& msg) {
  ZENITH_ASSIGN_OR_RETURN(pq::ParseMessage m, pq::DecodeParse(msg.bytes()));
  if (m.statement.empty()) {
    EraseStatement("");
  } else if (statements_.count(m.statement) != 0) {
    return AlreadyExists("prepared statement \"" + m.statement + "\" already exists; Close it first");
  } else if (statements_.size() >= kMaxNamedObjects) {
    return Busy("too many prepared statements on this connection; Close some first");
  }
  const size_t bytes = m.statement.size() + m.query.size() + 4 * m.param_types.size();
  ZENITH_RETURN_IF_ERROR(CheckPreparedRoom(bytes));
  ZENITH_ASSIGN_OR_RETURN(Statement statement, PrepareStatement(m.query, m.param_types));
  statement.bytes = bytes;
  prepared_bytes_ += bytes;
  statements_[m.statement] = std::move(statement);
  pq::AppendParseComplete(&socket_.output());
  return Status::Ok();
}

Status PqConnection::HandleBind(const FrontendMessage& msg) {
  ZENITH_ASSIGN_OR_RETURN(pq::BindMessage m, pq::DecodeBind(msg.bytes()));
  auto it = statements_.find(m.statement);
  if (it == statements_.end()) return NotFound("prepared statement \"" + m.statement + "\" does not exist");
  ZENITH_RETURN_IF_ERROR(pq::CheckTextFormats(m));
  const Statement& statement = it->second;
  if (m.params.size() != statement.param_types.size()) {
    return ProtocolError("bind message supplies " + std::to_string(m.params.size()) +
                         " parameters, but prepared statement \"" + m.statement + "\" requires " +
                         std::to_string(statement.param_types.size()));
  }
  if (m.portal.empty()) {
    ErasePortal("");
  } else if (portals_.count(m.portal) != 0) {
    return AlreadyExists("portal \"" + m.portal + "\" already exists");
  } else if (portals_.size() >= kMaxNamedObjects) {
    return Busy("too many portals on this connection; Close some first");
  }
  Portal portal;
  portal.spec = statement.spec;
  if (statement.spec != nullptr) {
    ZENITH_ASSIGN_OR_RETURN(portal.args, pq::BindArguments(statement.query, m.params));
  }
  portal.bytes = m.portal.size();
  for (const std::string& arg : portal.args) portal.bytes += arg.size();
  ZENITH_RETURN_IF_ERROR(CheckPreparedRoom(portal.bytes));
  prepared_bytes_ += portal.bytes;
  portals_[m.portal] = std::move(portal);
  pq::AppendBindComplete(&socket_.output());
  return Status::Ok();
}

Status PqConnection::HandleDescribe(const FrontendMessage& msg) {
  ZENITH_ASSIGN_OR_RETURN(pq::TargetMessage m, pq::DecodeTarget(msg.bytes()));
  const CommandSpec* spec = nullptr;
  if (m.kind == 'S') {
    auto it = statements_.find(m.name);
    if (it == statements_.end()) return NotFound("prepared statement \"" + m.name + "\" does not exist");
    pq::AppendParameterDescription(&socket_.output(), it->second.param_types);
    spec = it->second.spec;
  } else {
    auto it = portals_.find(m.name);
    if (it == portals_.end()) return NotFound("portal \"" + m.name + "\" does not exist");
    spec = it->second.spec;
  }
  if (spec != nullptr && !spec->columns.empty()) {
    pq::AppendRowDescription(&socket_.output(), spec->columns);
  } else {
    pq::AppendNoData(&socket_.output());
  }
  return Status::Ok();
}

Status PqConnection::HandleExecute(const FrontendMessage& msg) {
  // max_rows is ignored: a command's rows come in one batch, ending with CommandComplete.
  ZENITH_ASSIGN_OR_RETURN(pq::ExecuteMessage m, pq::DecodeExecute(msg.bytes()));
  auto it = portals_.find(m.portal);
  if (it == portals_.end()) return NotFound("portal \"" + m.portal + "\" does not exist");
  Portal& portal = it->second;
  if (portal.spec == nullptr) {
    pq::AppendEmptyQueryResponse(&socket_.output());
    return Status::Ok();
  }
  if (portal.executed) return InvalidArgument("portal \"" + m.portal + "\" has already run; Bind it again");
  portal.executed = true;
  return Execute(*portal.spec, std::move(portal.args), /*simple_protocol=*/false);
}

Status PqConnection::HandleClose(const FrontendMessage& msg) {
  ZENITH_ASSIGN_OR_RETURN(pq::TargetMessage m, pq::DecodeTarget(msg.bytes()));
  if (m.kind == 'S') {
    EraseStatement(m.name);
  } else {
    ErasePortal(m.name);
  }
  pq::AppendCloseComplete(&socket_.output());
  return Status::Ok();
}

Status PqConnection::HandleSync(const FrontendMessage& msg) {
  Status valid = pq::CheckEmptyBody(msg.bytes());
  if (!valid.ok()) ReportError(valid);
  ClearPortals();  // the implicit transaction ends
  pq::AppendReadyForQuery(&socket_.output());
  return socket_.Flush();
}

void PqConnection::EraseStatement(const std::string& name) {
  auto it = statements_.find(name);
  if (it == statements_.end()) return;
  prepared_bytes_ -= it->second.bytes;
  statements_.erase(it);
}

void PqConnection::ErasePortal(const std::string& name) {
  auto it = portals_.find(name);
  if (it == portals_.end()) return;
  prepared_bytes_ -= it->second.bytes;
  portals_.erase(it);
}

void PqConnection::ClearPortals() {
  for (const auto& [name, portal] : portals_) prepared_bytes_ -= portal.bytes;
  portals_.clear();
}

Status PqConnection::CheckPreparedRoom(size_t bytes) const {
  if (prepared_bytes_ + bytes <= kMaxPreparedBytes) return Status::Ok();
  return Busy("the prepared statements and portals of this connection would hold more than " +
              std::to_string(kMaxPreparedBytes >> 20) + " MB; Close some first");
}

}  // namespace zenith::pageserver
