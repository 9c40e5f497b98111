#include "pageserver/pq/tls_certs.h"

#include <arpa/inet.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <climits>
#include <ctime>
#include <memory>

#include <spdlog/spdlog.h>

#include "common/file_util.h"
#include "pageserver/pq/openssl_util.h"

namespace zenith::pageserver {
namespace {

constexpr long kDay = 24 * 3600;
constexpr long kCaDays = 3650;
constexpr long kServerDays = 730;
constexpr long kRenewDays = 30;  // a server certificate this close to its end is made again

bool IsIpAddress(const std::string& host) {
  unsigned char buf[16];
  return ::inet_pton(AF_INET, host.c_str(), buf) == 1 || ::inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

Result<UniqueEvpPkey> NewKey() {
  UniqueEvpPkey key(EVP_EC_gen("P-256"));
  if (!key) return OpenSslError("make a P-256 key");
  return key;
}

Result<std::string> ToPem(X509* cert) {
  UniqueBio bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) return OpenSslError("write a certificate");
  return BioText(bio.get());
}

Result<std::string> ToPem(EVP_PKEY* key) {
  UniqueBio bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return OpenSslError("write a private key");
  }
  return BioText(bio.get());
}

Status AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr) return OpenSslError("make the certificate extension " + value);
  const int added = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  if (added != 1) return OpenSslError("add the certificate extension " + value);
  return Status::Ok();
}

// A certificate for `key` named `common_name`, valid from now for `days`,
// with a random serial; signed later.
Result<UniqueX509> NewCertificate(EVP_PKEY* key, std::string_view common_name, long days) {
  UniqueX509 cert(X509_new());
  UniqueBignum serial(BN_new());
  if (!cert || !serial || X509_set_version(cert.get(), 2) != 1 || BN_rand(serial.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) == nullptr ||
      X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) == nullptr ||
      X509_gmtime_adj(X509_getm_notAfter(cert.get()), days * kDay) == nullptr ||
      X509_set_pubkey(cert.get(), key) != 1 ||
      X509_NAME_add_entry_by_txt(X509_get_subject_name(cert.get()), "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(common_name.data()),
                                 static_cast<int>(common_name.size()), -1, 0) != 1) {
    return OpenSslError("make a certificate");
  }
  return cert;
}

Result<PemPair> SignedPair(X509* cert, EVP_PKEY* key, EVP_PKEY* signer) {
  if (X509_sign(cert, signer, EVP_sha256()) == 0) return OpenSslError("sign a certificate");
  PemPair pair;
  ZENITH_ASSIGN_OR_RETURN(pair.cert, ToPem(cert));
  ZENITH_ASSIGN_OR_RETURN(pair.key, ToPem(key));
  return pair;
}

std::string SubjectAltName(const std::vector<std::string>& hosts) {
  std::string san;
  for (const std::string& host : hosts) san += (san.empty() ? "" : ",") + std::string(IsIpAddress(host) ? "IP:" : "DNS:") + host;
  return san;
}

// Why the server certificate at `layout` cannot serve `listen_host`, or "".
std::string ServerCertificateProblem(const RepoLayout& layout, std::string_view listen_host) {
  if (!PathExists(layout.server_cert()) || !PathExists(layout.server_key())) return "there is none";
  auto cert = LoadCertificate(layout.server_cert());
  auto key = LoadPrivateKey(layout.server_key());
  auto ca = LoadCertificate(layout.ca_cert());
  if (!cert.ok() || !key.ok() || !ca.ok()) return "it, its key or ca.crt does not read";
  if (X509_check_private_key(cert->get(), key->get()) != 1) return "it does not match its key";
  UniqueEvpPkey ca_key(X509_get_pubkey(ca->get()));
  if (!ca_key || X509_verify(cert->get(), ca_key.get()) != 1) return "ca.crt did not sign it";
  time_t soon = std::time(nullptr) + kRenewDays * kDay;
  if (X509_cmp_time(X509_get0_notAfter(cert->get()), &soon) <= 0) return "it expires within " + std::to_string(kRenewDays) + " days";
  for (const std::string& host : ServerCertificateHosts(listen_host)) {
    const bool named = IsIpAddress(host) ? X509_check_ip_asc(cert->get(), host.c_str(), 0) == 1
                                         : X509_check_host(cert->get(), host.data(), host.size(), 0, nullptr) == 1;
    if (!named) return "it does not name " + host;
  }
  return "";
}

Result<PemPair> LoadOrMakeCa(const RepoLayout& layout) {
  if (PathExists(layout.ca_cert())) {
    PemPair ca;
    ZENITH_ASSIGN_OR_RETURN(ca.cert, ReadFileToString(layout.ca_cert()));
    auto key = ReadFileToString(layout.ca_key());
    if (!key.ok()) {
      return NotFound("the repository CA's key " + layout.ca_key() + " is missing, so no new server certificate can be "
                      "signed; restore it, or remove " + layout.ca_cert() + " to make a new CA (clients must then trust the new one)");
    }
    ca.key = std::move(*key);
    return ca;
  }
  // A common name holds at most 64 characters: the host, not the path.
  char host[HOST_NAME_MAX + 1] = {};
  ::gethostname(host, sizeof host - 1);
  ZENITH_ASSIGN_OR_RETURN(PemPair ca, MakeCertificateAuthority("zenith repository CA on " + std::string(host).substr(0, 40)));
  ZENITH_RETURN_IF_ERROR(WriteFileDurably(layout.ca_key(), ca.key, 0600));
  ZENITH_RETURN_IF_ERROR(WriteFileDurably(layout.ca_cert(), ca.cert, 0644));
  spdlog::info("made the repository CA {}", layout.ca_cert());
  return ca;
}

}  // namespace

Result<PemPair> MakeCertificateAuthority(std::string_view common_name) {
  ZENITH_ASSIGN_OR_RETURN(UniqueEvpPkey key, NewKey());
  ZENITH_ASSIGN_OR_RETURN(UniqueX509 cert, NewCertificate(key.get(), common_name, kCaDays));
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get())) != 1) return OpenSslError("name the CA");
  ZENITH_RETURN_IF_ERROR(AddExtension(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE,pathlen:0"));
  ZENITH_RETURN_IF_ERROR(AddExtension(cert.get(), cert.get(), NID_key_usage, "critical,keyCertSign,cRLSign"));
  ZENITH_RETURN_IF_ERROR(AddExtension(cert.get(), cert.get(), NID_subject_key_identifier, "hash"));
  return SignedPair(cert.get(), key.get(), key.get());
}

Result<PemPair> MakeServerCertificate(const PemPair& ca, const std::vector<std::string>& hosts) {
  ZENITH_ASSIGN_OR_RETURN(UniqueX509 ca_cert, ParseCertificate(ca.cert));
  ZENITH_ASSIGN_OR_RETURN(UniqueEvpPkey ca_key, ParsePrivateKey(ca.key));
  ZENITH_ASSIGN_OR_RETURN(UniqueEvpPkey key, NewKey());
  ZENITH_ASSIGN_OR_RETURN(UniqueX509 cert, NewCertificate(key.get(), "zenith page server", kServerDays));
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(ca_cert.get())) != 1) return OpenSslError("name the issuer");
  ZENITH_RETURN_IF_ERROR(AddExtension(cert.get(), ca_cert.get(), NID_basic_constraints, "critical,CA:FALSE"));
  ZENITH_RETURN_IF_ERROR(AddExtension(cert.get(), ca_cert.get(), NID_key_usage, "critical,digitalSignature"));
  ZENITH_RETURN_IF_ERROR(AddExtension(cert.get(), ca_cert.get(), NID_ext_key_usage, "serverAuth"));
  ZENITH_RETURN_IF_ERROR(AddExtension(cert.get(), ca_cert.get(), NID_subject_alt_name, SubjectAltName(hosts)));
  ZENITH_RETURN_IF_ERROR(AddExtension(cert.get(), ca_cert.get(), NID_authority_key_identifier, "keyid:always"));
  return SignedPair(cert.get(), key.get(), ca_key.get());
}

std::vector<std::string> ServerCertificateHosts(std::string_view listen_host) {
  std::vector<std::string> hosts;
  if (listen_host == "0.0.0.0" || listen_host == "::") {
    char name[HOST_NAME_MAX + 1] = {};
    if (::gethostname(name, sizeof name - 1) == 0 && name[0] != '\0') hosts.emplace_back(name);
  } else if (!listen_host.empty()) {
    hosts.emplace_back(listen_host);
  }
  for (const char* local : {"localhost", "127.0.0.1", "::1"}) {
    if (std::find(hosts.begin(), hosts.end(), local) == hosts.end()) hosts.emplace_back(local);
  }
  return hosts;
}

Status EnsureRepositoryCertificate(const RepoLayout& layout, std::string_view listen_host) {
  const std::string problem = ServerCertificateProblem(layout, listen_host);
  if (problem.empty()) return Status::Ok();
  ZENITH_ASSIGN_OR_RETURN(PemPair ca, LoadOrMakeCa(layout));
  ZENITH_ASSIGN_OR_RETURN(PemPair server, MakeServerCertificate(ca, ServerCertificateHosts(listen_host)));
  ZENITH_RETURN_IF_ERROR(WriteFileDurably(layout.server_key(), server.key, 0600));
  ZENITH_RETURN_IF_ERROR(WriteFileDurably(layout.server_cert(), server.cert, 0644));
  spdlog::info("made the TLS certificate {} for {}, signed by {} (the old one: {})", layout.server_cert(), listen_host,
               layout.ca_cert(), problem);
  return Status::Ok();
}

}  // namespace zenith::pageserver
