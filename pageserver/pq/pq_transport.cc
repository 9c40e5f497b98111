#include "pageserver/pq/pq_transport.h"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>

#include <cerrno>

#include <openssl/err.h>
#include <openssl/objects.h>

namespace zenith::pageserver {

Result<std::string> CertificateEndpointBinding(X509* cert) {
  int digest_nid = NID_undef;
  if (OBJ_find_sigid_algs(X509_get_signature_nid(cert), &digest_nid, nullptr) != 1) {
    return NotFound("the certificate's signature algorithm is unknown");
  }
  const EVP_MD* md = nullptr;
  if (digest_nid == NID_md5 || digest_nid == NID_sha1) {
    md = EVP_sha256();  // RFC 5929 §4.1
  } else if (digest_nid != NID_undef) {
    md = EVP_get_digestbynid(digest_nid);
  }
  if (md == nullptr) return NotFound("the certificate's signature algorithm names no hash for channel binding");
  unsigned char hash[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (X509_digest(cert, md, hash, &len) != 1) return OpenSslError("hash the certificate");
  return std::string(reinterpret_cast<const char*>(hash), len);
}

Result<std::shared_ptr<const TlsServerContext>> TlsServerContext::Load(const std::string& cert_file,
                                                                        const std::string& key_file) {
  ERR_clear_error();
  UniqueSslCtx ctx(SSL_CTX_new(TLS_server_method()));
  if (!ctx) return OpenSslError("make a TLS context");
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_TICKET |
                                     SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), cert_file.c_str()) != 1) {
    return InvalidArgument("could not load the TLS certificate \"" + cert_file + "\": " + OpenSslErrors());
  }
  if (SSL_CTX_use_PrivateKey_file(ctx.get(), key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    return InvalidArgument("could not load the TLS key \"" + key_file + "\": " + OpenSslErrors());
  }
  if (SSL_CTX_check_private_key(ctx.get()) != 1) {
    return InvalidArgument("the TLS key \"" + key_file + "\" does not match the certificate \"" + cert_file + "\"");
  }
  auto binding = CertificateEndpointBinding(SSL_CTX_get0_certificate(ctx.get()));
  return std::shared_ptr<const TlsServerContext>(new TlsServerContext(std::move(ctx), binding.ok() ? *binding : ""));
}

PqTransport::~PqTransport() {
  if (ssl_ && !tls_failed_ && SSL_is_init_finished(ssl_.get())) {
    ERR_clear_error();
    SSL_shutdown(ssl_.get());  // non-blocking: sends close_notify if it fits
  }
}

Status PqTransport::StartTls(const TlsServerContext& context) {
  if (ssl_) return Internal("TLS started twice on one connection");
  // OpenSSL writes with write(2), not send(MSG_NOSIGNAL): a client gone
  // would raise SIGPIPE. Blocked in this (the connection's) thread, the
  // write fails with EPIPE instead and the signal stays pending, unseen.
  sigset_t pipe;
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
  ERR_clear_error();
  UniqueSsl ssl(SSL_new(context.get()));
  if (!ssl || SSL_set_fd(ssl.get(), fd_.get()) != 1) return OpenSslError("start a TLS session");
  SSL_set_accept_state(ssl.get());
  ssl_ = std::move(ssl);
  return Status::Ok();
}

PqTransport::Io PqTransport::Handshake() {
  ERR_clear_error();
  return TlsResult(SSL_do_handshake(ssl_.get()), 0, "TLS handshake");
}

std::string PqTransport::Describe() const {
  if (!ssl_) return "no TLS";
  return std::string(SSL_get_version(ssl_.get())) + " " + SSL_get_cipher_name(ssl_.get());
}

PqTransport::Io PqTransport::TlsResult(int ret, size_t bytes, const char* what) {
  if (ret == 1) return Io{Io::kDone, bytes};
  const int saved_errno = errno;
  switch (SSL_get_error(ssl_.get(), ret)) {
    case SSL_ERROR_WANT_READ:
      return Io{Io::kWait, 0, POLLIN};
    case SSL_ERROR_WANT_WRITE:
      return Io{Io::kWait, 0, POLLOUT};
    case SSL_ERROR_ZERO_RETURN:
      return Io{Io::kEof};
    case SSL_ERROR_SYSCALL:
      tls_failed_ = true;
      if (saved_errno == 0 || saved_errno == ECONNRESET || saved_errno == EPIPE) return Io{Io::kEof};
      return Io{Io::kError, 0, 0, ErrnoStatus(what, saved_errno)};
    default:
      tls_failed_ = true;
      return Io{Io::kError, 0, 0, ProtocolError(std::string(what) + " failed: " + OpenSslErrors())};
  }
}

PqTransport::Io PqTransport::Recv(char* buf, size_t n) {
  if (ssl_) {
    ERR_clear_error();
    size_t got = 0;
    const int ret = SSL_read_ex(ssl_.get(), buf, n, &got);
    return TlsResult(ret, got, "TLS read");
  }
  for (;;) {
    const ssize_t got = ::recv(fd_.get(), buf, n, 0);
    if (got > 0) return Io{Io::kDone, static_cast<size_t>(got)};
    if (got == 0) return Io{Io::kEof};
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return Io{Io::kWait, 0, POLLIN};
    return Io{Io::kError, 0, 0, ErrnoStatus("receive from the client", errno)};
  }
}

PqTransport::Io PqTransport::Send(const char* buf, size_t n) {
  if (ssl_) {
    ERR_clear_error();
    size_t sent = 0;
    const int ret = SSL_write_ex(ssl_.get(), buf, n, &sent);
    return TlsResult(ret, sent, "TLS write");
  }
  for (;;) {
    const ssize_t sent = ::send(fd_.get(), buf, n, MSG_NOSIGNAL);
    if (sent >= 0) return Io{Io::kDone, static_cast<size_t>(sent)};
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return Io{Io::kWait, 0, POLLOUT};
    return Io{Io::kError, 0, 0, ErrnoStatus("send to the client", errno)};
  }
}

}  // namespace zenith::pageserver
