#include "pageserver/client/page_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>

#include "common/byte_io.h"
#include "common/str_format.h"
#include "pageserver/api/sql_state.h"
#include "pageserver/client/tls_conninfo.h"

namespace zenith::pageserver {

namespace {

std::string TrimMessage(const char* msg) {
  std::string s = WithoutTrailingSpace(msg ? msg : "");
  if (s.rfind("ERROR:  ", 0) == 0) s.erase(0, 8);
  return s;
}

// PQclear on scope exit.
struct ResultGuard {
  PGresult* res;
  ~ResultGuard() { PQclear(res); }
};

}  // namespace

std::string PageServerConnString(const std::string& repo_root, int port) {
  // Values are single-quoted for libpq; backslashes and quotes escaped.
  std::string host;
  for (char c : repo_root) {
    if (c == '\\' || c == '\'') host.push_back('\\');
    host.push_back(c);
  }
  return "host='" + host + "' port=" + std::to_string(port) +
         " user=zenith dbname=zenith application_name=zenith connect_timeout=10";
}

Result<std::unique_ptr<PageServerClient>> PageServerClient::Connect(const std::string& conninfo) {
  ZENITH_ASSIGN_OR_RETURN(std::string secured, SecurePageServerConnInfo(conninfo));
  PGconn* conn = PQconnectdb(secured.c_str());
  if (conn == nullptr) return Unavailable("could not allocate a connection to the page server");
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string msg = TrimMessage(PQerrorMessage(conn));
    PQfinish(conn);
    return Unavailable("could not connect to the page server: " + msg);
  }
  return std::unique_ptr<PageServerClient>(new PageServerClient(conn));
}

PageServerClient::~PageServerClient() { PQfinish(conn_); }

Status PageServerClient::ConnectionError(const std::string& what) {
  return Unavailable(what + ": " + TrimMessage(PQerrorMessage(conn_)));
}

Status PageServerClient::ResultStatus(PGresult* res, const std::string& command) {
  if (res == nullptr) return ConnectionError("page server command \"" + command + "\" failed");
  ExecStatusType st = PQresultStatus(res);
  if (st == PGRES_FATAL_ERROR || st == PGRES_BAD_RESPONSE || st == PGRES_NONFATAL_ERROR) {
    return Status(CodeForSqlState(PQresultErrorField(res, PG_DIAG_SQLSTATE)),
                  TrimMessage(PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)));
  }
  return Status::Ok();
}

Status PageServerClient::DrainResults(const std::string& command) {
  Status first;
  while (PGresult* res = PQgetResult(conn_)) {
    ResultGuard g{res};
    Status s = ResultStatus(res, command);
    if (first.ok() && !s.ok()) first = s;
  }
  return first;
}

PGresult* PageServerClient::Exec(const std::string& command, const std::vector<std::string>& params) {
  if (params.empty()) return PQexec(conn_, command.c_str());
  std::vector<const char*> values;
  for (const auto& p : params) values.push_back(p.c_str());
  return PQexecParams(conn_, command.c_str(), static_cast<int>(values.size()), nullptr, values.data(), nullptr, nullptr,
                      0);
}

Result<PageServerClient::Rows> PageServerClient::Query(const std::string& command,
                                                       const std::vector<std::string>& params) {
  PGresult* res = Exec(command, params);
  ResultGuard g{res};
  ZENITH_RETURN_IF_ERROR(ResultStatus(res, command));
  Rows rows;
  if (PQresultStatus(res) != PGRES_TUPLES_OK) return rows;
  for (int r = 0; r < PQntuples(res); ++r) {
    std::vector<std::string> row;
    for (int c = 0; c < PQnfields(res); ++c) row.emplace_back(PQgetvalue(res, r, c));
    rows.push_back(std::move(row));
  }
  return rows;
}

Status PageServerClient::CopyOut(const std::string& command,
                                 const std::function<Status(std::span<const uint8_t>)>& sink) {
  {
    PGresult* res = PQexec(conn_, command.c_str());
    ResultGuard g{res};
    ZENITH_RETURN_IF_ERROR(ResultStatus(res, command));
    if (PQresultStatus(res) != PGRES_COPY_OUT) return ProtocolError("\"" + command + "\" did not start a COPY OUT");
  }
  Status sink_status;
  for (;;) {
    char* buf = nullptr;
    int n = PQgetCopyData(conn_, &buf, 0);
    if (n == -1) break;
    if (n < 0) return ConnectionError("COPY OUT of \"" + command + "\" broke");
    if (sink_status.ok()) sink_status = sink(std::span(reinterpret_cast<const uint8_t*>(buf), static_cast<size_t>(n)));
    PQfreemem(buf);
  }
  ZENITH_RETURN_IF_ERROR(DrainResults(command));
  return sink_status;
}

Status PageServerClient::BeginCopyIn(const std::string& command, const std::vector<std::string>& params) {
  PGresult* res = Exec(command, params);
  ResultGuard g{res};
  ZENITH_RETURN_IF_ERROR(ResultStatus(res, command));
  if (PQresultStatus(res) != PGRES_COPY_IN) return ProtocolError("\"" + command + "\" did not start a COPY IN");
  return Status::Ok();
}

Status PageServerClient::SendCopyData(std::span<const uint8_t> data) {
  if (PQputCopyData(conn_, reinterpret_cast<const char*>(data.data()), static_cast<int>(data.size())) != 1) {
    return ConnectionError("could not send to the page server");
  }
  return Status::Ok();
}

Status PageServerClient::EndCopyIn() {
  if (PQputCopyEnd(conn_, nullptr) != 1) return ConnectionError("could not end COPY IN");
  return DrainResults("COPY IN");
}

void PageServerClient::AbortCopyIn(const std::string& reason) {
  PQputCopyEnd(conn_, reason.c_str());
  IgnoreError(DrainResults("COPY IN"));
}

Status PageServerClient::BeginCopyBoth(const std::string& command) {
  PGresult* res = PQexec(conn_, command.c_str());
  ResultGuard g{res};
  ZENITH_RETURN_IF_ERROR(ResultStatus(res, command));
  if (PQresultStatus(res) != PGRES_COPY_BOTH) return ProtocolError("\"" + command + "\" did not start a COPY BOTH");
  return Status::Ok();
}

Status PageServerClient::Flush() {
  if (PQflush(conn_) != 0) return ConnectionError("could not send to the page server");
  return Status::Ok();
}

Result<std::string> PageServerClient::ReceiveCopyData() {
  std::string out;
  ZENITH_RETURN_IF_ERROR(ReceiveCopyData([&out](std::span<const uint8_t> msg) {
    out.assign(reinterpret_cast<const char*>(msg.data()), msg.size());
    return Status::Ok();
  }));
  return out;
}

Result<std::optional<std::string>> PageServerClient::PollCopyData() {
  if (PQconsumeInput(conn_) == 0) return ConnectionError("the connection to the page server broke");
  char* buf = nullptr;
  const int n = PQgetCopyData(conn_, &buf, /*async=*/1);
  if (n == 0) return std::optional<std::string>();
  if (n > 0) {
    std::string out(buf, static_cast<size_t>(n));
    PQfreemem(buf);
    return std::optional(std::move(out));
  }
  if (n == -1) {
    Status s = DrainResults("COPY");
    return s.ok() ? ProtocolError("the page server ended the stream") : s;
  }
  return ConnectionError("the connection to the page server broke");
}

Status PageServerClient::ReceiveCopyData(const std::function<Status(std::span<const uint8_t>)>& use) {
  char* buf = nullptr;
  int n = PQgetCopyData(conn_, &buf, 0);
  if (n >= 0) {
    Status s = use(std::span(reinterpret_cast<const uint8_t*>(buf), static_cast<size_t>(n)));
    PQfreemem(buf);
    return s;
  }
  if (n == -1) {
    Status s = DrainResults("COPY");
    return s.ok() ? ProtocolError("the page server ended the stream") : s;
  }
  return ConnectionError("the connection to the page server broke");
}

Result<std::unique_ptr<PageStream>> PageStream::Open(const std::string& conninfo, const std::string& timeline,
                                                     bool exact) {
  ZENITH_ASSIGN_OR_RETURN(auto client, PageServerClient::Connect(conninfo));
  ZENITH_RETURN_IF_ERROR(client->BeginCopyBoth("pagestream " + timeline + (exact ? " exact" : "")));
  return std::unique_ptr<PageStream>(new PageStream(std::move(client)));
}

Status PageStream::GetPages(const RelTag& rel, std::span<const uint32_t> blocks, Lsn lsn, std::span<uint8_t> out) {
  if (out.size() != blocks.size() * kPageSize) return Internal("PageStream::GetPages: output size mismatch");
  for (uint32_t block : blocks) {
    send_buf_.clear();
    AppendPageRequest(&send_buf_, PageRequest{PageRequestKind::kGetPage, lsn, rel, block});
    ZENITH_RETURN_IF_ERROR(client_->SendCopyData(AsBytes(send_buf_)));
  }
  ZENITH_RETURN_IF_ERROR(client_->Flush());
  Status first;
  for (size_t i = 0; i < blocks.size(); ++i) {
    ZENITH_RETURN_IF_ERROR(client_->ReceiveCopyData([&](std::span<const uint8_t> msg) -> Status {
      ZENITH_ASSIGN_OR_RETURN(PageReply reply, DecodePageReply(msg));
      if (reply.kind == PageReplyKind::kPage) {
        std::memcpy(out.data() + i * kPageSize, reply.page.data(), kPageSize);
      } else if (first.ok()) {
        first = reply.kind == PageReplyKind::kError ? IoError(reply.error) : ProtocolError("unexpected page reply kind");
      }
      return Status::Ok();
    }));
  }
  return first;
}

Result<std::string> PageStream::RoundTrip(const PageRequest& req) {
  send_buf_.clear();
  AppendPageRequest(&send_buf_, req);
  ZENITH_RETURN_IF_ERROR(client_->SendCopyData(AsBytes(send_buf_)));
  ZENITH_RETURN_IF_ERROR(client_->Flush());
  return client_->ReceiveCopyData();
}

Result<uint32_t> PageStream::Nblocks(const RelTag& rel, Lsn lsn) {
  ZENITH_ASSIGN_OR_RETURN(std::string msg, RoundTrip(PageRequest{PageRequestKind::kNblocks, lsn, rel, 0}));
  ZENITH_ASSIGN_OR_RETURN(PageReply reply, DecodePageReply(AsBytes(msg)));
  if (reply.kind == PageReplyKind::kError) return NotFound(reply.error);
  if (reply.kind != PageReplyKind::kNblocks) return ProtocolError("unexpected page reply kind");
  return reply.nblocks;
}

Result<bool> PageStream::Exists(const RelTag& rel, Lsn lsn) {
  ZENITH_ASSIGN_OR_RETURN(std::string msg, RoundTrip(PageRequest{PageRequestKind::kExists, lsn, rel, 0}));
  ZENITH_ASSIGN_OR_RETURN(PageReply reply, DecodePageReply(AsBytes(msg)));
  if (reply.kind == PageReplyKind::kError) return IoError(reply.error);
  if (reply.kind != PageReplyKind::kExists) return ProtocolError("unexpected page reply kind");
  return reply.exists;
}

namespace {

Result<std::string> AddressText(const sockaddr_storage& addr) {
  char text[INET6_ADDRSTRLEN] = {};
  const void* raw = addr.ss_family == AF_INET ? static_cast<const void*>(&reinterpret_cast<const sockaddr_in&>(addr).sin_addr)
                                              : static_cast<const void*>(&reinterpret_cast<const sockaddr_in6&>(addr).sin6_addr);
  if (inet_ntop(addr.ss_family, raw, text, sizeof text) == nullptr) return ErrnoStatus("format an address", errno);
  return std::string(text);
}

}  // namespace

Result<PageServerClient::Endpoints> PageServerClient::TcpEndpoints() const {
  sockaddr_storage local{}, peer{};
  socklen_t local_len = sizeof local, peer_len = sizeof peer;
  const int fd = PQsocket(conn_);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_len) != 0 ||
      ::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peer_len) != 0) {
    return ErrnoStatus("read the connection's addresses", errno);
  }
  if (local.ss_family != AF_INET && local.ss_family != AF_INET6) {
    return NotFound("the connection to the page server is not over TCP");
  }
  ZENITH_ASSIGN_OR_RETURN(std::string local_text, AddressText(local));
  ZENITH_ASSIGN_OR_RETURN(std::string peer_text, AddressText(peer));
  return Endpoints{local_text, peer_text};
}

}  // namespace zenith::pageserver
