// CRC-32C (Castagnoli), as PostgreSQL computes it for pg_control and WAL
// records (INIT_CRC32C / COMP_CRC32C / FIN_CRC32C), and as zenith uses it
// for its own layer files. Computed by ISA-L (libisal), which picks the
// fastest code for the CPU at run time.
//
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace zenith {

class Crc32c {
 public:
  // Continues the running CRC over `data`.
  void Update(const void* data, size_t len);
  void Update(std::span<const uint8_t> data) { Update(data.data(), data.size()); }
  // The finished value (FIN_CRC32C); the object may keep being updated.
  uint32_t Finish() const { return state_ ^ 0xFFFFFFFFu; }

 private:
  uint32_t state_ = 0xFFFFFFFFu;  // INIT_CRC32C
};

// One-shot CRC-32C of a buffer.
uint32_t ComputeCrc32c(const void* data, size_t len);
inline uint32_t ComputeCrc32c(std::span<const uint8_t> data) { return ComputeCrc32c(data.data(), data.size()); }

}  // namespace zenith
