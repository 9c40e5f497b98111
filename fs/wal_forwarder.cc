#include "fs/wal_forwarder.h"

#include <endian.h>
#include <libpq-fe.h>
#include <poll.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <spdlog/spdlog.h>

#include "common/byte_io.h"
#include "common/catch_all.h"
#include "common/file_util.h"
#include "common/lsn.h"
#include "common/str_format.h"
#include "fs/remote_compute.h"
#include "pageserver/api/wal_stream_protocol.h"

namespace zenith::fs {

namespace {

using Clock = std::chrono::steady_clock;

constexpr auto kRetryDelay = std::chrono::seconds(1);
constexpr auto kStatusInterval = std::chrono::seconds(1);
// WAL sent and not confirmed durable for this long ends the stream.
constexpr auto kAckTimeout = std::chrono::seconds(60);
constexpr int kPollMs = 200;
// WAL forwarded per put_wal chunk, at most.
constexpr size_t kChunkBytes = 4 << 20;
constexpr const char* kApplicationName = "zenith_pageserver";
constexpr const char* kSlotName = "zenith_pageserver";
constexpr const char* kConnectTimeoutSeconds = "10";

// Microseconds since 2000-01-01, PostgreSQL's TimestampTz.
int64_t PgNow() {
  constexpr int64_t kPgEpochUnixSeconds = 946684800;
  const auto since_unix = std::chrono::system_clock::now().time_since_epoch();
  return std::chrono::duration_cast<std::chrono::microseconds>(since_unix).count() - kPgEpochUnixSeconds * 1000000;
}

uint64_t LoadBe64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return be64toh(v);
}

void AppendBe64(std::string* out, uint64_t v) {
  v = htobe64(v);
  out->append(reinterpret_cast<const char*>(&v), 8);
}

// One physical replication connection to the compute, over its Unix
// socket (libpq, freed on destruction).
class Replication {
 public:
  static Result<std::unique_ptr<Replication>> Open(const ComputeSocket& socket, const std::string& user) {
    const std::string port = std::to_string(socket.port);
    const char* keys[] = {"host", "port", "user", "dbname", "replication", "application_name", "connect_timeout",
                          nullptr};
    const char* values[] = {socket.dir.c_str(), port.c_str(), user.c_str(), "replication", "true",
                            kApplicationName, kConnectTimeoutSeconds, nullptr};
    auto r = std::unique_ptr<Replication>(new Replication(PQconnectdbParams(keys, values, /*expand_dbname=*/0)));
    if (r->conn_ == nullptr) return Unavailable("out of memory for a connection to the compute");
    if (PQstatus(r->conn_) != CONNECTION_OK) return Unavailable("could not connect to this mount's PostgreSQL: " + r->Error());
    return r;
  }
  ~Replication() { PQfinish(conn_); }

  Result<uint64_t> IdentifySystem() {
    PGresult* res = PQexec(conn_, "IDENTIFY_SYSTEM");
    const bool ok = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 && PQnfields(res) >= 3;
    const std::string id = ok ? PQgetvalue(res, 0, 0) : "";
    PQclear(res);
    if (!ok) return Unavailable("IDENTIFY_SYSTEM failed: " + Error());
    return std::strtoull(id.c_str(), nullptr, 10);
  }

  // The slot keeps every segment not yet flushed by the page server,
  // however long it is away. It lives in the scratch.
  Status CreateSlotIfMissing() {
    const std::string cmd = std::string("CREATE_REPLICATION_SLOT ") + kSlotName + " PHYSICAL RESERVE_WAL";
    PGresult* res = PQexec(conn_, cmd.c_str());
    const char* state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    const bool ok = PQresultStatus(res) == PGRES_TUPLES_OK || (state != nullptr && std::strcmp(state, "42710") == 0);
    PQclear(res);
    if (!ok) return Unavailable("could not create the replication slot " + std::string(kSlotName) + ": " + Error());
    return Status::Ok();
  }

  Status Start(Lsn start) {
    const std::string cmd =
        std::string("START_REPLICATION SLOT ") + kSlotName + " PHYSICAL " + start.ToString() + " TIMELINE 1";
    PGresult* res = PQexec(conn_, cmd.c_str());
    const bool ok = PQresultStatus(res) == PGRES_COPY_BOTH;
    PQclear(res);
    if (!ok) return Unavailable("START_REPLICATION at " + start.ToString() + " failed: " + Error());
    if (PQsetnonblocking(conn_, 1) != 0) return Unavailable("could not make the replication connection non-blocking");
    return Status::Ok();
  }

  int socket() const { return PQsocket(conn_); }

  // The next CopyData that has arrived ("" if none yet).
  Result<std::string> Next() {
    if (PQconsumeInput(conn_) == 0) return Unavailable("the replication connection broke: " + Error());
    char* buf = nullptr;
    const int n = PQgetCopyData(conn_, &buf, /*async=*/1);
    if (n == 0) return std::string();
    if (n < 0) return Unavailable(n == -1 ? "PostgreSQL ended the replication stream" : "the stream broke: " + Error());
    std::string msg(buf, static_cast<size_t>(n));
    PQfreemem(buf);
    return msg;
  }

  // A standby status update: what arrived, and what the page server holds
  // durably (applied = flushed: synchronous_commit = on waits for flush).
  Status Report(Lsn received, Lsn flushed) {
    std::string msg = "r";
    AppendBe64(&msg, received.value);
    AppendBe64(&msg, flushed.value);
    AppendBe64(&msg, flushed.value);
    AppendBe64(&msg, static_cast<uint64_t>(PgNow()));
    msg.push_back(0);
    if (PQputCopyData(conn_, msg.data(), static_cast<int>(msg.size())) != 1) {
      return Unavailable("could not send a status update: " + Error());
    }
    for (int tries = 0; PQflush(conn_) == 1; ++tries) {
      if (tries > 50) return Unavailable("PostgreSQL does not read its replication connection");
      pollfd p{PQsocket(conn_), POLLOUT, 0};
      ::poll(&p, 1, 100);
    }
    return Status::Ok();
  }

 private:
  explicit Replication(PGconn* conn) : conn_(conn) {}
  std::string Error() const { return WithoutTrailingSpace(PQerrorMessage(conn_)); }
  PGconn* conn_;
};

}  // namespace

std::string WithNetworkDeadlines(const std::string& conninfo) {
  static const char* const kParams[][2] = {{"connect_timeout", kConnectTimeoutSeconds},
                                          {"keepalives", "1"},
                                          {"keepalives_idle", "10"},
                                          {"keepalives_interval", "5"},
                                          {"keepalives_count", "3"},
                                          {"tcp_user_timeout", "30000"}};
  const bool url = conninfo.rfind("postgresql://", 0) == 0 || conninfo.rfind("postgres://", 0) == 0;
  std::string out = conninfo;
  char sep = url ? (conninfo.find('?') == std::string::npos ? '?' : '&') : ' ';
  for (const auto& [key, value] : kParams) {
    out += sep + std::string(key) + "=" + value;
    if (url) sep = '&';
  }
  return out;
}

// One put_wal stream to the page server, on a connection of its own.
class WalForwarder::Stream {
 public:
  Stream(pageserver::RepoClient client) : client_(std::move(client)) {}

  // Opens put_wal; where the page server's WAL ends (the stream's start).
  Result<Lsn> Open(const std::string& timeline, const std::string& token, const std::atomic<bool>& stop) {
    ZENITH_RETURN_IF_ERROR(conn().BeginCopyBoth("put_wal " + timeline + " " + token));
    const auto deadline = Clock::now() + kAckTimeout;
    while (!stop && Clock::now() < deadline) {
      ZENITH_ASSIGN_OR_RETURN(auto msg, conn().PollCopyData());
      if (msg) return pageserver::DecodeWalPosition(AsBytes(*msg));
      pollfd p{conn().socket(), POLLIN, 0};
      ::poll(&p, 1, kPollMs);
    }
    return Unavailable("the page server did not answer put_wal");
  }
  Status Send(Lsn at, std::span<const uint8_t> wal) {
    buf_.clear();
    pageserver::AppendWalChunk(&buf_, at, wal);
    ZENITH_RETURN_IF_ERROR(conn().SendCopyData(AsBytes(buf_)));
    return conn().Flush();
  }
  // The newest flushed position the page server answered so far, or `known`.
  Result<Lsn> Flushed(Lsn known) {
    for (;;) {
      ZENITH_ASSIGN_OR_RETURN(auto msg, conn().PollCopyData());
      if (!msg) return known;
      ZENITH_ASSIGN_OR_RETURN(known, pageserver::DecodeWalPosition(AsBytes(*msg)));
    }
  }
  int socket() { return conn().socket(); }

 private:
  pageserver::PageServerClient& conn() { return client_.connection(); }
  pageserver::RepoClient client_;
  std::string buf_;
};

WalForwarder::WalForwarder(Options options) : options_(std::move(options)) {
  thread_ = std::thread([this] { Run(); });
}

WalForwarder::~WalForwarder() { Stop(); }

void WalForwarder::Stop() {
  stop_ = true;
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void WalForwarder::Run() {
  std::string last_error;
  while (!stop_) {
    Status s = CatchAll("the WAL forwarder", [&] { return ForwardOnce(); });
    if (stop_) break;
    // One line per distinct failure, not one a second while it lasts.
    if (!s.ok() && s.message() != last_error) spdlog::warn("forwarding this compute's WAL: {}", s.message());
    last_error = s.message();
    std::unique_lock lock(mu_);
    wake_.wait_for(lock, kRetryDelay, [this] { return stop_.load(); });
  }
}

Status WalForwarder::ForwardOnce() {
  auto pid_file = ReadFileToString(options_.scratch_dir + "/postmaster.pid");
  const std::optional<ComputeSocket> socket = pid_file.ok() ? ReadyComputeSocket(*pid_file) : std::nullopt;
  if (!socket) return Unavailable("this mount's PostgreSQL is not running (or has no Unix socket)");
  ZENITH_ASSIGN_OR_RETURN(auto pg, Replication::Open(*socket, options_.superuser));
  ZENITH_ASSIGN_OR_RETURN(uint64_t system_id, pg->IdentifySystem());
  if (system_id != options_.system_id) {
    return InvalidArgument("this mount's PostgreSQL is database system " + std::to_string(system_id) +
                           ", not the repository's " + std::to_string(options_.system_id));
  }
  ZENITH_RETURN_IF_ERROR(pg->CreateSlotIfMissing());
  const std::string token = options_.token();
  if (token.empty()) return Unavailable("waiting for the mount lease's WAL token");
  ZENITH_ASSIGN_OR_RETURN(auto client, options_.connect());
  Stream ps(std::move(client));
  ZENITH_ASSIGN_OR_RETURN(const Lsn start, ps.Open(options_.timeline, token, stop_));
  ZENITH_RETURN_IF_ERROR(pg->Start(start));
  spdlog::info("forwarding this compute's WAL to the page server from {}", start.ToString());
  Lsn received = start, sent = start, flushed = start;
  std::string batch;
  auto last_report = Clock::now(), oldest_unconfirmed = Clock::now();
  while (!stop_) {
    pollfd fds[2] = {{pg->socket(), POLLIN, 0}, {ps.socket(), POLLIN, 0}};
    if (::poll(fds, 2, kPollMs) < 0 && errno != EINTR) return ErrnoStatus("poll the WAL streams", errno);
    bool reply_requested = false;
    batch.clear();
    while (batch.size() < kChunkBytes) {
      ZENITH_ASSIGN_OR_RETURN(std::string msg, pg->Next());
      if (msg.empty()) break;
      if (msg[0] == 'w' && msg.size() >= 25) {
        const Lsn at(LoadBe64(msg.data() + 1));
        if (at != received) return ProtocolError("PostgreSQL sent WAL at " + at.ToString() + ", expected " + received.ToString());
        batch.append(msg, 25);
        received = at + (msg.size() - 25);
      } else if (msg[0] == 'k' && msg.size() >= 18) {
        reply_requested = reply_requested || msg[17] != 0;
      }
    }
    if (!batch.empty()) {
      if (sent == flushed) oldest_unconfirmed = Clock::now();
      ZENITH_RETURN_IF_ERROR(ps.Send(sent, AsBytes(batch)));
      sent = received;
    }
    ZENITH_ASSIGN_OR_RETURN(const Lsn now_flushed, ps.Flushed(flushed));
    const bool advanced = now_flushed != flushed;
    flushed = now_flushed;
    if (flushed != sent) {
      if (advanced) oldest_unconfirmed = Clock::now();
      if (Clock::now() - oldest_unconfirmed > kAckTimeout) {
        return Unavailable("the page server has not confirmed WAL since " + flushed.ToString() + " for a minute");
      }
    }
    if (advanced || reply_requested || Clock::now() - last_report >= kStatusInterval) {
      ZENITH_RETURN_IF_ERROR(pg->Report(received, flushed));
      last_report = Clock::now();
    }
  }
  return Status::Ok();
}

}  // namespace zenith::fs
