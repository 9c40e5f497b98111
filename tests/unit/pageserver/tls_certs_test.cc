// The repository's certificates (pageserver/pq/tls_certs.h): made once with a
// CA of the repository's own, keys 0600, the listen host in subjectAltName;
// made again only when they no longer fit.
#include "pageserver/pq/tls_certs.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <openssl/x509v3.h>

#include "common/file_util.h"
#include "pageserver/pq/openssl_util.h"
#include "pageserver/pq/pq_transport.h"
#include "tests/harness/temp_dir.h"

namespace zenith::pageserver {
namespace {

mode_t Mode(const std::string& path) {
  struct stat st{};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 0777;
}

bool Names(const std::string& cert_file, const std::string& host) {
  auto cert = LoadCertificate(cert_file);
  EXPECT_TRUE(cert.ok());
  return host.find_first_not_of("0123456789.:") == std::string::npos
             ? X509_check_ip_asc(cert->get(), host.c_str(), 0) == 1
             : X509_check_host(cert->get(), host.data(), host.size(), 0, nullptr) == 1;
}

class RepositoryCertificate : public ::testing::Test {
 protected:
  zenith::testing::TempDir dir_{"tls-certs"};
  RepoLayout layout_{dir_.path()};
};

TEST_F(RepositoryCertificate, MadeOnFirstUseSignedByTheRepositoryCa) {
  ASSERT_TRUE(EnsureRepositoryCertificate(layout_, "10.1.2.3").ok());
  EXPECT_EQ(Mode(layout_.ca_key()), 0600u);
  EXPECT_EQ(Mode(layout_.server_key()), 0600u);
  for (const char* host : {"10.1.2.3", "localhost", "127.0.0.1", "::1"}) EXPECT_TRUE(Names(layout_.server_cert(), host)) << host;
  EXPECT_FALSE(Names(layout_.server_cert(), "10.1.2.4"));
  auto ca = LoadCertificate(layout_.ca_cert());
  auto cert = LoadCertificate(layout_.server_cert());
  ASSERT_TRUE(ca.ok() && cert.ok());
  UniqueEvpPkey ca_key(X509_get_pubkey(ca->get()));
  EXPECT_EQ(X509_verify(cert->get(), ca_key.get()), 1);
  EXPECT_EQ(X509_check_ca(ca->get()), 1);
  EXPECT_EQ(X509_check_ca(cert->get()), 0);
  // Signed with SHA-256, so tls-server-end-point is its SHA-256 (32 bytes).
  auto binding = CertificateEndpointBinding(cert->get());
  ASSERT_TRUE(binding.ok());
  EXPECT_EQ(binding->size(), 32u);
  EXPECT_TRUE(TlsServerContext::Load(layout_.server_cert(), layout_.server_key()).ok());
}

TEST_F(RepositoryCertificate, KeptWhileItFitsRemadeForANewHostWithTheSameCa) {
  ASSERT_TRUE(EnsureRepositoryCertificate(layout_, "127.0.0.1").ok());
  const std::string ca = ReadFileToString(layout_.ca_cert()).value();
  const std::string first = ReadFileToString(layout_.server_cert()).value();
  ASSERT_TRUE(EnsureRepositoryCertificate(layout_, "127.0.0.1").ok());
  EXPECT_EQ(ReadFileToString(layout_.server_cert()).value(), first);
  ASSERT_TRUE(EnsureRepositoryCertificate(layout_, "192.168.7.7").ok());
  EXPECT_NE(ReadFileToString(layout_.server_cert()).value(), first);
  EXPECT_TRUE(Names(layout_.server_cert(), "192.168.7.7"));
  EXPECT_EQ(ReadFileToString(layout_.ca_cert()).value(), ca) << "clients keep trusting the same CA";
}

TEST_F(RepositoryCertificate, AKeyWithoutItsCertificateIsReplaced) {
  // A crash between the new key and its certificate.
  ASSERT_TRUE(EnsureRepositoryCertificate(layout_, "127.0.0.1").ok());
  auto other = MakeCertificateAuthority("other");
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE(WriteFileDurably(layout_.server_key(), other->key, 0600).ok());
  ASSERT_TRUE(EnsureRepositoryCertificate(layout_, "127.0.0.1").ok());
  EXPECT_TRUE(TlsServerContext::Load(layout_.server_cert(), layout_.server_key()).ok());
}

TEST_F(RepositoryCertificate, ACaWithoutItsKeyIsAClearError) {
  ASSERT_TRUE(EnsureRepositoryCertificate(layout_, "127.0.0.1").ok());
  ASSERT_TRUE(RemoveFile(layout_.ca_key()).ok());
  Status s = EnsureRepositoryCertificate(layout_, "10.9.9.9");
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_NE(s.message().find("ca.key"), std::string::npos) << s.ToString();
}

TEST(ServerCertificateHosts, EveryInterfaceNamesThisMachine) {
  auto hosts = ServerCertificateHosts("0.0.0.0");
  EXPECT_EQ(std::count(hosts.begin(), hosts.end(), "0.0.0.0"), 0);
  EXPECT_EQ(hosts.size(), 4u);
}

}  // namespace
}  // namespace zenith::pageserver
