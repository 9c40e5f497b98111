// SecurePageServerConnInfo (pageserver/client/tls_conninfo.h): zenith's
// clients reach a TCP page server only with a verified TLS certificate and
// channel binding; Unix sockets are left alone.
#include "pageserver/client/tls_conninfo.h"

#include <gtest/gtest.h>

namespace zenith::pageserver {
namespace {

bool Has(const std::string& conninfo, const std::string& setting) {
  return (" " + conninfo + " ").find(" " + setting + " ") != std::string::npos;
}

TEST(TlsConnInfo, TcpGetsVerifiedTlsAndChannelBinding) {
  auto ip = SecurePageServerConnInfo("postgresql://zenith@127.0.0.1:6400", "/x/ca.crt");
  ASSERT_TRUE(ip.ok()) << ip.status().ToString();
  EXPECT_TRUE(Has(*ip, "sslmode='verify-ca'")) << *ip;  // an IP address: no name to check
  EXPECT_TRUE(Has(*ip, "channel_binding='require'")) << *ip;
  EXPECT_TRUE(Has(*ip, "sslrootcert='/x/ca.crt'")) << *ip;
  EXPECT_TRUE(Has(*ip, "host='127.0.0.1'") && Has(*ip, "port='6400'") && Has(*ip, "user='zenith'")) << *ip;

  auto name = SecurePageServerConnInfo("host=pages.example port=6400 user=zenith");
  ASSERT_TRUE(name.ok());
  EXPECT_TRUE(Has(*name, "sslmode='verify-full'")) << *name;
  EXPECT_EQ(name->find("sslrootcert"), std::string::npos) << "libpq's default root.crt: " << *name;
}

TEST(TlsConnInfo, TheUsersVerifyingModesAndRootCertAreKept) {
  auto full = SecurePageServerConnInfo("host=10.0.0.1 sslmode=verify-full sslrootcert=/mine.crt", "/x/ca.crt");
  ASSERT_TRUE(full.ok());
  EXPECT_TRUE(Has(*full, "sslmode='verify-full'")) << *full;
  EXPECT_TRUE(Has(*full, "sslrootcert='/mine.crt'")) << *full;
  auto again = SecurePageServerConnInfo(*full);  // applied twice: the same
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *full);
}

TEST(TlsConnInfo, WeakerModesAreRefusedWithAClearMessage) {
  for (const char* bad : {"host=h sslmode=disable", "host=h sslmode=allow", "host=h sslmode=prefer",
                          "host=h sslmode=require", "postgresql://zenith@h:1?sslmode=require",
                          "host=h channel_binding=disable", "host=h channel_binding=prefer", "hostaddr=1.2.3.4 sslmode=prefer"}) {
    auto r = SecurePageServerConnInfo(bad);
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(r.status().message().find("is refused for a page server over TCP"), std::string::npos) << r.status().ToString();
  }
  EXPECT_EQ(SecurePageServerConnInfo("host='unterminated").status().code(), StatusCode::kInvalidArgument);
}

TEST(TlsConnInfo, UnixSocketsAreLeftAsTheyAre) {
  for (const char* unix_socket : {"host=/repo/.zenith port=64000 user=zenith", "dbname=zenith", "host=/a,/b sslmode=disable"}) {
    auto r = SecurePageServerConnInfo(unix_socket, "/x/ca.crt");
    ASSERT_TRUE(r.ok()) << unix_socket;
    EXPECT_EQ(*r, unix_socket);
  }
}

}  // namespace
}  // namespace zenith::pageserver
