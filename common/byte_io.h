// Reading and writing fixed-width integers at byte offsets, for decoders of
// PostgreSQL's formats (host byte order, like PostgreSQL; the wire
// protocol's in network order, LoadBe32) and for zenith's own wire and file
// formats (little-endian, fixed).
//
// The Load* functions REQUIRE offset + width <= the buffer's size; decoders
// check lengths first and return a Status, never read past the end.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>

namespace zenith {

template <typename T>
inline T LoadAt(std::span<const uint8_t> buf, size_t offset) {
  T v;
  std::memcpy(&v, buf.data() + offset, sizeof v);
  return v;
}
inline uint8_t LoadU8(std::span<const uint8_t> b, size_t off) { return b[off]; }
inline uint16_t LoadU16(std::span<const uint8_t> b, size_t off) { return LoadAt<uint16_t>(b, off); }
inline uint32_t LoadU32(std::span<const uint8_t> b, size_t off) { return LoadAt<uint32_t>(b, off); }
inline uint64_t LoadU64(std::span<const uint8_t> b, size_t off) { return LoadAt<uint64_t>(b, off); }

// Network byte order: the integers of the PostgreSQL wire protocol.
inline uint32_t LoadBe32(std::span<const uint8_t> b, size_t off) {
  return (uint32_t{b[off]} << 24) | (uint32_t{b[off + 1]} << 16) | (uint32_t{b[off + 2]} << 8) | b[off + 3];
}

// "0x4A": a byte in hex, for messages (a protocol message's type).
inline std::string HexByte(uint8_t v) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  return {'0', 'x', kDigits[v >> 4], kDigits[v & 15]};
}

template <typename T>
inline void StoreAt(std::span<uint8_t> buf, size_t offset, T v) {
  std::memcpy(buf.data() + offset, &v, sizeof v);
}

inline std::span<const uint8_t> AsBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}
inline std::string_view AsStringView(std::span<const uint8_t> b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

// Appends integers to a byte string in little-endian order (zenith's own
// formats are little-endian whatever the host; we only build on x86-64 and
// arm64, both little-endian, so this is a plain copy).
class ByteWriter {
 public:
  explicit ByteWriter(std::string* out) : out_(out) {}
  void U8(uint8_t v) { out_->push_back(static_cast<char>(v)); }
  void U16(uint16_t v) { Raw(&v, sizeof v); }
  void U32(uint32_t v) { Raw(&v, sizeof v); }
  void U64(uint64_t v) { Raw(&v, sizeof v); }
  void Bytes(std::string_view s) { out_->append(s); }
  void Bytes(std::span<const uint8_t> s) { out_->append(reinterpret_cast<const char*>(s.data()), s.size()); }
  // A u32 length followed by the bytes.
  void String(std::string_view s) {
    U32(static_cast<uint32_t>(s.size()));
    Bytes(s);
  }

 private:
  void Raw(const void* p, size_t n) { out_->append(static_cast<const char*>(p), n); }
  std::string* out_;
};

// Reads integers from a byte span; every read is bounds-checked and a short
// buffer sets a sticky failure instead of reading past the end.
class ByteReader {
 public:
  explicit ByteReader(std::span<const uint8_t> in) : in_(in) {}
  bool ok() const { return ok_; }
  size_t remaining() const { return in_.size() - pos_; }
  uint8_t U8() { return Take<uint8_t>(); }
  uint16_t U16() { return Take<uint16_t>(); }
  uint32_t U32() { return Take<uint32_t>(); }
  uint64_t U64() { return Take<uint64_t>(); }
  // The next n bytes (empty span and failure if fewer remain).
  std::span<const uint8_t> Bytes(size_t n) {
    if (!ok_ || remaining() < n) {
      ok_ = false;
      return {};
    }
    auto s = in_.subspan(pos_, n);
    pos_ += n;
    return s;
  }
  // A u32 length then that many bytes, at most max_len.
  std::string String(size_t max_len) {
    uint32_t n = U32();
    if (!ok_ || n > max_len) {
      ok_ = false;
      return {};
    }
    return std::string(AsStringView(Bytes(n)));
  }

 private:
  template <typename T>
  T Take() {
    if (!ok_ || remaining() < sizeof(T)) {
      ok_ = false;
      return T{};
    }
    T v = LoadAt<T>(in_, pos_);
    pos_ += sizeof(T);
    return v;
  }
  std::span<const uint8_t> in_;
  size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace zenith
