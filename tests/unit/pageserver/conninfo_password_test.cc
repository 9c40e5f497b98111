// SplitPassword (pageserver/api/conninfo_password.h): a password leaves
// a connection string in either of libpq's forms, everything else stays as
// libpq reads it, and a string libpq cannot read is refused without being
// quoted.
#include "pageserver/api/conninfo_password.h"

#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <map>

namespace zenith::pageserver {
namespace {

// The options libpq reads from `conninfo` (those given).
std::map<std::string, std::string> Options(const std::string& conninfo) {
  std::map<std::string, std::string> out;
  PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), nullptr);
  EXPECT_NE(options, nullptr) << conninfo;
  if (options == nullptr) return out;
  for (const PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    if (o->val != nullptr) out[o->keyword] = o->val;
  }
  PQconninfoFree(options);
  return out;
}

// What a split must keep: every option but the password, as libpq reads it.
void ExpectSplit(const std::string& conninfo, const std::string& password) {
  auto parts = SplitPassword(conninfo);
  ASSERT_TRUE(parts.ok()) << parts.status().ToString();
  EXPECT_TRUE(parts->has_password);
  EXPECT_EQ(parts->password, password);
  EXPECT_EQ(parts->without_password.find(password), std::string::npos) << parts->without_password;
  std::map<std::string, std::string> expected = Options(conninfo);
  expected.erase("password");
  EXPECT_EQ(Options(parts->without_password), expected) << parts->without_password;
}

TEST(SplitPassword, KeywordValueForm) {
  ExpectSplit("host=db1 port=5432 user=postgres password=s3cr3t-pw dbname=postgres", "s3cr3t-pw");
}

TEST(SplitPassword, QuotedValuesKeepTheirSpacesQuotesAndBackslashes) {
  ExpectSplit(R"(host='/tmp/a dir' password='it\'s a \\ secret' application_name='o\'brien \\x')",
              R"(it's a \ secret)");
}

TEST(SplitPassword, UriUserInfo) { ExpectSplit("postgresql://zenith:pw%40xyz@127.0.0.1:6400/zenith", "pw@xyz"); }

TEST(SplitPassword, UriQueryParameter) {
  ExpectSplit("postgres://pageserver-host:6400/zenith?user=zenith&password=qwerty123&sslmode=disable", "qwerty123");
}

TEST(SplitPassword, AnEmptyPasswordIsStillTakenOut) {
  auto parts = SplitPassword("host=db1 password=");
  ASSERT_TRUE(parts.ok());
  EXPECT_TRUE(parts->has_password);
  EXPECT_EQ(parts->password, "");
  EXPECT_EQ(Options(parts->without_password), (std::map<std::string, std::string>{{"host", "db1"}}));
}

TEST(SplitPassword, AStringWithoutAPasswordStaysAsGiven) {
  for (const std::string s : {"postgresql://zenith@127.0.0.1:6400", "host=/tmp port=5432 user=postgres", ""}) {
    auto parts = SplitPassword(s);
    ASSERT_TRUE(parts.ok()) << s;
    EXPECT_FALSE(parts->has_password);
    EXPECT_EQ(parts->without_password, s);
  }
}

TEST(SplitPassword, AStringLibpqCannotReadIsRefusedWithoutQuotingIt) {
  for (const std::string s : {"host=db1 password='hunter2-unterminated", "postgresql://u:hunter2@h:1?nosuchoption=x",
                              "host=db1 hunter2-bare", "host=db1 nosuchoption=hunter2"}) {
    auto parts = SplitPassword(s);
    ASSERT_FALSE(parts.ok()) << s;
    EXPECT_EQ(parts.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(parts.status().message().find("hunter2"), std::string::npos) << parts.status().message();
  }
}

}  // namespace
}  // namespace zenith::pageserver
