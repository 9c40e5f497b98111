// Owners for OpenSSL objects, PEM reading, and OpenSSL's error queue as a
// Status: what tls_certs.cc and pq_transport.cc share.
//
// Thread-safety: reentrant (OpenSSL's error queue is per thread).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "common/status.h"

namespace zenith::pageserver {

template <class T, void (*Free)(T*)>
struct OpenSslDeleter {
  void operator()(T* p) const { Free(p); }
};
using UniqueEvpPkey = std::unique_ptr<EVP_PKEY, OpenSslDeleter<EVP_PKEY, EVP_PKEY_free>>;
using UniqueX509 = std::unique_ptr<X509, OpenSslDeleter<X509, X509_free>>;
using UniqueBignum = std::unique_ptr<BIGNUM, OpenSslDeleter<BIGNUM, BN_free>>;
using UniqueSslCtx = std::unique_ptr<SSL_CTX, OpenSslDeleter<SSL_CTX, SSL_CTX_free>>;
using UniqueSsl = std::unique_ptr<SSL, OpenSslDeleter<SSL, SSL_free>>;
struct BioDeleter {
  void operator()(BIO* b) const { BIO_free_all(b); }
};
using UniqueBio = std::unique_ptr<BIO, BioDeleter>;

// "could not <what>: <OpenSSL's first queued error>"; clears the queue.
Status OpenSslError(std::string_view what);
// OpenSSL's queued errors as text (or "unknown error"); clears the queue.
std::string OpenSslErrors();

// The bytes written to a memory BIO.
std::string BioText(BIO* bio);

Result<UniqueX509> ParseCertificate(std::string_view pem);
Result<UniqueEvpPkey> ParsePrivateKey(std::string_view pem);
// The same from files; errors name the file.
Result<UniqueX509> LoadCertificate(const std::string& path);
Result<UniqueEvpPkey> LoadPrivateKey(const std::string& path);

}  // namespace zenith::pageserver
