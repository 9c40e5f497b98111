#include "common/status.h"

#include <cstring>

namespace zenith {

std::string_view StatusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return "ok";
    case StatusCode::kInvalidArgument: return "invalid argument";
    case StatusCode::kSyntax: return "syntax error";
    case StatusCode::kNotFound: return "not found";
    case StatusCode::kAlreadyExists: return "already exists";
    case StatusCode::kCorruption: return "corruption";
    case StatusCode::kIoError: return "I/O error";
    case StatusCode::kTimeout: return "timeout";
    case StatusCode::kBusy: return "busy";
    case StatusCode::kProtocol: return "protocol error";
    case StatusCode::kUnavailable: return "unavailable";
    case StatusCode::kPermissionDenied: return "permission denied";
    case StatusCode::kInternal: return "internal error";
  }
  return "unknown";
}

Status Status::WithContext(std::string_view context) const {
  if (ok()) return *this;
  Status s(code_, std::string(context) + ": " + message_);
  s.errno_ = errno_;
  return s;
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  return message_;
}

Status ErrnoStatus(std::string_view op, std::string_view path, int err) {
  std::string msg = "could not " + std::string(op) + " \"" + std::string(path) + "\": " + std::strerror(err);
  StatusCode code = StatusCode::kIoError;
  if (err == ENOENT) code = StatusCode::kNotFound;
  if (err == EEXIST) code = StatusCode::kAlreadyExists;
  Status s(code, std::move(msg));
  s.errno_ = err;
  return s;
}

Status ErrnoStatus(std::string_view op, int err) {
  Status s(StatusCode::kIoError, "could not " + std::string(op) + ": " + std::strerror(err));
  s.errno_ = err;
  return s;
}

}  // namespace zenith
