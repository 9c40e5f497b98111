// HandleTable: the open files (or directories) of a mount by the number the
// kernel holds (fuse_file_info::fh). The table owns them, not the kernel: a
// session that ends before the kernel's asynchronous releases arrive must not
// leak them. A number the table did not give out, or gave out and took
// back, is a bug in the kernel conversation: it aborts loudly rather than
// dereference garbage.
//
// Thread-safety: all methods are thread-safe; mu_ guards handles_ and is a
// leaf (nothing is called with it held; a released handle is destroyed
// after it is let go).
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <shared_mutex>
#include <unordered_map>

namespace zenith::fs::internal {

template <typename T>
class HandleTable {
 public:
  explicit HandleTable(const char* kind) : kind_(kind) {}

  uint64_t Adopt(std::unique_ptr<T> handle) {
    std::unique_lock lock(mu_);
    const uint64_t id = next_++;
    handles_.emplace(id, std::move(handle));
    return id;
  }

  // The handle numbered `id`. It stays valid until Release(id), which the
  // kernel sends only after every other request on it has finished.
  T& Get(uint64_t id) const {
    std::shared_lock lock(mu_);
    auto it = handles_.find(id);
    if (it == handles_.end()) Unknown(id);
    return *it->second;
  }

  void Release(uint64_t id) {
    std::unique_ptr<T> closed;  // destroyed (closed) after the lock is let go
    std::unique_lock lock(mu_);
    auto it = handles_.find(id);
    if (it == handles_.end()) Unknown(id);
    closed = std::move(it->second);
    handles_.erase(it);
  }

 private:
  [[noreturn]] void Unknown(uint64_t id) const {
    std::fprintf(stderr, "zenith-fs: the kernel used %s handle %llu, which is not open\n", kind_,
                 static_cast<unsigned long long>(id));
    std::abort();
  }

  const char* const kind_;
  mutable std::shared_mutex mu_;
  uint64_t next_ = 1;
  std::unordered_map<uint64_t, std::unique_ptr<T>> handles_;
};

}  // namespace zenith::fs::internal
