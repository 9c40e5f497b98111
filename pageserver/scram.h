// SCRAM-SHA-256 (RFC 5802, RFC 7677), the server's side, as PostgreSQL
// does it: how every TCP connection to the page server authenticates. libpq
// is the client; OpenSSL gives PBKDF2, HMAC, SHA-256 and random bytes.
//
// The exchange (inside the v3 protocol's SASL messages):
//   client-first  "n,,n=<ignored>,r=<client nonce>"   (no channel binding)
//   server-first  "r=<client nonce><server nonce>,s=<salt>,i=<iterations>"
//   client-final  "c=biws,r=<nonce>,p=<client proof>"
//   server-final  "v=<server signature>"
// The user name is the startup packet's, as in PostgreSQL.
//
// Thread-safety: a ScramVerifier is immutable; one ScramExchange per
// connection, on its thread.
#pragma once

#include <array>
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

// The verifier of a user who does not exist, as PostgreSQL's mock
// authentication: its salt is derived from `user` and `secret`, so every
// attempt as that user sees the same salt, as with a real user, and no proof
// matches its keys. The exchange then fails like a wrong password's: a
// client cannot tell which users exist.
ScramVerifier MockScramVerifier(std::string_view user, std::string_view secret);

class ScramExchange {
 public:
  // `server_nonce` empty: 18 random bytes, base64 (tests pass RFC 7677's).
  ScramExchange(const ScramVerifier& verifier, std::string server_nonce = "");

  // The client's first message; the server's first. kProtocol for a
  // malformed message or channel binding asked for.
  Result<std::string> ClientFirst(std::string_view message);
  // The client's final message; the server's final one. kPermissionDenied
  // when the proof is wrong (the password is), kProtocol when malformed.
  Result<std::string> ClientFinal(std::string_view message);

 private:
  const ScramVerifier& verifier_;
  std::string server_nonce_;
  std::string client_first_bare_, server_first_, nonce_;
  bool started_ = false;
};

// Base64 (RFC 4648, with padding); Decode returns nullopt for bad input.
std::string Base64Encode(std::string_view bytes);
std::optional<std::string> Base64Decode(std::string_view text);

}  // namespace zenith::pageserver
