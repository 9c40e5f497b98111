#include "pageserver/pq/openssl_util.h"

#include <openssl/err.h>
#include <openssl/pem.h>

#include "common/file_util.h"

namespace zenith::pageserver {

std::string OpenSslErrors() {
  std::string text;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    text += (text.empty() ? "" : "; ") + std::string(buf);
  }
  return text.empty() ? "unknown error" : text;
}

Status OpenSslError(std::string_view what) { return Internal("could not " + std::string(what) + ": " + OpenSslErrors()); }

std::string BioText(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return n > 0 ? std::string(data, static_cast<size_t>(n)) : std::string();
}

namespace {

UniqueBio MemoryBio(std::string_view pem) { return UniqueBio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()))); }

}  // namespace

Result<UniqueX509> ParseCertificate(std::string_view pem) {
  UniqueBio bio = MemoryBio(pem);
  UniqueX509 cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!cert) return InvalidArgument("not a PEM certificate: " + OpenSslErrors());
  return cert;
}

Result<UniqueEvpPkey> ParsePrivateKey(std::string_view pem) {
  UniqueBio bio = MemoryBio(pem);
  UniqueEvpPkey key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!key) return InvalidArgument("not a PEM private key: " + OpenSslErrors());
  return key;
}

Result<UniqueX509> LoadCertificate(const std::string& path) {
  ZENITH_ASSIGN_OR_RETURN(std::string pem, ReadFileToString(path));
  auto cert = ParseCertificate(pem);
  if (!cert.ok()) return cert.status().WithContext("\"" + path + "\"");
  return cert;
}

Result<UniqueEvpPkey> LoadPrivateKey(const std::string& path) {
  ZENITH_ASSIGN_OR_RETURN(std::string pem, ReadFileToString(path));
  auto key = ParsePrivateKey(pem);
  if (!key.ok()) return key.status().WithContext("\"" + path + "\"");
  return key;
}

}  // namespace zenith::pageserver
