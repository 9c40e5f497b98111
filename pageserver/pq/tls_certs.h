// The repository's TLS certificates, made with OpenSSL's C API (never the
// `openssl` program): a CA of the repository's own, and the TCP endpoint's
// certificate it signs (docs/design.md §2).
//
// On disk (.zenith/, repo_layout.h): ca.key then ca.crt, server.key then
// server.crt, each written with WriteFileDurably (keys mode 0600). A
// certificate is written after its key, so a crash leaves either a complete
// pair or a key without its certificate, which the next start replaces. The
// server certificate is made again when it does not match its key, is not
// signed by ca.crt, expires within 30 days, or does not name the listen host.
//
// Keys are ECDSA P-256 and certificates signed with ecdsa-with-SHA256, so the
// channel binding `tls-server-end-point` is SHA-256 of the certificate for
// both libpq and us (RFC 5929; libpq has no rule for Ed25519 signatures).
//
// Thread-safety: the functions are reentrant; EnsureRepositoryCertificate
// runs under the repository lock (one page server at a time).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "pageserver/api/repo_layout.h"

namespace zenith::pageserver {

// A certificate and its private key, PEM.
struct PemPair {
  std::string cert, key;
};

// A new self-signed CA, valid for 10 years.
Result<PemPair> MakeCertificateAuthority(std::string_view common_name);
// A server certificate for `hosts` (DNS names or IP addresses, all in
// subjectAltName), signed by `ca`, valid for 2 years.
Result<PemPair> MakeServerCertificate(const PemPair& ca, const std::vector<std::string>& hosts);

// What a server certificate for `listen_host` names: the host itself (for
// 0.0.0.0, this machine's host name instead), localhost, 127.0.0.1 and ::1.
std::vector<std::string> ServerCertificateHosts(std::string_view listen_host);

// Makes .zenith/ca.{crt,key} if absent, and .zenith/server.{crt,key} if
// absent or not fit for `listen_host` (above). Errors name the file.
Status EnsureRepositoryCertificate(const RepoLayout& layout, std::string_view listen_host);

}  // namespace zenith::pageserver
