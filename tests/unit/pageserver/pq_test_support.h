// Shared by the wire-protocol tests: a test command table, a PqServer in a
// temporary directory, libpq helpers, and a raw-socket client that speaks
// (or mangles) the protocol byte by byte.
#pragma once

#include <dirent.h>
#include <arpa/inet.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/byte_io.h"
#include "common/unique_fd.h"
#include "pageserver/pq/command.h"
#include "pageserver/pq/pq_server.h"
#include "tests/harness/temp_dir.h"
#include "tests/harness/wait.h"

namespace zenith::pageserver::testing {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// What the test commands saw, shared with the test body.
struct TestState {
  std::mutex mu;
  std::condition_variable cv;
  int closes = 0;            // OnClose hooks that ran
  std::string last_copyin;   // everything the last `copyin` received
  int copyin_chunks = 0;

  void NoteClose() {
    std::lock_guard<std::mutex> lock(mu);
    ++closes;
    cv.notify_all();
  }
  bool WaitForCloses(int n, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, timeout, [&] { return closes >= n; });
  }
  int Closes() {
    std::lock_guard<std::mutex> lock(mu);
    return closes;
  }
};

inline Status StatusFromName(const std::string& name, std::string message) {
  if (name == "syntax") return SyntaxError(std::move(message));
  if (name == "invalid_argument") return InvalidArgument(std::move(message));
  if (name == "not_found") return NotFound(std::move(message));
  if (name == "already_exists") return AlreadyExists(std::move(message));
  if (name == "corruption") return Corruption(std::move(message));
  if (name == "io") return IoError(std::move(message));
  if (name == "timeout") return Timeout(std::move(message));
  if (name == "busy") return Busy(std::move(message));
  if (name == "protocol") return ProtocolError(std::move(message));
  if (name == "unavailable") return Unavailable(std::move(message));
  return Internal(std::move(message));
}

inline int IntArg(const CommandContext& ctx, size_t i, int fallback) {
  return ctx.args().size() > i ? std::stoi(ctx.args()[i]) : fallback;
}

// copyin [fail_after]: reads CopyData until CopyDone, keeping the bytes.
inline Status CopyInCommand(CommandContext& ctx, TestState* state) {
  int fail_after = IntArg(ctx, 0, -1);
  ZENITH_RETURN_IF_ERROR(ctx.StartCopyIn());
  std::string data;
  int chunks = 0;
  for (;;) {
    ZENITH_ASSIGN_OR_RETURN(std::optional<std::string> chunk, ctx.ReadCopyData());
    if (!chunk) break;
    if (chunks == fail_after) return InvalidArgument("copyin: refusing chunk " + std::to_string(chunks));
    data += *chunk;
    ++chunks;
  }
  std::lock_guard<std::mutex> lock(state->mu);
  state->last_copyin = std::move(data);
  state->copyin_chunks = chunks;
  return Status::Ok();
}

inline CommandTable MakeTestCommands(std::shared_ptr<TestState> state) {
  CommandTable t;
  t.Add({"echo", "echo [<args>...]", {"arg"}, [](CommandContext& ctx) {
           std::vector<CommandContext::Row> rows;
           for (const auto& a : ctx.args()) rows.push_back({a});
           return ctx.SendRows(rows);
         }});
  t.Add({"nullrow", "nullrow", {"a", "b"}, [](CommandContext& ctx) {
           return ctx.SendRows({{std::string("x"), std::nullopt}});
         }});
  t.Add({"big", "big <bytes>", {"value"}, [](CommandContext& ctx) {
           return ctx.SendRows({{std::string(static_cast<size_t>(IntArg(ctx, 0, 0)), 'x')}});
         }});
  t.Add({"session", "session", {"id", "application_name"}, [](CommandContext& ctx) {
           const auto& params = ctx.session().startup_params();
           auto it = params.find("application_name");
           return ctx.SendRows({{std::to_string(ctx.session().id()),
                                 it == params.end() ? std::nullopt : std::optional<std::string>(it->second)}});
         }});
  t.Add({"fail", "fail <code> <message>...", {}, [](CommandContext& ctx) {
           std::string message;
           for (size_t i = 1; i < ctx.args().size(); ++i) message += (i > 1 ? " " : "") + ctx.args()[i];
           return StatusFromName(ctx.args()[0], message);
         }});
  t.Add({"throw", "throw", {}, [](CommandContext&) -> Status { throw std::runtime_error("handler blew up"); }});
  t.Add({"twice", "twice", {}, [](CommandContext& ctx) {
           IgnoreError(ctx.SendOk("FIRST"));
           return ctx.SendOk("SECOND");
         }});
  t.Add({"copyout", "copyout <n> [chunk_bytes]", {}, [](CommandContext& ctx) {
           int n = IntArg(ctx, 0, 0);
           int size = IntArg(ctx, 1, 0);
           ZENITH_RETURN_IF_ERROR(ctx.StartCopyOut());
           for (int i = 0; i < n; ++i) {
             std::string chunk = size > 0 ? std::string(static_cast<size_t>(size), 'c') : "chunk " + std::to_string(i) + "\n";
             ZENITH_RETURN_IF_ERROR(ctx.CopyData(AsBytes(chunk)));
           }
           return Status::Ok();
         }});
  t.Add({"copyout_fail", "copyout_fail <n>", {}, [](CommandContext& ctx) {
           ZENITH_RETURN_IF_ERROR(ctx.StartCopyOut());
           for (int i = 0; i < IntArg(ctx, 0, 0); ++i) ZENITH_RETURN_IF_ERROR(ctx.CopyData(AsBytes("partial\n")));
           return IoError("copyout_fail: the disk went away");
         }});
  t.Add({"copyin", "copyin [fail_after]", {}, [state](CommandContext& ctx) { return CopyInCommand(ctx, state.get()); }});
  t.Add({"last_copyin", "last_copyin", {"bytes", "chunks"}, [state](CommandContext& ctx) {
           std::lock_guard<std::mutex> lock(state->mu);
           return ctx.SendRows({{std::to_string(state->last_copyin.size()), std::to_string(state->copyin_chunks)}});
         }});
  t.Add({"copyboth", "copyboth", {}, [](CommandContext& ctx) {
           ZENITH_RETURN_IF_ERROR(ctx.StartCopyBoth());
           for (;;) {
             ZENITH_ASSIGN_OR_RETURN(std::optional<std::string> request, ctx.ReadCopyData());
             if (!request) return Status::Ok();
             ZENITH_RETURN_IF_ERROR(ctx.CopyData(AsBytes("re:" + *request)));
           }
         }});
  t.Add({"wait_close", "wait_close", {}, [state](CommandContext& ctx) {
           ctx.session().OnClose([state] { state->NoteClose(); });
           return ctx.SendOk("WAIT_CLOSE");
         }});
  return t;
}

// A PqServer on a Unix socket in a fresh temporary directory.
class TestServer {
 public:
  static constexpr uint16_t kPort = 5432;  // only names the socket file

  explicit TestServer(const std::function<void(PqServerOptions&)>& tweak = {})
      : dir_("pq"), state_(std::make_shared<TestState>()) {
    PqServerOptions options;
    options.unix_socket_path = UnixSocketPath(dir_.path(), kPort);
    options.startup_timeout = 5s;
    if (tweak) tweak(options);
    server_ = std::make_unique<PqServer>(options, MakeTestCommands(state_));
  }

  Status Start() { return server_->Start(); }
  PqServer& server() { return *server_; }
  TestState& state() { return *state_; }
  const std::string& dir() const { return dir_.path(); }
  std::string socket_path() const { return server_->unix_socket_path(); }
  std::string ConnInfo(const std::string& extra = "") const {
    return "host=" + dir_.path() + " port=" + std::to_string(kPort) +
           " user=tester dbname=zenith connect_timeout=10 " + extra;
  }
  // Waits until no connection is being served.
  bool WaitIdle(std::chrono::milliseconds timeout) {
    return zenith::testing::WaitUntil([&] { return server_->active_connections() == 0; }, timeout);
  }

 private:
  zenith::testing::TempDir dir_;
  std::shared_ptr<TestState> state_;
  std::unique_ptr<PqServer> server_;
};

// ---- libpq -------------------------------------------------------------------

using PgConn = std::unique_ptr<PGconn, decltype(&PQfinish)>;
using PgResult = std::unique_ptr<PGresult, decltype(&PQclear)>;

inline PgConn Connect(const std::string& conninfo) { return PgConn(PQconnectdb(conninfo.c_str()), &PQfinish); }
inline PgResult Exec(PGconn* conn, const std::string& query) { return PgResult(PQexec(conn, query.c_str()), &PQclear); }
inline PgResult ExecParams(PGconn* conn, const std::string& query, const std::vector<const char*>& params,
                           const int* formats = nullptr, int result_format = 0) {
  std::vector<int> lengths;
  for (const char* p : params) lengths.push_back(p ? static_cast<int>(std::strlen(p)) : 0);
  return PgResult(PQexecParams(conn, query.c_str(), static_cast<int>(params.size()), nullptr, params.data(),
                               lengths.data(), formats, result_format),
                  &PQclear);
}
inline std::string SqlState(const PGresult* res) {
  const char* s = PQresultErrorField(res, PG_DIAG_SQLSTATE);
  return s ? s : "";
}
inline std::string ErrorMessage(const PGresult* res) {
  const char* s = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
  return s ? s : "";
}
// Column `col` of every row.
inline std::vector<std::string> Column(const PGresult* res, int col = 0) {
  std::vector<std::string> values;
  for (int i = 0; i < PQntuples(res); ++i) values.emplace_back(PQgetvalue(res, i, col));
  return values;
}
// "echo <word>" works on `conn` (the connection is still in sync).
inline bool EchoWorks(PGconn* conn, const std::string& word = "alive") {
  PgResult res = Exec(conn, "echo " + word);
  return PQresultStatus(res.get()) == PGRES_TUPLES_OK && Column(res.get()) == std::vector<std::string>{word};
}
inline bool FreshConnectionWorks(const std::string& conninfo) {
  PgConn conn = Connect(conninfo);
  return PQstatus(conn.get()) == CONNECTION_OK && EchoWorks(conn.get());
}

// One CopyData from the server within `timeout`: the data, "" + *done=true at
// the end of the copy, or nullopt on timeout or error.
inline std::optional<std::string> GetCopyData(PGconn* conn, std::chrono::milliseconds timeout, bool* done) {
  auto deadline = Clock::now() + timeout;
  *done = false;
  for (;;) {
    char* buf = nullptr;
    int n = PQgetCopyData(conn, &buf, /*async=*/1);
    if (n > 0) {
      std::string data(buf, static_cast<size_t>(n));
      PQfreemem(buf);
      return data;
    }
    if (n == -1) {
      *done = true;
      return std::string();
    }
    if (n < -1) return std::nullopt;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return std::nullopt;
    pollfd pfd = {PQsocket(conn), POLLIN, 0};
    ::poll(&pfd, 1, static_cast<int>(left));
    if (!PQconsumeInput(conn)) return std::nullopt;
  }
}

// Collects the results after a command until PQgetResult returns NULL.
inline std::vector<PgResult> DrainResults(PGconn* conn) {
  std::vector<PgResult> results;
  while (PGresult* r = PQgetResult(conn)) results.emplace_back(r, &PQclear);
  return results;
}

// ---- Raw protocol bytes ------------------------------------------------------

inline std::string Be32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
}
inline std::string Be16(uint16_t v) { return {static_cast<char>(v >> 8), static_cast<char>(v)}; }
inline std::string CStr(std::string_view s) { return std::string(s) + '\0'; }
inline std::string Message(char type, std::string_view body) {
  return std::string(1, type) + Be32(static_cast<uint32_t>(body.size() + 4)) + std::string(body);
}
inline std::string StartupPacket(const std::vector<std::pair<std::string, std::string>>& params,
                                 uint32_t protocol = 3u << 16) {
  std::string body = Be32(protocol);
  for (const auto& [k, v] : params) body += CStr(k) + CStr(v);
  body += '\0';
  return Be32(static_cast<uint32_t>(body.size() + 4)) + body;
}
inline std::string DefaultStartup() { return StartupPacket({{"user", "raw"}, {"database", "zenith"}}); }
inline std::string QueryMsg(std::string_view q) { return Message('Q', CStr(q)); }
inline std::string ParseMsg(std::string_view name, std::string_view query) {
  return Message('P', CStr(name) + CStr(query) + Be16(0));
}
inline std::string BindMsg(std::string_view portal, std::string_view stmt, const std::vector<std::string>& params) {
  std::string body = CStr(portal) + CStr(stmt) + Be16(0) + Be16(static_cast<uint16_t>(params.size()));
  for (const auto& p : params) body += Be32(static_cast<uint32_t>(p.size())) + p;
  return Message('B', body + Be16(0));
}
inline std::string DescribeMsg(char kind, std::string_view name) { return Message('D', std::string(1, kind) + CStr(name)); }
inline std::string ExecuteMsg(std::string_view portal) { return Message('E', CStr(portal) + Be32(0)); }
inline std::string SyncMsg() { return Message('S', ""); }
inline std::string CopyDataMsg(std::string_view data) { return Message('d', data); }
inline std::string CopyDoneMsg() { return Message('c', ""); }
inline std::string TerminateMsg() { return Message('X', ""); }

struct BackendMessage {
  char type = 0;
  std::string body;
};

inline uint32_t LoadBe32Test(const char* p) {
  auto b = reinterpret_cast<const uint8_t*>(p);
  return (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3];
}

// Splits server bytes into complete messages (a partial tail is left out).
inline std::vector<BackendMessage> SplitBackend(std::string_view bytes) {
  std::vector<BackendMessage> out;
  size_t pos = 0;
  while (bytes.size() - pos >= 5) {
    uint32_t len = LoadBe32Test(bytes.data() + pos + 1);
    if (len < 4 || bytes.size() - pos - 1 < len) break;
    out.push_back({bytes[pos], std::string(bytes.substr(pos + 5, len - 4))});
    pos += 1 + len;
  }
  return out;
}

// The value of one field ('C' SQLSTATE, 'M' message, 'S' severity) of an ErrorResponse.
inline std::string ErrorField(const BackendMessage& m, char field) {
  size_t pos = 0;
  while (pos < m.body.size() && m.body[pos] != '\0') {
    char f = m.body[pos++];
    size_t end = m.body.find('\0', pos);
    if (end == std::string::npos) return "";
    if (f == field) return m.body.substr(pos, end - pos);
    pos = end + 1;
  }
  return "";
}

inline const BackendMessage* FindMessage(const std::vector<BackendMessage>& ms, char type) {
  for (const auto& m : ms) {
    if (m.type == type) return &m;
  }
  return nullptr;
}

// A client on a raw Unix socket (or TCP to 127.0.0.1).
class RawClient {
 public:
  explicit RawClient(const std::string& path) {
    fd_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    connected_ = ::connect(fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  explicit RawClient(uint16_t tcp_port) {
    fd_.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(tcp_port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  bool connected() const { return connected_; }

  // False when the server closed its end (EPIPE/ECONNRESET); never raises SIGPIPE.
  bool Send(std::string_view bytes) {
    size_t sent = 0;
    while (sent < bytes.size()) {
      ssize_t n = ::send(fd_.get(), bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        return false;
      }
      sent += static_cast<size_t>(n);
    }
    return true;
  }
  void ShutdownWrite() { ::shutdown(fd_.get(), SHUT_WR); }
  void Close() { fd_.reset(); }

  // Reads until the server closes (sets closed()), `idle` passes without data,
  // or `total` passes; returns everything read in this call.
  std::string Read(std::chrono::milliseconds idle, std::chrono::milliseconds total = 10s) {
    std::string got;
    auto deadline = Clock::now() + total;
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left <= 0ms) return got;
      pollfd pfd = {fd_.get(), POLLIN, 0};
      int ready = ::poll(&pfd, 1, static_cast<int>(std::min(idle, left).count()));
      if (ready == 0) return got;
      char buf[65536];
      ssize_t n = ::recv(fd_.get(), buf, sizeof buf, 0);
      if (n <= 0) {
        if (n < 0 && errno == EINTR) continue;
        closed_ = true;
        return got;
      }
      got.append(buf, static_cast<size_t>(n));
    }
  }
  // Reads until `count` messages of `type` arrived in this call (or close /
  // timeout); returns the complete messages read. A partial message stays
  // buffered for the next call.
  std::vector<BackendMessage> ReadUntil(char type, std::chrono::milliseconds timeout = 10s, int count = 1) {
    std::vector<BackendMessage> got;
    int seen = 0;
    auto deadline = Clock::now() + timeout;
    for (;;) {
      for (BackendMessage& m : TakeMessages()) {
        seen += m.type == type;
        got.push_back(std::move(m));
      }
      if (seen >= count || closed_ || Clock::now() >= deadline) return got;
      pending_ += Read(50ms, 100ms);
    }
  }
  // One recv() of at most `max` bytes (waits for data).
  std::string ReadSome(size_t max) {
    std::string buf(max, '\0');
    ssize_t n = ::recv(fd_.get(), buf.data(), max, 0);
    buf.resize(n > 0 ? static_cast<size_t>(n) : 0);
    return buf;
  }
  // Reads until the server closes or stays quiet for `idle`; returns the
  // complete messages.
  std::vector<BackendMessage> ReadMessages(std::chrono::milliseconds idle, std::chrono::milliseconds total = 10s) {
    pending_ += Read(idle, total);
    return TakeMessages();
  }
  // Completes a normal startup; true at ReadyForQuery.
  bool Startup() {
    if (!Send(DefaultStartup())) return false;
    return FindMessage(ReadUntil('Z'), 'Z') != nullptr;
  }
  bool closed() const { return closed_; }

 private:
  std::vector<BackendMessage> TakeMessages() {
    std::vector<BackendMessage> ms = SplitBackend(pending_);
    size_t used = 0;
    for (const auto& m : ms) used += 5 + m.body.size();
    pending_.erase(0, used);
    return ms;
  }

  UniqueFd fd_;
  bool connected_ = false;
  bool closed_ = false;
  std::string pending_;  // bytes ReadUntil read past the last complete message
};

// Number of threads in this process.
inline int ThreadCount() {
  int n = 0;
  if (auto* d = ::opendir("/proc/self/task")) {
    while (auto* e = ::readdir(d)) n += e->d_name[0] != '.';
    ::closedir(d);
  }
  return n;
}

}  // namespace zenith::pageserver::testing
