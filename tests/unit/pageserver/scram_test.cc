// SCRAM-SHA-256 (pageserver/scram.h): RFC 7677's example exchange, byte for
// byte; wrong passwords and malformed messages are refused.
#include "pageserver/scram.h"

#include <gtest/gtest.h>

namespace zenith::pageserver {
namespace {

// RFC 7677, section 3: user "user", password "pencil".
constexpr std::string_view kClientFirst = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
constexpr std::string_view kServerNonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
constexpr std::string_view kServerFirst =
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
constexpr std::string_view kClientFinal =
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
constexpr std::string_view kServerFinal = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

ScramVerifier Pencil() {
  auto v = ScramVerifier::FromPassword("pencil", *Base64Decode("W22ZaJ0SNY7soEsUEjb6gQ=="), 4096);
  EXPECT_TRUE(v.ok());
  return *v;
}

TEST(Scram, Rfc7677ExchangeByteForByte) {
  const ScramVerifier v = Pencil();
  ScramExchange ex(v, std::string(kServerNonce));
  auto first = ex.ClientFirst(kClientFirst);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(*first, kServerFirst);
  auto final = ex.ClientFinal(kClientFinal);
  ASSERT_TRUE(final.ok()) << final.status().ToString();
  EXPECT_EQ(*final, kServerFinal);
}

TEST(Scram, AWrongPasswordIsPermissionDenied) {
  auto other = ScramVerifier::FromPassword("pen", *Base64Decode("W22ZaJ0SNY7soEsUEjb6gQ=="), 4096);
  ASSERT_TRUE(other.ok());
  ScramExchange ex(*other, std::string(kServerNonce));
  ASSERT_TRUE(ex.ClientFirst(kClientFirst).ok());
  EXPECT_EQ(ex.ClientFinal(kClientFinal).status().code(), StatusCode::kPermissionDenied);
}

TEST(Scram, MalformedOrOutOfOrderMessagesAreProtocolErrors) {
  const ScramVerifier v = Pencil();
  for (std::string_view bad : {"", "n,,", "x,,n=,r=abc", "p=tls-unique,,n=,r=abc", "n,,r=abc", "n,,n=,r="}) {
    ScramExchange ex(v);
    EXPECT_EQ(ex.ClientFirst(bad).status().code(), StatusCode::kProtocol) << bad;
  }
  ScramExchange early(v);
  EXPECT_EQ(early.ClientFinal(kClientFinal).status().code(), StatusCode::kProtocol);
  for (std::string_view bad :
       {"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0", "c=biws,r=other,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
        "c=xxxx,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=short"}) {
    ScramExchange ex(v, std::string(kServerNonce));
    ASSERT_TRUE(ex.ClientFirst(kClientFirst).ok());
    EXPECT_EQ(ex.ClientFinal(bad).status().code(), StatusCode::kProtocol) << bad;
  }
}

TEST(Scram, Base64RoundTripsAndRefusesGarbage) {
  for (const std::string& s : std::vector<std::string>{"", "a", "ab", "abc", "abcd", std::string("\0\xff\x10", 3)}) {
    EXPECT_EQ(Base64Decode(Base64Encode(s)), s);
  }
  EXPECT_EQ(Base64Decode("abc"), std::nullopt);
  EXPECT_EQ(Base64Decode("a*c="), std::nullopt);
}

TEST(Scram, VerifiersOfOnePasswordDifferBySalt) {
  auto a = ScramVerifier::FromPassword("secret"), b = ScramVerifier::FromPassword("secret");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->salt, b->salt);
  EXPECT_NE(a->stored_key, b->stored_key);
}

}  // namespace
}  // namespace zenith::pageserver
