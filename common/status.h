// Status and Result<T>: how every fallible call in zenith reports failure.
//
// No exception crosses a module boundary. A function that can fail returns a
// [[nodiscard]] Status, or a Result<T> that holds either a value or a Status.
// Ignoring an error must be explicit: `IgnoreError(status)` is greppable.
//
// Thread-safety: plain values; safe to copy between threads.
#pragma once

#include <cerrno>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace zenith {

// The kind of failure. Protocol layers map codes to SQLSTATEs and FUSE maps
// them to errno, each in one place.
enum class StatusCode {
  kOk = 0,
  kInvalidArgument,   // the caller asked for something malformed
  kSyntax,            // a request that is not well-formed: a command line, a query
  kNotFound,          // a named thing does not exist
  kAlreadyExists,     // a named thing exists already
  kCorruption,        // stored or received bytes fail validation
  kIoError,           // a system call failed; the message names op and path
  kTimeout,           // waited the allowed time, gave up
  kBusy,              // held by someone else (a lock, a mount)
  kProtocol,          // a peer broke the wire protocol
  kUnavailable,       // a service cannot be reached
  kPermissionDenied,  // the caller is not allowed: a wrong password, another user
  kInternal,          // a bug: an invariant did not hold
};

std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }
  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  // The human-readable reason, without a code prefix. Empty when ok().
  const std::string& message() const { return message_; }
  // Saved errno for kIoError statuses made by ErrnoStatus(); 0 otherwise.
  int sys_errno() const { return errno_; }

  // Returns a copy whose message is prefixed with `context: `.
  Status WithContext(std::string_view context) const;

  std::string ToString() const;

 private:
  friend Status ErrnoStatus(std::string_view op, std::string_view path, int err);
  friend Status ErrnoStatus(std::string_view op, int err);
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
  int errno_ = 0;
};

inline Status InvalidArgument(std::string msg) { return {StatusCode::kInvalidArgument, std::move(msg)}; }
inline Status NotFound(std::string msg) { return {StatusCode::kNotFound, std::move(msg)}; }
inline Status AlreadyExists(std::string msg) { return {StatusCode::kAlreadyExists, std::move(msg)}; }
inline Status Corruption(std::string msg) { return {StatusCode::kCorruption, std::move(msg)}; }
inline Status IoError(std::string msg) { return {StatusCode::kIoError, std::move(msg)}; }
inline Status Timeout(std::string msg) { return {StatusCode::kTimeout, std::move(msg)}; }
inline Status Busy(std::string msg) { return {StatusCode::kBusy, std::move(msg)}; }
inline Status ProtocolError(std::string msg) { return {StatusCode::kProtocol, std::move(msg)}; }
inline Status Unavailable(std::string msg) { return {StatusCode::kUnavailable, std::move(msg)}; }
inline Status Internal(std::string msg) { return {StatusCode::kInternal, std::move(msg)}; }
inline Status PermissionDenied(std::string msg) { return {StatusCode::kPermissionDenied, std::move(msg)}; }

// The one place errno becomes an error: keeps the operation and the path,
// e.g. `could not open "base/5/16384": No such file or directory`.
// Pass the errno saved right after the failing call.
Status ErrnoStatus(std::string_view op, std::string_view path, int err);
// Same, for an operation with no path ("could not create socket: ...").
Status ErrnoStatus(std::string_view op, int err);

// Explicitly drop an error (e.g. cleanup on an already-failing path).
inline void IgnoreError(const Status&) {}

// A value or the Status saying why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT
    if (std::get<Status>(v_).ok()) v_ = Status(StatusCode::kInternal, "Result built from an OK status");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  // REQUIRES: ok()
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  // By value: `for (x : F().value())` must not dangle.
  T value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  // The error; an OK status when ok().
  Status status() const { return ok() ? Status::Ok() : std::get<Status>(v_); }
  // The value, or `fallback` when there is an error (dropping it).
  T value_or(T fallback) const& { return ok() ? value() : std::move(fallback); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace zenith

// Propagate a failed Status from an expression returning Status.
#define ZENITH_RETURN_IF_ERROR(expr)              \
  do {                                            \
    ::zenith::Status zenith_status_ = (expr);     \
    if (!zenith_status_.ok()) return zenith_status_; \
  } while (0)

#define ZENITH_CONCAT_INNER(a, b) a##b
#define ZENITH_CONCAT(a, b) ZENITH_CONCAT_INNER(a, b)
// `ZENITH_ASSIGN_OR_RETURN(auto x, MakeX());` binds the value or returns the error.
#define ZENITH_ASSIGN_OR_RETURN(lhs, expr) \
  ZENITH_ASSIGN_OR_RETURN_IMPL(ZENITH_CONCAT(zenith_result_, __LINE__), lhs, expr)
#define ZENITH_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.ok()) return tmp.status();                \
  lhs = std::move(tmp).value()
