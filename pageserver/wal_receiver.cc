#include "pageserver/wal_receiver.h"

#include <endian.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pwd.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <spdlog/spdlog.h>

#include "common/catch_all.h"
#include "common/str_format.h"
#include "common/wal_segment_writer.h"

namespace zenith::pageserver {

namespace {

using Clock = std::chrono::steady_clock;

constexpr auto kReconnectDelay = std::chrono::seconds(1);
constexpr auto kStatusInterval = std::chrono::seconds(1);
constexpr int kPollMs = 200;
// Synced and reported at least this often while a burst of WAL arrives.
constexpr uint64_t kMaxUnsyncedBytes = 4 << 20;
constexpr const char* kApplicationName = "zenith_pageserver";
constexpr const char* kSlotName = "zenith_pageserver";

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

}  // namespace

// One replication connection to the compute (libpq, freed on destruction).
class WalReceiver::Connection {
 public:
  static Result<std::unique_ptr<Connection>> Open(const Options& o) {
    const char* keys[] = {"dbname", "user", "replication", "application_name", "connect_timeout", nullptr};
    const char* values[] = {o.compute_url.c_str(), o.user.c_str(), "true", kApplicationName, "5", nullptr};
    auto c = std::unique_ptr<Connection>(new Connection(PQconnectdbParams(keys, values, /*expand_dbname=*/1)));
    if (c->conn_ == nullptr) return Unavailable("out of memory for a connection to " + o.compute_url);
    if (PQstatus(c->conn_) != CONNECTION_OK) return Unavailable("could not connect to the compute: " + c->Error());
    return c;
  }
  ~Connection() { PQfinish(conn_); }

  // IDENTIFY_SYSTEM: the compute's system identifier.
  Result<uint64_t> IdentifySystem() {
    PGresult* r = PQexec(conn_, "IDENTIFY_SYSTEM");
    const bool ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && PQnfields(r) >= 3;
    const std::string id = ok ? PQgetvalue(r, 0, 0) : "";
    PQclear(r);
    if (!ok) return Unavailable("IDENTIFY_SYSTEM failed: " + Error());
    return std::strtoull(id.c_str(), nullptr, 10);
  }

  // The compute's slot for the page server: from its first connection on,
  // PostgreSQL keeps every segment not yet flushed here, however long the
  // page server is away. It lives in the compute's scratch.
  Status CreateSlotIfMissing() {
    const std::string cmd = std::string("CREATE_REPLICATION_SLOT ") + kSlotName + " PHYSICAL RESERVE_WAL";
    PGresult* r = PQexec(conn_, cmd.c_str());
    const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    const bool ok = PQresultStatus(r) == PGRES_TUPLES_OK || (state != nullptr && std::strcmp(state, "42710") == 0);
    PQclear(r);
    if (!ok) return Unavailable("could not create the replication slot " + std::string(kSlotName) + ": " + Error());
    return Status::Ok();
  }

  Status StartReplication(Lsn start) {
    const std::string cmd =
        std::string("START_REPLICATION SLOT ") + kSlotName + " PHYSICAL " + start.ToString() + " TIMELINE 1";
    PGresult* r = PQexec(conn_, cmd.c_str());
    const bool ok = PQresultStatus(r) == PGRES_COPY_BOTH;
    PQclear(r);
    if (!ok) return Unavailable("START_REPLICATION at " + start.ToString() + " failed: " + Error());
    if (PQsetnonblocking(conn_, 1) != 0) return Unavailable("could not make the connection non-blocking");
    return Status::Ok();
  }

  // Waits up to kPollMs for input and reads it into libpq's buffer.
  Status Poll() {
    pollfd p{PQsocket(conn_), POLLIN, 0};
    if (::poll(&p, 1, kPollMs) < 0 && errno != EINTR) return ErrnoStatus("poll the compute's connection", errno);
    if (PQconsumeInput(conn_) == 0) return Unavailable("the connection to the compute broke: " + Error());
    return Status::Ok();
  }

  // The next CopyData message if one has arrived ("" if none yet).
  Result<std::string> Next() {
    char* buf = nullptr;
    const int n = PQgetCopyData(conn_, &buf, /*async=*/1);
    if (n == 0) return std::string();
    if (n < 0) return Unavailable(n == -1 ? "the compute ended the stream" : "the stream broke: " + Error());
    std::string msg(buf, static_cast<size_t>(n));
    PQfreemem(buf);
    return msg;
  }

  // A standby status update: write and flush positions (applied = flushed:
  // nothing is applied here, and synchronous_commit = on waits for flush).
  Status ReportPositions(Lsn written, Lsn flushed) {
    std::string msg = "r";
    AppendBe64(&msg, written.value);
    AppendBe64(&msg, flushed.value);
    AppendBe64(&msg, flushed.value);
    AppendBe64(&msg, static_cast<uint64_t>(PgNow()));
    msg.push_back(0);
    if (PQputCopyData(conn_, msg.data(), static_cast<int>(msg.size())) != 1) {
      return Unavailable("could not send a status update: " + Error());
    }
    for (int tries = 0; PQflush(conn_) == 1; ++tries) {
      if (tries > 50) return Unavailable("the compute does not read its replication connection");
      pollfd p{PQsocket(conn_), POLLOUT, 0};
      ::poll(&p, 1, 100);
    }
    return Status::Ok();
  }

 private:
  explicit Connection(PGconn* conn) : conn_(conn) {}
  std::string Error() const {
    return WithoutTrailingSpace(PQerrorMessage(conn_));
  }
  PGconn* conn_;
};

WalReceiver::WalReceiver(Options options) : options_(std::move(options)) {
  state_.phase = "connecting";
  thread_ = std::thread([this] { Run(); });
}

WalReceiver::~WalReceiver() { Stop(); }

void WalReceiver::Stop() {
  stop_ = true;
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

WalReceiverState WalReceiver::state() const {
  std::lock_guard lock(mu_);
  return state_;
}

void WalReceiver::SetPhase(const std::string& phase) {
  std::lock_guard lock(mu_);
  state_.phase = phase;
}

void WalReceiver::Run() {
  const std::string tl = options_.timeline->id().ToString();
  std::string last_error;
  while (!stop_) {
    SetPhase("connecting");
    Status s = CatchAll("the WAL receiver", [&] { return StreamOnce(); });
    if (stop_) break;
    {
      std::unique_lock lock(mu_);
      state_.phase = "waiting to reconnect";
      state_.error = s.message();
      // One line per distinct failure, not one a second while it lasts.
      if (s.message() != last_error) spdlog::warn("timeline {}: WAL receiver from {}: {}", tl, options_.compute_url, s.message());
      last_error = s.message();
      wake_.wait_for(lock, kReconnectDelay, [this] { return stop_.load(); });
    }
  }
  spdlog::info("timeline {}: WAL receiver from {} stopped", tl, options_.compute_url);
}

Status WalReceiver::StreamOnce() {
  Timeline& timeline = *options_.timeline;
  ZENITH_ASSIGN_OR_RETURN(auto conn, Connection::Open(options_));
  ZENITH_ASSIGN_OR_RETURN(uint64_t system_id, conn->IdentifySystem());
  if (system_id != options_.system_id) {
    return InvalidArgument("the compute is database system " + std::to_string(system_id) + ", not this repository's " +
                           std::to_string(options_.system_id));
  }
  ZENITH_ASSIGN_OR_RETURN(const Lsn start, timeline.EndOfWal());
  WalSegmentWriter writer(timeline.wal_dir(), WalSegmentWriter::Existing::kKeep);
  ZENITH_RETURN_IF_ERROR(writer.DiscardFrom(start));  // a partial record a dead compute left
  ZENITH_RETURN_IF_ERROR(conn->CreateSlotIfMissing());
  ZENITH_RETURN_IF_ERROR(conn->StartReplication(start));
  {
    std::lock_guard lock(mu_);
    state_ = {"streaming", start, ""};
  }
  spdlog::info("timeline {}: receiving WAL from {} at {}", timeline.id().ToString(), options_.compute_url,
               start.ToString());
  Lsn written = start, flushed = start;
  auto last_report = Clock::now();
  while (!stop_) {
    ZENITH_RETURN_IF_ERROR(conn->Poll());
    bool reply_requested = false;
    while (written.value - flushed.value < kMaxUnsyncedBytes) {
      ZENITH_ASSIGN_OR_RETURN(std::string msg, conn->Next());
      if (msg.empty()) break;
      if (msg[0] == 'w' && msg.size() >= 25) {
        const Lsn at(LoadBe64(msg.data() + 1));
        if (at != written) {
          return ProtocolError("the compute sent WAL at " + at.ToString() + ", expected " + written.ToString());
        }
        auto data = AsBytes(std::string_view(msg).substr(25));
        ZENITH_RETURN_IF_ERROR(writer.Write(at, data));
        written = at + data.size();
      } else if (msg[0] == 'k' && msg.size() >= 18) {
        reply_requested = reply_requested || msg[17] != 0;
      }
    }
    if (written != flushed) {
      ZENITH_RETURN_IF_ERROR(writer.Sync());
      flushed = written;
      std::lock_guard lock(mu_);
      state_.flushed = flushed;
    } else if (!reply_requested && Clock::now() - last_report < kStatusInterval) {
      continue;
    }
    ZENITH_RETURN_IF_ERROR(conn->ReportPositions(written, flushed));
    last_report = Clock::now();
  }
  return Status::Ok();
}

WalReceivers::~WalReceivers() {
  std::lock_guard lock(mu_);
  receivers_.clear();
}

WalReceiverState WalReceivers::Ensure(const std::shared_ptr<Timeline>& timeline, uint64_t session,
                                      const std::string& compute_url) {
  std::lock_guard lock(mu_);
  Entry& e = receivers_[timeline->id()];
  if (e.receiver && (e.session != session || e.receiver->compute_url() != compute_url)) {
    e.receiver.reset();  // stops it: one writer of wal/ at a time
  }
  if (!e.receiver) {
    spdlog::info("timeline {}: callmemaybe {}", timeline->id().ToString(), compute_url);
    e.session = session;
    e.receiver = std::make_unique<WalReceiver>(
        WalReceiver::Options{timeline, compute_url, ReplicationUser(), system_id_});
  }
  return e.receiver->state();
}

void WalReceivers::StopFor(const TimelineId& timeline, uint64_t session) {
  std::lock_guard lock(mu_);
  auto it = receivers_.find(timeline);
  if (it != receivers_.end() && it->second.session == session) receivers_.erase(it);
}

bool WalReceivers::Receiving(const TimelineId& timeline) {
  std::lock_guard lock(mu_);
  auto it = receivers_.find(timeline);
  return it != receivers_.end() && it->second.receiver != nullptr;
}

std::string ReplicationUser() {
  const passwd* pw = ::getpwuid(::geteuid());
  return pw != nullptr ? pw->pw_name : "postgres";
}

}  // namespace zenith::pageserver
