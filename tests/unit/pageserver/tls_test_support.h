// TLS for the wire-protocol tests: a CA and a server certificate in a
// temporary directory, a PqServer on TCP with TLS and a password, and a raw
// client that runs the TLS handshake itself and then speaks (or mangles) the
// protocol inside it.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <csignal>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "common/file_util.h"
#include "pageserver/pq/openssl_util.h"
#include "pageserver/pq/pq_message.h"
#include "pageserver/pq/pq_transport.h"
#include "pageserver/pq/scram.h"
#include "pageserver/pq/tcp_users.h"
#include "pageserver/pq/tls_certs.h"
#include "tests/unit/pageserver/pq_test_support.h"

namespace zenith::pageserver::testing {

inline constexpr const char* kTlsPassword = "correct horse battery staple";

// <dir>/ca.crt signs <dir>/server.crt (for localhost, 127.0.0.1, ::1).
class TestCertificates {
 public:
  TestCertificates() : dir_("tls") {
    auto ca = MakeCertificateAuthority("test CA");
    auto server = ca.ok() ? MakeServerCertificate(*ca, ServerCertificateHosts("127.0.0.1")) : ca.status();
    if (!server.ok()) throw std::runtime_error(server.status().ToString());
    IgnoreError(WriteFileDurably(ca_file(), ca->cert, 0644));
    IgnoreError(WriteFileDurably(dir_.path() + "/server.crt", server->cert, 0644));
    IgnoreError(WriteFileDurably(dir_.path() + "/server.key", server->key, 0600));
  }
  std::string ca_file() const { return dir_.path() + "/ca.crt"; }
  std::shared_ptr<const TlsServerContext> Context() const {
    auto ctx = TlsServerContext::Load(dir_.path() + "/server.crt", dir_.path() + "/server.key");
    if (!ctx.ok()) throw std::runtime_error(ctx.status().ToString());
    return *ctx;
  }

 private:
  zenith::testing::TempDir dir_;
};

// A TestServer on TCP 127.0.0.1 with TLS and the password kTlsPassword for
// user "zenith" (and its Unix socket).
class TlsTestServer {
 public:
  explicit TlsTestServer(const std::function<void(PqServerOptions&)>& tweak = {})
      : server_([&](PqServerOptions& o) {
          o.tcp_port = 0;
          o.tcp_tls = certs_.Context();
          auto users = TcpUsers::Make().value();
          users.Add(Role::kZenith, ScramVerifier::FromPassword(kTlsPassword).value());
          o.tcp_users = std::make_shared<const TcpUsers>(std::move(users));
          if (tweak) tweak(o);
        }) {}
  Status Start() { return server_.Start(); }
  TestServer& test_server() { return server_; }
  uint16_t port() { return server_.server().tcp_port().value_or(0); }
  const TestCertificates& certs() const { return certs_; }
  // libpq settings for user zenith with the password; `extra` last.
  std::string ConnInfo(const std::string& extra = "sslmode=verify-full") {
    return "host=127.0.0.1 port=" + std::to_string(port()) + " user=zenith dbname=zenith connect_timeout=10 " +
           "gssencmode=disable password='" + kTlsPassword + "' sslrootcert=" + certs_.ca_file() + " " + extra;
  }

 private:
  TestCertificates certs_;  // before server_: its tweak reads it
  TestServer server_;
};

// A client on TCP that asks for TLS and then sends whatever it is told to,
// inside the TLS session (or, with RawHandshake, instead of one).
class TlsRawClient {
 public:
  explicit TlsRawClient(uint16_t port) {
    ::signal(SIGPIPE, SIG_IGN);  // OpenSSL writes with write(2)
    fd_.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  bool connected() const { return connected_; }

  // Sends SSLRequest; true when the server answered 'S'.
  bool RequestTls() {
    const std::string request = Be32(8) + Be32(pq::kSslRequestCode);
    if (::send(fd_.get(), request.data(), request.size(), MSG_NOSIGNAL) != 8) return false;
    SetTimeout(5s);
    char answer = 0;
    return ::recv(fd_.get(), &answer, 1, 0) == 1 && answer == 'S';
  }
  // Sends raw bytes on the socket (e.g. garbage instead of a ClientHello).
  bool SendRaw(std::string_view bytes) {
    return ::send(fd_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size());
  }
  // True when the server closes the socket within `limit`.
  bool ClosedWithin(std::chrono::milliseconds limit) {
    auto deadline = Clock::now() + limit;
    char buf[4096];
    while (Clock::now() < deadline) {
      SetTimeout(100ms);
      ssize_t n = ::recv(fd_.get(), buf, sizeof buf, 0);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) return true;
    }
    return false;
  }
  // The TLS handshake, trusting `ca_file`. REQUIRES: RequestTls() was true.
  bool Handshake(const std::string& ca_file) {
    ctx_.reset(SSL_CTX_new(TLS_client_method()));
    SSL_CTX_set_verify(ctx_.get(), SSL_VERIFY_PEER, nullptr);
    if (SSL_CTX_load_verify_locations(ctx_.get(), ca_file.c_str(), nullptr) != 1) return false;
    ssl_.reset(SSL_new(ctx_.get()));
    SSL_set_fd(ssl_.get(), fd_.get());
    SetTimeout(5s);
    return SSL_connect(ssl_.get()) == 1;
  }
  // Sends inside the TLS session; false once the server is gone.
  bool Send(std::string_view bytes) {
    ERR_clear_error();
    size_t n = 0;
    return bytes.empty() || SSL_write_ex(ssl_.get(), bytes.data(), bytes.size(), &n) == 1;
  }
  // Reads the session's messages until the server closes or stays quiet for
  // `idle` (at most `total`).
  std::vector<BackendMessage> ReadMessages(std::chrono::milliseconds idle, std::chrono::milliseconds total = 10s) {
    auto deadline = Clock::now() + total;
    while (!closed_ && Clock::now() < deadline) {
      SetTimeout(idle);
      char buf[16384];
      size_t n = 0;
      ERR_clear_error();
      if (SSL_read_ex(ssl_.get(), buf, sizeof buf, &n) == 1) {
        pending_.append(buf, n);
        continue;
      }
      const int err = SSL_get_error(ssl_.get(), 0);
      if (err == SSL_ERROR_SYSCALL && (errno == EAGAIN || errno == EWOULDBLOCK)) break;  // quiet for `idle`
      closed_ = true;
    }
    std::vector<BackendMessage> ms = SplitBackend(pending_);
    size_t used = 0;
    for (const auto& m : ms) used += 5 + m.body.size();
    pending_.erase(0, used);
    return ms;
  }
  bool closed() const { return closed_; }

 private:
  void SetTimeout(std::chrono::milliseconds t) {
    timeval tv{static_cast<time_t>(t.count() / 1000), static_cast<suseconds_t>((t.count() % 1000) * 1000)};
    ::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }

  UniqueFd fd_;
  bool connected_ = false;
  bool closed_ = false;
  UniqueSslCtx ctx_;
  UniqueSsl ssl_;
  std::string pending_;
};

// A SASLInitialResponse ('p') choosing `mechanism` with `data`.
inline std::string SaslInitialResponseMsg(std::string_view mechanism, std::string_view data) {
  return Message('p', CStr(mechanism) + Be32(static_cast<uint32_t>(data.size())) + std::string(data));
}

}  // namespace zenith::pageserver::testing
