// The interface between the page server's wire protocol and its commands.
//
// A command is one line of text, `name arg1 arg2 ...` (whitespace-separated,
// an optional trailing `;`, case-sensitive name), sent by a client as a simple
// query (`psql -c "status"`) or through the extended protocol (libpq's
// PQexecParams / PQprepare), where a token that is exactly `$n` is replaced by
// the text of parameter n, as one argument even if it contains spaces.
// The server looks the name up in one CommandTable and calls the handler with
// a CommandContext through which the handler replies exactly once: rows, a
// completion tag, or a COPY stream.
//
// Errors: a handler returns a Status; an error becomes an ErrorResponse whose
// SQLSTATE is mapped from the StatusCode (pq::SqlStateFor in pq_message.h),
// and the connection stays usable. Handlers must not throw; an exception that
// escapes anyway is reported as an internal error, never a crash.
//
// Thread-safety: a CommandTable is filled before the server starts and only
// read afterwards (Find and Names from many connection threads at once).
// Handlers run concurrently on different connections' threads and must guard
// any state they share. A CommandContext and its Session belong to the one
// thread running the handler.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "pageserver/pq/role.h"

namespace zenith::pageserver {

// One client connection, as its commands see it.
class Session {
 public:
  virtual ~Session() = default;

  // The startup packet's parameters: user, database, application_name, ...
  virtual const std::map<std::string, std::string>& startup_params() const = 0;
  // Unique within the server process (its low 32 bits are the BackendKeyData
  // process id the client sees).
  virtual uint64_t id() const = 0;
  // The client is on this machine, running as the repository's owner (it
  // came over the Unix socket, which serves nobody else): it may be told
  // the repository's file paths, and may open them.
  virtual bool local() const = 0;
  // What the client may do (role.h): its TCP user's role once it has
  // authenticated; the owner's for a client of the Unix socket.
  virtual Role role() const = 0;
  // Runs `hook` once when the connection ends, however it ends: Terminate, an
  // abrupt close, a protocol error, or the server stopping. Hooks run on the
  // connection's thread, newest first, before the socket is closed, so a client
  // that sees the close also sees what the hooks released (leases such as
  // "this mount holds timeline X").
  virtual void OnClose(std::function<void()> hook) = 0;
};

// One executed command. Valid only during the handler call; the handler must
// not keep it (or its Session pointer) past its return.
class CommandContext {
 public:
  using Row = std::vector<std::optional<std::string>>;  // nullopt = SQL NULL

  virtual ~CommandContext() = default;

  // The tokens after the command name, with $n already substituted; as many
  // as the spec's usage allows (CommandTable checks before the handler runs).
  virtual const std::vector<std::string>& args() const = 0;
  // The spec's usage line, for a handler's own syntax errors (UsageError).
  virtual const std::string& usage() const = 0;
  virtual Session& session() = 0;

  // Exactly one way of replying per command; a second reply, or a reply that
  // does not fit the CommandSpec, returns kInternal and sends nothing.
  // A handler that returns OK without replying gets CommandComplete with the
  // command's name as its tag.
  //
  // Rows whose size equals the spec's column count (all text). The tag is
  // `SELECT <n>`.
  virtual Status SendRows(const std::vector<Row>& rows) = 0;
  // CommandComplete only, with `tag` (e.g. "BRANCH").
  virtual Status SendOk(std::string_view tag) = 0;
  // Enter a COPY sub-protocol (binary, no columns). After StartCopy*, returning
  // OK from the handler ends the copy properly (CopyDone where the server owes
  // one, then CommandComplete `COPY <CopyData count>`); returning an error sends
  // ErrorResponse instead, and the client's further CopyData/CopyDone/CopyFail
  // are dropped.
  virtual Status StartCopyOut() = 0;
  virtual Status StartCopyIn() = 0;
  virtual Status StartCopyBoth() = 0;
  // One CopyData message (CopyOut / CopyBoth). Buffered; large output is
  // flushed as it grows. Errors: kInternal in the wrong mode, the socket's
  // error when the client is gone.
  Status CopyData(std::span<const uint8_t> data) { return CopyData({data}); }
  // One CopyData message of the parts one after another, copied once, into
  // the output buffer (a page reply's header and its page).
  virtual Status CopyData(std::initializer_list<std::span<const uint8_t>> parts) = 0;
  // The next CopyData from the client (CopyIn / CopyBoth); nullopt at CopyDone
  // (and on every call after it). CopyFail, a broken connection or a message
  // that does not belong in COPY is an error Status (and stays one). Flushes
  // pending output before blocking on the socket, so pipelined requests are
  // answered in batches.
  virtual Result<std::optional<std::string>> ReadCopyData() = 0;
  // Sends everything buffered now.
  virtual Status Flush() = 0;
};

using CommandHandler = std::function<Status(CommandContext&)>;

struct CommandSpec {
  std::string name;  // no whitespace, no ';'
  // The name and its arguments, written once: shown in errors and help, and
  // the arguments a command takes are counted from it: `<x>` and any other
  // word is one required argument, `[...]` one optional, and a last word
  // ending in `...` (or `...]`) any number more. "basebackup <branch|timeline> [<lsn>] [pin]"
  // takes 1 to 3.
  std::string usage;
  std::vector<std::string> columns;  // result columns (text); empty = no rows
  CommandHandler handler;
};

// A malformed command line or query: kSyntax, which the wire protocol reports
// as SQLSTATE 42601 (a bad value is kInvalidArgument, 22023).
inline Status SyntaxError(std::string message) { return Status(StatusCode::kSyntax, "syntax error: " + message); }
// The syntax error of a command line that does not fit `usage`.
inline Status UsageError(std::string_view usage) { return SyntaxError("usage: " + std::string(usage)); }

// How many arguments `usage` (CommandSpec) allows.
struct ArgCount {
  size_t min = 0;
  size_t max = 0;  // SIZE_MAX: no limit
};
ArgCount ArgCountOf(std::string_view usage);

// The one table that maps command names to handlers.
class CommandTable {
 public:
  // REQUIRES: spec.name is non-empty, has no whitespace or ';', is not in the
  // table yet, spec.usage starts with the name, and spec.handler is set. A
  // violation is a programming error and aborts with a message. The handler
  // runs only with as many arguments as the usage allows; other counts get
  // UsageError.
  void Add(CommandSpec spec);
  // The command named `name`, or nullptr. The pointer stays valid as long as
  // the table lives.
  const CommandSpec* Find(std::string_view name) const {
    auto it = specs_.find(name);
    return it == specs_.end() ? nullptr : &it->second;
  }
  // All names, sorted.
  std::vector<std::string> Names() const {
    std::vector<std::string> names;
    for (const auto& [name, spec] : specs_) names.push_back(name);
    return names;
  }

 private:
  std::map<std::string, CommandSpec, std::less<>> specs_;
};

}  // namespace zenith::pageserver
