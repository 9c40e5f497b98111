// The boundary where exceptions stop: zenith's code returns errors as
// values, but the standard library may still throw (std::bad_alloc, a bug
// reaching .at()). Code that C calls into (FUSE handlers) and the loops of
// daemon threads run their work through CatchAll, so that an exception
// becomes a logged Internal error there, never an unwind into libfuse or a
// std::terminate of the whole daemon.
//
// Thread-safety: reentrant.
#pragma once

#include <exception>
#include <string>

#include <spdlog/spdlog.h>

#include "common/status.h"

namespace zenith {

// Runs fn() (returning Status or void) and returns its status; an
// exception is logged, naming `where`, and returned as kInternal.
template <typename Fn>
Status CatchAll(const char* where, Fn&& fn) noexcept {
  try {
    if constexpr (std::is_void_v<decltype(fn())>) {
      fn();
      return Status::Ok();
    } else {
      return fn();
    }
  } catch (const std::exception& e) {
    spdlog::error("{}: unexpected exception: {}", where, e.what());
    return Internal(std::string(where) + ": unexpected exception: " + e.what());
  } catch (...) {
    spdlog::error("{}: unexpected exception", where);
    return Internal(std::string(where) + ": unexpected exception");
  }
}

}  // namespace zenith
