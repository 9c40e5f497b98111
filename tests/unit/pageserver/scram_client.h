// The client's side of SCRAM-SHA-256 for tests: the proof libpq would send,
// so a test can build a client-final message with any channel binding data.
#pragma once

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <array>
#include <string>
#include <string_view>

#include "pageserver/pq/scram.h"

namespace zenith::pageserver::testing {

// "c=<base64(cbind_input)>,r=<nonce>,p=<proof>" for `password`, answering
// `server_first` ("r=...,s=...,i=...") after `client_first_bare`.
inline std::string ScramClientFinal(std::string_view password, std::string_view client_first_bare,
                                    std::string_view server_first, std::string_view cbind_input) {
  auto attr = [&](char name) {
    const std::string key = std::string(1, name) + "=";
    size_t at = server_first.starts_with(key) ? 0 : server_first.find("," + key);
    if (at == std::string_view::npos) return std::string();
    at += at == 0 ? 2 : 3;
    const size_t end = server_first.find(',', at);
    return std::string(server_first.substr(at, end == std::string_view::npos ? std::string_view::npos : end - at));
  };
  const std::string nonce = attr('r'), salt = Base64Decode(attr('s')).value_or("");
  const int iterations = std::stoi(attr('i'));
  std::array<uint8_t, 32> salted{}, client_key{}, stored{}, signature{};
  PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()), reinterpret_cast<const uint8_t*>(salt.data()),
                    static_cast<int>(salt.size()), iterations, EVP_sha256(), 32, salted.data());
  unsigned int len = 0;
  HMAC(EVP_sha256(), salted.data(), 32, reinterpret_cast<const uint8_t*>("Client Key"), 10, client_key.data(), &len);
  SHA256(client_key.data(), 32, stored.data());
  const std::string without_proof = "c=" + Base64Encode(cbind_input) + ",r=" + nonce;
  const std::string auth = std::string(client_first_bare) + "," + std::string(server_first) + "," + without_proof;
  HMAC(EVP_sha256(), stored.data(), 32, reinterpret_cast<const uint8_t*>(auth.data()), auth.size(), signature.data(), &len);
  std::string proof(32, '\0');
  for (size_t i = 0; i < 32; ++i) proof[i] = static_cast<char>(client_key[i] ^ signature[i]);
  return without_proof + ",p=" + Base64Encode(proof);
}

}  // namespace zenith::pageserver::testing
