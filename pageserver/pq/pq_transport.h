// The byte stream under one page server connection: a socket in plain text,
// or the same socket in TLS (OpenSSL) once the client's SSLRequest was
// answered 'S'. PqSocket (pq_connection.h) does its buffering, deadlines and
// waits on top, the same for both.
//
// Thread-safety: a TlsServerContext is immutable after Load and shared by
// every connection (SSL_CTX is thread-safe for creating sessions); a
// PqTransport belongs to its connection's thread.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

#include "common/status.h"
#include "common/unique_fd.h"
#include "pageserver/pq/openssl_util.h"

namespace zenith::pageserver {

// The TCP endpoint's TLS settings: its certificate and key, TLS 1.2 or
// later, no renegotiation, no session resumption.
class TlsServerContext {
 public:
  // Errors name the file that does not read or the pair that does not match.
  static Result<std::shared_ptr<const TlsServerContext>> Load(const std::string& cert_file, const std::string& key_file);

  SSL_CTX* get() const { return ctx_.get(); }
  // The channel binding `tls-server-end-point` (RFC 5929) of the
  // certificate: its hash with the hash of its signature algorithm (SHA-256
  // for MD5 and SHA-1), as PostgreSQL computes it. Empty when the signature
  // algorithm has no such hash (e.g. Ed25519): then SCRAM-SHA-256-PLUS is
  // not offered.
  const std::string& endpoint_binding() const { return endpoint_binding_; }

 private:
  TlsServerContext(UniqueSslCtx ctx, std::string binding) : ctx_(std::move(ctx)), endpoint_binding_(std::move(binding)) {}
  UniqueSslCtx ctx_;
  std::string endpoint_binding_;
};

// tls-server-end-point data of `cert` (see endpoint_binding()); NotFound
// when its signature algorithm names no hash.
Result<std::string> CertificateEndpointBinding(X509* cert);

class PqTransport {
 public:
  // What one Recv, Send or Handshake did.
  struct Io {
    enum State { kDone, kWait, kEof, kError } state = kDone;
    size_t bytes = 0;   // kDone: moved (Recv/Send)
    short events = 0;   // kWait: poll() for these, then call again
    Status error;       // kError
  };

  // REQUIRES: fd is a non-blocking stream socket.
  explicit PqTransport(UniqueFd fd) : fd_(std::move(fd)) {}
  PqTransport(const PqTransport&) = delete;
  PqTransport& operator=(const PqTransport&) = delete;
  ~PqTransport();  // a TLS session sends its close_notify, best effort

  // From now on every byte goes through TLS as the server. Call Handshake
  // until it is kDone. Blocks SIGPIPE in the calling thread (OpenSSL's
  // writes cannot ask for MSG_NOSIGNAL). REQUIRES: not in TLS already;
  // `context` outlives this; called on the thread that uses the transport.
  Status StartTls(const TlsServerContext& context);
  Io Handshake();
  bool tls() const { return ssl_ != nullptr; }
  // "TLSv1.3 TLS_AES_256_GCM_SHA384" once the handshake is done.
  std::string Describe() const;

  Io Recv(char* buf, size_t n);
  Io Send(const char* buf, size_t n);
  int fd() const { return fd_.get(); }

 private:
  Io TlsResult(int ret, size_t bytes, const char* what);

  UniqueFd fd_;
  UniqueSsl ssl_;
  bool tls_failed_ = false;  // no close_notify after a fatal error
};

}  // namespace zenith::pageserver
