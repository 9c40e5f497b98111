// SCRAM-SHA-256 (pageserver/pq/scram.h): RFC 7677's example exchange, byte for
// byte; wrong passwords and malformed messages are refused; channel binding
// (SCRAM-SHA-256-PLUS, tls-server-end-point) holds only for this channel.
#include "pageserver/pq/scram.h"

#include <gtest/gtest.h>

#include "tests/unit/pageserver/scram_client.h"

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

TEST(Scram, TheTestClientComputesRfc7677sProof) {
  // The helper the binding tests below use, checked against the RFC.
  EXPECT_EQ(testing::ScramClientFinal("pencil", kClientFirst.substr(3), kServerFirst, "n,,"), kClientFinal);
}

// A certificate hash as the TLS layer gives it (32 bytes for SHA-256).
const std::string kBinding(32, '\x5a');
const std::string kPlusHeader = "p=tls-server-end-point,,";

TEST(ScramPlus, BindingToThisChannelIsAccepted) {
  const ScramVerifier v = Pencil();
  ScramExchange ex(v, std::string(kServerNonce), ScramChannel{kBinding, /*plus=*/true});
  const std::string bare = std::string(kClientFirst.substr(3));
  auto first = ex.ClientFirst(kPlusHeader + bare);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  auto final = ex.ClientFinal(testing::ScramClientFinal("pencil", bare, *first, kPlusHeader + kBinding));
  EXPECT_TRUE(final.ok()) << final.status().ToString();
}

TEST(ScramPlus, BindingDataOfAnotherChannelIsRefused) {
  // A client that talks TLS to a relay binds to the relay's certificate: its
  // proof is right, the binding is not ours.
  const ScramVerifier v = Pencil();
  const std::string bare = std::string(kClientFirst.substr(3));
  for (const std::string& cbind : {kPlusHeader + std::string(32, '\x00'), kPlusHeader + kBinding.substr(1),
                                   kPlusHeader, std::string("n,,"), std::string("n,,") + kBinding}) {
    ScramExchange ex(v, std::string(kServerNonce), ScramChannel{kBinding, true});
    auto first = ex.ClientFirst(kPlusHeader + bare);
    ASSERT_TRUE(first.ok());
    auto final = ex.ClientFinal(testing::ScramClientFinal("pencil", bare, *first, cbind));
    EXPECT_EQ(final.status().code(), StatusCode::kProtocol) << Base64Encode(cbind);
    EXPECT_NE(final.status().message().find("channel binding check failed"), std::string::npos)
        << final.status().ToString();
  }
}

TEST(ScramPlus, Gs2HeadersMustFitTheChosenMechanism) {
  const ScramVerifier v = Pencil();
  const std::string bare = "n=,r=abc";
  struct Case {
    ScramChannel channel;
    std::string header;
    bool ok;
  };
  const std::vector<Case> cases = {
      {{kBinding, true}, kPlusHeader, true},
      {{kBinding, true}, "n,,", false},                   // -PLUS chosen, no binding
      {{kBinding, true}, "p=tls-unique,,", false},        // another binding type
      {{kBinding, false}, "n,,", true},                   // SCRAM-SHA-256 over TLS
      {{kBinding, false}, "y,,", false},                  // the client thinks we cannot bind: a downgrade
      {{kBinding, false}, kPlusHeader, false},            // binding without -PLUS
      {{"", false}, "y,,", true},                         // no TLS: "y" is right
      {{"", false}, kPlusHeader, false},
      {{kBinding, true}, "p=tls-server-end-point,a=x,", false},  // an authorization identity
  };
  for (const Case& c : cases) {
    ScramExchange ex(v, "", c.channel);
    EXPECT_EQ(ex.ClientFirst(c.header + bare).ok(), c.ok) << c.header << " plus=" << c.channel.plus;
  }
}

TEST(ScramPlus, WithoutBindingTheHeaderIsStillChecked) {
  // c= must repeat the client's own gs2 header: "y,," answered with "n,,".
  const ScramVerifier v = Pencil();
  ScramExchange ex(v, std::string(kServerNonce));
  const std::string bare = std::string(kClientFirst.substr(3));
  auto first = ex.ClientFirst("y,," + bare);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(ex.ClientFinal(testing::ScramClientFinal("pencil", bare, *first, "n,,")).status().code(),
            StatusCode::kProtocol);
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
