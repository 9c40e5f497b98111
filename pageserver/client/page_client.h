// Clients of the page server, over libpq: plain commands, COPY streams, and
// PageStream, the pipelined GetPage@LSN client the FUSE daemon reads with.
//
// Ownership: each object owns one libpq connection, closed on destruction.
// Thread-safety: an object is used by one thread at a time; make one per
// thread for concurrency.
#pragma once

#include <libpq-fe.h>

#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/lsn.h"
#include "common/relation_path.h"
#include "common/status.h"
#include "pageserver/api/page_protocol.h"

namespace zenith::pageserver {

// libpq connection string for the page server of the repository whose
// .zenith directory is `repo_root`, listening on .s.PGSQL.<port> there.
std::string PageServerConnString(const std::string& repo_root, int port);

class PageServerClient {
 public:
  using Rows = std::vector<std::vector<std::string>>;  // NULL reads as ""

  // Unavailable, with libpq's reason, when the server cannot be reached.
  // Over TCP only with TLS, a verified certificate and channel binding
  // (SecurePageServerConnInfo: InvalidArgument for a string asking for less).
  static Result<std::unique_ptr<PageServerClient>> Connect(const std::string& conninfo);
  ~PageServerClient();
  PageServerClient(const PageServerClient&) = delete;
  PageServerClient& operator=(const PageServerClient&) = delete;

  // Runs a command and returns its rows (none for commands without rows).
  // The server's error message becomes the Status message; its SQLSTATE
  // picks the code (CodeForSqlState, pageserver/api/sql_state.h).
  // Parameters are sent with PQexecParams as $1..$n when given.
  Result<Rows> Query(const std::string& command, const std::vector<std::string>& params = {});

  // A CopyOut command: each CopyData goes to `sink`, in order.
  Status CopyOut(const std::string& command, const std::function<Status(std::span<const uint8_t>)>& sink);

  // CopyIn: Begin, Send..., then End (waits for the server's verdict) or
  // Abort (sends CopyFail).
  // `params` as Query's (a secret goes as one: it is never in an error).
  Status BeginCopyIn(const std::string& command, const std::vector<std::string>& params = {});
  Status SendCopyData(std::span<const uint8_t> data);
  Status EndCopyIn();
  void AbortCopyIn(const std::string& reason);

  // CopyBoth: Begin, then SendCopyData / Flush / ReceiveCopyData.
  Status BeginCopyBoth(const std::string& command);
  Status Flush();
  // The next CopyData from the server; an error Status when the stream
  // ended or broke (the server's error message if it sent one).
  Result<std::string> ReceiveCopyData();
  // The same, handing the message to `use` in libpq's buffer (no copy);
  // returns what `use` returns.
  Status ReceiveCopyData(const std::function<Status(std::span<const uint8_t>)>& use);
  // Without blocking: reads what arrived on the socket and returns the next
  // complete CopyData, or nullopt if none has arrived yet (poll socket()).
  Result<std::optional<std::string>> PollCopyData();
  int socket() const { return PQsocket(conn_); }

  // The IP addresses of a TCP connection: this end's and the server's, as
  // text (for a remote mount's settings: where the page server reaches
  // back). NotFound for a Unix-domain socket.
  struct Endpoints {
    std::string local, peer;
  };
  Result<Endpoints> TcpEndpoints() const;

 private:
  explicit PageServerClient(PGconn* conn) : conn_(conn) {}
  // PQexec, or PQexecParams with `params`; the caller PQclears the result.
  PGresult* Exec(const std::string& command, const std::vector<std::string>& params);
  Status ResultStatus(PGresult* res, const std::string& command);
  Status ConnectionError(const std::string& what);
  Status DrainResults(const std::string& command);
  PGconn* conn_;
};

// GetPage@LSN with many requests in flight on one connection.
class PageStream {
 public:
  // `exact`: the server answers only requests at an LSN some snapshot is
  // valid at (a mount's), so a snapshot that went away is an error, never
  // pages of another state.
  static Result<std::unique_ptr<PageStream>> Open(const std::string& conninfo, const std::string& timeline,
                                                  bool exact = false);

  // Sends one request per block, then reads the replies in order into
  // `out` (blocks.size() * kPageSize bytes). The first error reply fails
  // the call with the server's message (the stream stays usable).
  Status GetPages(const RelTag& rel, std::span<const uint32_t> blocks, Lsn lsn, std::span<uint8_t> out);
  // NotFound if the relation does not exist at lsn.
  Result<uint32_t> Nblocks(const RelTag& rel, Lsn lsn);
  Result<bool> Exists(const RelTag& rel, Lsn lsn);

 private:
  explicit PageStream(std::unique_ptr<PageServerClient> client) : client_(std::move(client)) {}
  Result<std::string> RoundTrip(const PageRequest& req);
  std::unique_ptr<PageServerClient> client_;
  std::string send_buf_;
};

}  // namespace zenith::pageserver
