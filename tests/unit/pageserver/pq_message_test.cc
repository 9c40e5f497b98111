// The wire-protocol codec, without sockets: every decoder must reject every
// truncation of a valid message, and the encoders must produce the exact
// bytes libpq expects.
#include "pageserver/pq/pq_message.h"

#include <gtest/gtest.h>

#include "common/byte_io.h"
#include "pageserver/api/sql_state.h"
#include "pageserver/pq/command.h"
#include "tests/unit/pageserver/pq_test_support.h"

namespace zenith::pageserver::pq {
namespace {

using zenith::pageserver::testing::Be16;
using zenith::pageserver::testing::Be32;
using zenith::pageserver::testing::CStr;

std::span<const uint8_t> Bytes(const std::string& s) { return AsBytes(s); }

TEST(PqMessage, DecodesStartupParameters) {
  std::string body = Be32(kProtocolVersion3) + CStr("user") + CStr("alice") + CStr("database") + CStr("db") +
                     CStr("_pq_.future") + CStr("1") + std::string(1, '\0');
  Result<StartupPacket> p = DecodeStartupPacket(Bytes(body));
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->kind, StartupKind::kStartup);
  EXPECT_EQ(p->protocol, kProtocolVersion3);
  EXPECT_EQ(p->params.at("user"), "alice");
  EXPECT_EQ(p->params.at("database"), "db");
  EXPECT_EQ(p->params.count("_pq_.future"), 0u);
  EXPECT_EQ(p->protocol_options, std::vector<std::string>{"_pq_.future"});
}

TEST(PqMessage, RejectsEveryTruncatedStartupPacket) {
  std::string body = Be32(kProtocolVersion3) + CStr("user") + CStr("alice") + std::string(1, '\0');
  for (size_t n = 0; n < body.size(); ++n) {
    EXPECT_FALSE(DecodeStartupPacket(Bytes(body.substr(0, n))).ok()) << "prefix of " << n << " bytes";
  }
  EXPECT_FALSE(DecodeStartupPacket(Bytes(body + "x")).ok()) << "trailing garbage";
}

TEST(PqMessage, RecognisesEncryptionAndCancelRequests) {
  EXPECT_EQ(DecodeStartupPacket(Bytes(Be32(kSslRequestCode)))->kind, StartupKind::kSslRequest);
  EXPECT_EQ(DecodeStartupPacket(Bytes(Be32(kGssEncRequestCode)))->kind, StartupKind::kGssEncRequest);
  EXPECT_EQ(DecodeStartupPacket(Bytes(Be32(kCancelRequestCode) + Be32(7) + Be32(9)))->kind,
            StartupKind::kCancelRequest);
  EXPECT_FALSE(DecodeStartupPacket(Bytes(Be32(kSslRequestCode) + "x")).ok());
  EXPECT_FALSE(DecodeStartupPacket(Bytes(Be32(kCancelRequestCode) + Be32(7))).ok());
}

TEST(PqMessage, StartupLengthBounds) {
  EXPECT_FALSE(CheckStartupLength(0).ok());
  EXPECT_FALSE(CheckStartupLength(7).ok());
  EXPECT_TRUE(CheckStartupLength(8).ok());
  EXPECT_TRUE(CheckStartupLength(10000).ok());
  EXPECT_FALSE(CheckStartupLength(10001).ok());
  EXPECT_FALSE(CheckStartupLength(0x7fffffff).ok());
}

TEST(PqMessage, MessageHeaderLimits) {
  EXPECT_TRUE(CheckMessageHeader('Q', 4).ok());
  EXPECT_FALSE(CheckMessageHeader('Q', 3).ok());
  EXPECT_TRUE(CheckMessageHeader('Q', 4 + kMaxMessageLength).ok());
  EXPECT_FALSE(CheckMessageHeader('Q', 5 + kMaxMessageLength).ok());
  EXPECT_TRUE(CheckMessageHeader('d', 4 + kMaxCopyDataLength).ok());
  EXPECT_FALSE(CheckMessageHeader('d', 5 + kMaxCopyDataLength).ok());
  EXPECT_FALSE(CheckMessageHeader('d', 0xffffffffu).ok());
  EXPECT_FALSE(CheckMessageHeader('z', 4).ok());
  EXPECT_FALSE(CheckMessageHeader('p', 4).ok());  // password messages are startup-only
  EXPECT_FALSE(CheckMessageHeader(0, 4).ok());
  EXPECT_EQ(CheckMessageHeader('z', 4).code(), StatusCode::kProtocol);
}

std::string ValidBind() {
  return CStr("portal") + CStr("stmt") + Be16(1) + Be16(0) + Be16(2) + Be32(3) + "abc" + Be32(0xffffffffu) +
         Be16(1) + Be16(0);
}

TEST(PqMessage, DecodesBind) {
  Result<BindMessage> b = DecodeBind(Bytes(ValidBind()));
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->portal, "portal");
  EXPECT_EQ(b->statement, "stmt");
  ASSERT_EQ(b->params.size(), 2u);
  EXPECT_EQ(b->params[0], std::optional<std::string>("abc"));
  EXPECT_EQ(b->params[1], std::nullopt);
  EXPECT_EQ(b->result_formats, std::vector<int16_t>{0});
  EXPECT_TRUE(CheckTextFormats(*b).ok());
}

TEST(PqMessage, RejectsEveryTruncatedBindAndParse) {
  std::string bind = ValidBind();
  for (size_t n = 0; n < bind.size(); ++n) EXPECT_FALSE(DecodeBind(Bytes(bind.substr(0, n))).ok()) << n;
  std::string parse = CStr("s") + CStr("echo $1") + Be16(1) + Be32(25);
  ASSERT_TRUE(DecodeParse(Bytes(parse)).ok());
  for (size_t n = 0; n < parse.size(); ++n) EXPECT_FALSE(DecodeParse(Bytes(parse.substr(0, n))).ok()) << n;
}

TEST(PqMessage, RejectsAbsurdCountsWithoutAllocating) {
  // 65535 parameters claimed, none present; and a value length beyond the body.
  EXPECT_FALSE(DecodeBind(Bytes(CStr("") + CStr("") + Be16(0) + Be16(0xffff))).ok());
  EXPECT_FALSE(DecodeBind(Bytes(CStr("") + CStr("") + Be16(0) + Be16(1) + Be32(0x7fffffff) + "ab")).ok());
  EXPECT_FALSE(DecodeBind(Bytes(CStr("") + CStr("") + Be16(0) + Be16(1) + Be32(0x80000000u) + Be16(0))).ok());
  EXPECT_FALSE(DecodeParse(Bytes(CStr("") + CStr("q") + Be16(0xffff))).ok());
  // Format count that is neither 0, 1 nor the parameter count.
  EXPECT_FALSE(DecodeBind(Bytes(CStr("") + CStr("") + Be16(2) + Be16(0) + Be16(0) + Be16(3) + Be32(0) + Be32(0) +
                                Be32(0) + Be16(0)))
                   .ok());
}

TEST(PqMessage, BinaryFormatsAreRefused) {
  BindMessage b;
  b.param_formats = {1};
  Status s = CheckTextFormats(b);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("binary"), std::string::npos);
  b.param_formats = {};
  b.result_formats = {0, 1};
  EXPECT_FALSE(CheckTextFormats(b).ok());
  b.result_formats = {7};
  EXPECT_EQ(CheckTextFormats(b).code(), StatusCode::kProtocol);
}

TEST(PqMessage, DecodesDescribeExecuteAndCopyFail) {
  EXPECT_EQ(DecodeTarget(Bytes("S" + CStr("x")))->name, "x");
  EXPECT_FALSE(DecodeTarget(Bytes("Q" + CStr("x"))).ok());
  EXPECT_FALSE(DecodeTarget(Bytes(std::string("S"))).ok());
  EXPECT_EQ(DecodeExecute(Bytes(CStr("p") + Be32(10)))->max_rows, 10);
  EXPECT_FALSE(DecodeExecute(Bytes(CStr("p") + Be16(1))).ok());
  EXPECT_EQ(*DecodeCopyFail(Bytes(CStr("gave up"))), "gave up");
  EXPECT_FALSE(DecodeQuery(Bytes(std::string("no terminator"))).ok());
  EXPECT_FALSE(DecodeQuery(Bytes(CStr("a") + "b")).ok());
  EXPECT_FALSE(CheckEmptyBody(Bytes(std::string("x"))).ok());
}

TEST(PqMessage, EncodesRowDescriptionForLibpq) {
  std::string out;
  AppendRowDescription(&out, {"arg"});
  std::string expected = "T" + Be32(4 + 2 + 4 + 18) + Be16(1) + CStr("arg") + Be32(0) + Be16(0) + Be32(kTextOid) +
                         Be16(0xffff) + Be32(0xffffffffu) + Be16(0);
  EXPECT_EQ(out, expected);
}

TEST(PqMessage, EncodesDataRowWithNull) {
  std::string out;
  AppendDataRow(&out, {std::string("ab"), std::nullopt});
  EXPECT_EQ(out, "D" + Be32(4 + 2 + 6 + 4) + Be16(2) + Be32(2) + "ab" + Be32(0xffffffffu));
}

TEST(PqMessage, ErrorResponseCarriesSeverityCodeAndMessage) {
  std::string out;
  AppendErrorResponse(&out, Severity::kError, "42704", std::string("no\0such", 7));
  auto ms = zenith::pageserver::testing::SplitBackend(out);
  ASSERT_EQ(ms.size(), 1u);
  EXPECT_EQ(ms[0].type, 'E');
  EXPECT_EQ(zenith::pageserver::testing::ErrorField(ms[0], 'S'), "ERROR");
  EXPECT_EQ(zenith::pageserver::testing::ErrorField(ms[0], 'V'), "ERROR");
  EXPECT_EQ(zenith::pageserver::testing::ErrorField(ms[0], 'C'), "42704");
  // An embedded NUL would end the field early and break the framing.
  EXPECT_EQ(zenith::pageserver::testing::ErrorField(ms[0], 'M'), "no?such");
}

TEST(PqMessage, CopyResponsesAreBinaryWithoutColumns) {
  std::string out;
  AppendCopyResponse(&out, 'W');
  EXPECT_EQ(out, "W" + Be32(7) + std::string(1, '\1') + Be16(0));
}

TEST(PqMessage, SqlStatesFollowStatusCodes) {
  EXPECT_EQ(SqlStateFor(InvalidArgument("x")), "22023");
  EXPECT_EQ(SqlStateFor(SyntaxError("x")), "42601");
  EXPECT_EQ(SqlStateFor(NotFound("x")), "42704");
  EXPECT_EQ(SqlStateFor(AlreadyExists("x")), "42710");
  EXPECT_EQ(SqlStateFor(Corruption("x")), "XX001");
  EXPECT_EQ(SqlStateFor(IoError("x")), "58030");
  EXPECT_EQ(SqlStateFor(Timeout("x")), "57014");
  EXPECT_EQ(SqlStateFor(Busy("x")), "55006");
  EXPECT_EQ(SqlStateFor(ProtocolError("x")), "08P01");
  EXPECT_EQ(SqlStateFor(Unavailable("x")), "08006");
  EXPECT_EQ(SqlStateFor(Internal("x")), "XX000");
  // A command a role may not run: insufficient_privilege, read back as such.
  EXPECT_EQ(SqlStateFor(PermissionDenied("x")), "42501");
  EXPECT_EQ(CodeForSqlState("42501"), StatusCode::kPermissionDenied);
  EXPECT_EQ(CodeForSqlState("28P01"), StatusCode::kPermissionDenied);
}

TEST(PqMessage, ParsesCommandLines) {
  Result<Query> q = ParseQuery("  branch_create  exp\tmain ;  ");
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->tokens, (std::vector<std::string>{"branch_create", "exp", "main"}));
  EXPECT_EQ(q->max_param, 0);
  EXPECT_TRUE(ParseQuery("")->empty());
  EXPECT_TRUE(ParseQuery(" ; ")->empty());
  EXPECT_EQ(ParseQuery("echo $2 $10 x$1 $ $1a")->max_param, 10);
}

TEST(PqMessage, RejectsBadCommandLines) {
  EXPECT_EQ(ParseQuery("echo a; echo b").status().code(), StatusCode::kSyntax);
  EXPECT_EQ(ParseQuery("echo $0").status().code(), StatusCode::kSyntax);
  EXPECT_EQ(ParseQuery("echo $65536").status().code(), StatusCode::kSyntax);
  EXPECT_EQ(ParseQuery("echo $99999999999999999999").status().code(), StatusCode::kSyntax);
  EXPECT_EQ(ParseQuery("$1 x").status().code(), StatusCode::kSyntax);
  EXPECT_TRUE(ParseQuery("echo $65535").ok());
}

TEST(PqMessage, BindsParametersAsWholeArguments) {
  Query q = *ParseQuery("echo $2 lit $1 $2");
  Result<std::vector<std::string>> args = BindArguments(q, {std::string("a b"), std::string("")});
  ASSERT_TRUE(args.ok());
  EXPECT_EQ(*args, (std::vector<std::string>{"", "lit", "a b", ""}));
  EXPECT_EQ(BindArguments(q, {std::string("x"), std::nullopt}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(BindArguments(q, {std::string("x")}).status().code(), StatusCode::kSyntax);
}

}  // namespace
}  // namespace zenith::pageserver::pq
