// SCRAM-SHA-256 (RFC 5802, RFC 7677), the server's side, as PostgreSQL
// does it: how every TCP connection to the page server authenticates. libpq
// is the client; OpenSSL gives PBKDF2, HMAC, SHA-256 and random bytes.
//
// The exchange (inside the v3 protocol's SASL messages):
//   client-first  "<gs2 header>n=<ignored>,r=<client nonce>"
//   server-first  "r=<client nonce><server nonce>,s=<salt>,i=<iterations>"
//   client-final  "c=<base64(gs2 header + binding data)>,r=<nonce>,p=<client proof>"
//   server-final  "v=<server signature>"
// The user name is the startup packet's, as in PostgreSQL.
//
// Channel binding (RFC 5802 §6, RFC 5929): over TLS the server offers
// SCRAM-SHA-256-PLUS too, with binding `tls-server-end-point` (a hash of the
// server's certificate). The gs2 header says what the client does:
//   "p=tls-server-end-point,,"  binds (SCRAM-SHA-256-PLUS only); c= must
//                               carry our certificate's hash, so a proof
//                               relayed through another TLS server fails
//   "y,,"  the client could bind but thinks we cannot: refused when we
//          offered binding (someone stripped -PLUS from our offer)
//   "n,,"  the client cannot bind
//
// Thread-safety: a ScramVerifier is immutable; one ScramExchange per
// connection, on its thread.
#pragma once

#include <array>
#include <string_view>
#include <optional>
#include <vector>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace zenith::pageserver {

// What the server keeps of a password: never the password itself.
struct ScramVerifier {
  std::string salt;  // raw bytes
  int iterations = 4096;
  std::array<uint8_t, 32> stored_key{}, server_key{};

  // `salt` empty: 16 random bytes.
  static Result<ScramVerifier> FromPassword(std::string_view password, std::string salt = "", int iterations = 4096);
};

// `n` bytes from OpenSSL's random generator (salts, nonces, passwords).
Result<std::string> RandomBytes(size_t n);

// The verifier of a user who does not exist, as PostgreSQL's mock
// authentication: its salt is derived from `user` and `secret`, so every
// attempt as that user sees the same salt, as with a real user, and no proof
// matches its keys. The exchange then fails like a wrong password's: a
// client cannot tell which users exist.
ScramVerifier MockScramVerifier(std::string_view user, std::string_view secret);

inline constexpr std::string_view kScramSha256 = "SCRAM-SHA-256";
inline constexpr std::string_view kScramSha256Plus = "SCRAM-SHA-256-PLUS";
inline constexpr std::string_view kTlsServerEndPoint = "tls-server-end-point";

// The channel a SCRAM exchange runs on.
struct ScramChannel {
  // The tls-server-end-point data of this TLS session; empty: no binding
  // offered (no TLS, or a certificate without a binding hash).
  std::string endpoint_binding;
  // The client chose SCRAM-SHA-256-PLUS. REQUIRES: endpoint_binding set.
  bool plus = false;
};

class ScramExchange {
 public:
  // `server_nonce` empty: 18 random bytes, base64 (tests pass RFC 7677's).
  explicit ScramExchange(const ScramVerifier& verifier, std::string server_nonce = "", ScramChannel channel = {});

  // The client's first message; the server's first. kProtocol for a
  // malformed message or a gs2 header that does not fit the channel (above).
  Result<std::string> ClientFirst(std::string_view message);
  // The client's final message; the server's final one. kPermissionDenied
  // when the proof is wrong (the password is), kProtocol when malformed or
  // when the channel binding data is not this channel's.
  Result<std::string> ClientFinal(std::string_view message);

 private:
  Status ReadGs2Header(std::string_view message);

  const ScramVerifier& verifier_;
  std::string server_nonce_;
  ScramChannel channel_;
  std::string gs2_header_;  // "n,,", "y,," or "p=tls-server-end-point,,"
  std::string client_first_bare_, server_first_, nonce_;
  bool started_ = false;
};

// Base64 (RFC 4648, with padding); Decode returns nullopt for bad input.
std::string Base64Encode(std::string_view bytes);
std::optional<std::string> Base64Decode(std::string_view text);

}  // namespace zenith::pageserver
