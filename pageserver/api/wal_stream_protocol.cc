#include "pageserver/api/wal_stream_protocol.h"

#include "common/byte_io.h"

namespace zenith::pageserver {

namespace {
constexpr char kPosition = 'P';
constexpr char kChunk = 'W';
constexpr size_t kHeader = 1 + 8;
}  // namespace

void AppendWalPosition(std::string* out, Lsn lsn) {
  ByteWriter w(out);
  w.U8(kPosition);
  w.U64(lsn.value);
}

Result<Lsn> DecodeWalPosition(std::span<const uint8_t> msg) {
  if (msg.size() != kHeader || msg[0] != kPosition) {
    return ProtocolError("expected a WAL position (9 bytes, 'P'), got " + std::to_string(msg.size()) + " bytes");
  }
  return Lsn(LoadU64(msg, 1));
}

void AppendWalChunk(std::string* out, Lsn at, std::span<const uint8_t> bytes) {
  ByteWriter w(out);
  w.U8(kChunk);
  w.U64(at.value);
  w.Bytes(bytes);
}

Result<WalChunk> DecodeWalChunk(std::span<const uint8_t> msg) {
  if (msg.size() < kHeader || msg[0] != kChunk) return ProtocolError("expected a WAL chunk ('W', LSN, bytes)");
  if (msg.size() - kHeader > kMaxWalChunkBytes) {
    return ProtocolError("a WAL chunk of " + std::to_string(msg.size() - kHeader) + " bytes is larger than " +
                         std::to_string(kMaxWalChunkBytes));
  }
  return WalChunk{Lsn(LoadU64(msg, 1)), msg.subspan(kHeader)};
}

}  // namespace zenith::pageserver
