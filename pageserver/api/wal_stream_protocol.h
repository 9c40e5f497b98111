// The WAL stream of a remote mount (docs/design.md §8, "Remote mounts"):
// the messages inside `put_wal`'s CopyBoth, shared by the page server
// (pageserver/repo/wal_receiver.h) and the mount daemon that forwards its
// PostgreSQL's WAL (fs/wal_forwarder.h). No I/O here.
//
//   wal_token <timeline>         On the connection holding the timeline's
//                                read-write lease: one row, a secret that
//                                lets another connection of the same mount
//                                write the timeline's WAL while this lease
//                                lasts (a new one voids the previous).
//   put_wal <timeline> <token>   CopyBoth. The server first sends a
//                                position: where the stream must start (the
//                                timeline's end of WAL). The client sends
//                                chunks, each where the previous ended; the
//                                server writes each durably and answers with
//                                a position: the end of what is durable.
//
// A position is 'P' then the LSN; a chunk is 'W', its LSN, then the WAL
// bytes. Integers little-endian.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "common/lsn.h"
#include "common/status.h"

namespace zenith::pageserver {

// Chunks larger than this are refused (the forwarder sends less).
inline constexpr size_t kMaxWalChunkBytes = 8 << 20;

void AppendWalPosition(std::string* out, Lsn lsn);
Result<Lsn> DecodeWalPosition(std::span<const uint8_t> msg);

struct WalChunk {
  Lsn at;
  std::span<const uint8_t> bytes;  // points into the message
};
void AppendWalChunk(std::string* out, Lsn at, std::span<const uint8_t> bytes);
Result<WalChunk> DecodeWalChunk(std::span<const uint8_t> msg);

}  // namespace zenith::pageserver
