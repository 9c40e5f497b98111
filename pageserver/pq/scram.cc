#include "pageserver/pq/scram.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <algorithm>
#include <optional>

namespace zenith::pageserver {

namespace {

using Key = std::array<uint8_t, 32>;

Key Hmac(const Key& key, std::string_view data) {
  Key out{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const uint8_t*>(data.data()),
       data.size(), out.data(), &len);
  return out;
}

Key Sha256(const Key& data) {
  Key out{};
  SHA256(data.data(), data.size(), out.data());
  return out;
}

// The value of "<name>=" at the start of `attr`, or nullopt.
std::optional<std::string_view> Attribute(std::string_view attr, char name) {
  if (attr.size() < 2 || attr[0] != name || attr[1] != '=') return std::nullopt;
  return attr.substr(2);
}

// Splits at commas.
std::vector<std::string_view> Split(std::string_view s) {
  std::vector<std::string_view> parts;
  for (size_t start = 0;;) {
    size_t comma = s.find(',', start);
    parts.push_back(s.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
    if (comma == std::string_view::npos) return parts;
    start = comma + 1;
  }
}

Status Malformed(std::string_view what) {
  return ProtocolError("malformed SCRAM-SHA-256 message: " + std::string(what));
}

}  // namespace

Result<std::string> RandomBytes(size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<uint8_t*>(out.data()), static_cast<int>(n)) != 1) {
    return Internal("OpenSSL could not make random bytes");
  }
  return out;
}

std::string Base64Encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<uint8_t*>(out.data()), reinterpret_cast<const uint8_t*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::optional<std::string> Base64Decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out(3 * text.size() / 4, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<uint8_t*>(out.data()), reinterpret_cast<const uint8_t*>(text.data()),
                          static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  size_t padding = 0;
  while (padding < 2 && padding < text.size() && text[text.size() - 1 - padding] == '=') ++padding;
  out.resize(static_cast<size_t>(n) - padding);
  return out;
}

Result<ScramVerifier> ScramVerifier::FromPassword(std::string_view password, std::string salt, int iterations) {
  if (salt.empty()) {
    ZENITH_ASSIGN_OR_RETURN(salt, RandomBytes(16));
  }
  ScramVerifier v;
  v.salt = std::move(salt);
  v.iterations = iterations;
  Key salted{};
  if (PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                        reinterpret_cast<const uint8_t*>(v.salt.data()), static_cast<int>(v.salt.size()), iterations,
                        EVP_sha256(), static_cast<int>(salted.size()), salted.data()) != 1) {
    return Internal("OpenSSL could not derive the SCRAM key");
  }
  v.stored_key = Sha256(Hmac(salted, "Client Key"));
  v.server_key = Hmac(salted, "Server Key");
  OPENSSL_cleanse(salted.data(), salted.size());
  return v;
}

ScramVerifier MockScramVerifier(std::string_view user, std::string_view secret) {
  Key key{};
  const size_t n = std::min(secret.size(), key.size());
  std::copy_n(secret.begin(), n, key.begin());
  const Key salt = Hmac(key, user);
  ScramVerifier v;
  v.salt.assign(reinterpret_cast<const char*>(salt.data()), 16);
  return v;  // zero keys: no client key hashes to them
}

ScramExchange::ScramExchange(const ScramVerifier& verifier, std::string server_nonce, ScramChannel channel)
    : verifier_(verifier), server_nonce_(std::move(server_nonce)), channel_(std::move(channel)) {}

// Checks the gs2 header (see scram.h) and keeps it in gs2_header_.
Status ScramExchange::ReadGs2Header(std::string_view message) {
  const size_t flag_end = message.find(',');
  if (flag_end == std::string_view::npos || message.substr(flag_end + 1, 1) != ",") {
    return Malformed("no gs2 header (or an authorization identity, which is not supported)");
  }
  const std::string_view flag = message.substr(0, flag_end);
  gs2_header_ = std::string(message.substr(0, flag_end + 2));
  if (channel_.plus) {
    if (flag == "p=" + std::string(kTlsServerEndPoint)) return Status::Ok();
    return ProtocolError("SCRAM-SHA-256-PLUS was chosen but the client's message does not bind to tls-server-end-point");
  }
  if (flag == "n") return Status::Ok();
  if (flag == "y") {
    if (channel_.endpoint_binding.empty()) return Status::Ok();
    return ProtocolError("SCRAM channel binding negotiation error: the client supports channel binding but thinks "
                         "the page server does not (was SCRAM-SHA-256-PLUS removed from the offer?)");
  }
  if (flag.starts_with("p=")) {
    return ProtocolError("SCRAM-SHA-256 was chosen without channel binding, but the client's message asks for it");
  }
  return Malformed("gs2 header");
}

Result<std::string> ScramExchange::ClientFirst(std::string_view message) {
  if (started_) return ProtocolError("SCRAM-SHA-256: a second client-first message");
  started_ = true;
  ZENITH_RETURN_IF_ERROR(ReadGs2Header(message));
  client_first_bare_ = std::string(message.substr(gs2_header_.size()));
  auto parts = Split(client_first_bare_);
  if (parts.size() < 2 || !Attribute(parts[0], 'n') || !Attribute(parts[1], 'r')) return Malformed("client-first");
  const std::string_view client_nonce = *Attribute(parts[1], 'r');
  if (client_nonce.empty() || client_nonce.find(',') != std::string_view::npos) return Malformed("client nonce");
  if (server_nonce_.empty()) {
    ZENITH_ASSIGN_OR_RETURN(std::string raw, RandomBytes(18));
    server_nonce_ = Base64Encode(raw);
  }
  nonce_ = std::string(client_nonce) + server_nonce_;
  server_first_ = "r=" + nonce_ + ",s=" + Base64Encode(verifier_.salt) + ",i=" + std::to_string(verifier_.iterations);
  return server_first_;
}

Result<std::string> ScramExchange::ClientFinal(std::string_view message) {
  if (server_first_.empty()) return ProtocolError("SCRAM-SHA-256: client-final before client-first");
  const size_t proof_at = message.rfind(",p=");
  if (proof_at == std::string_view::npos) return Malformed("client-final has no proof");
  const std::string_view without_proof = message.substr(0, proof_at);
  auto parts = Split(without_proof);
  if (parts.size() < 2 || !Attribute(parts[0], 'c') || !Attribute(parts[1], 'r')) return Malformed("client-final");
  const std::string_view binding = *Attribute(parts[0], 'c');
  const std::string expected = Base64Encode(gs2_header_ + (channel_.plus ? channel_.endpoint_binding : ""));
  if (binding != expected) return ProtocolError("SCRAM channel binding check failed");
  if (*Attribute(parts[1], 'r') != nonce_) return ProtocolError("SCRAM-SHA-256: the nonce does not match");
  auto proof = Base64Decode(message.substr(proof_at + 3));
  if (!proof || proof->size() != 32) return Malformed("client proof");
  const std::string auth_message = client_first_bare_ + "," + server_first_ + "," + std::string(without_proof);
  const Key signature = Hmac(verifier_.stored_key, auth_message);
  Key client_key{};
  for (size_t i = 0; i < client_key.size(); ++i) client_key[i] = static_cast<uint8_t>((*proof)[i]) ^ signature[i];
  const Key stored = Sha256(client_key);
  if (CRYPTO_memcmp(stored.data(), verifier_.stored_key.data(), stored.size()) != 0) {
    return Status(StatusCode::kPermissionDenied, "password authentication failed");
  }
  const Key server_signature = Hmac(verifier_.server_key, auth_message);
  return "v=" + Base64Encode(std::string_view(reinterpret_cast<const char*>(server_signature.data()), 32));
}

}  // namespace zenith::pageserver
