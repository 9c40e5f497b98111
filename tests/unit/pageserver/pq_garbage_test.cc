// Hostile and broken clients on a raw socket: random bytes, absurd lengths,
// truncated and unknown messages, silent clients, clients that vanish
// mid-stream, and a seeded fuzzer over mutated valid streams, also on the
// password-protected TLS endpoint (garbage instead of a TLS handshake, and
// mutated startup and SCRAM messages inside TLS). After each, the server must
// still serve a fresh libpq connection.
#include <gtest/gtest.h>

#include <iostream>
#include <random>

#include "pageserver/pq/pq_message.h"
#include "tests/unit/pageserver/pq_test_support.h"
#include "tests/unit/pageserver/scram_client.h"
#include "tests/unit/pageserver/tls_test_support.h"

namespace zenith::pageserver::testing {
namespace {

class PqGarbageTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.Start().ok()); }
  // A connection that completed its startup.
  std::unique_ptr<RawClient> Ready() {
    auto raw = std::make_unique<RawClient>(server_.socket_path());
    EXPECT_TRUE(raw->Startup());
    return raw;
  }
  void ExpectServerHealthy() {
    EXPECT_TRUE(FreshConnectionWorks(server_.ConnInfo())) << "the server no longer serves new connections";
  }
  // Expects a FATAL ErrorResponse with `sqlstate` and then the close.
  void ExpectFatalAndClose(RawClient& raw, const std::string& sqlstate = "08P01") {
    std::vector<BackendMessage> ms = SplitBackend(raw.Read(2s, 3s));
    ASSERT_FALSE(ms.empty()) << "no ErrorResponse";
    EXPECT_EQ(ms.back().type, 'E');
    EXPECT_EQ(ErrorField(ms.back(), 'S'), "FATAL");
    EXPECT_EQ(ErrorField(ms.back(), 'C'), sqlstate);
    EXPECT_TRUE(raw.closed());
  }

  TestServer server_{[](PqServerOptions& o) { o.startup_timeout = 30s; }};
};

TEST_F(PqGarbageTest, AbsurdStartupLengthsAreRejectedAtOnce) {
  for (uint32_t length : {0x7fffffffu, 0xffffffffu, 0u, 4u, 7u, 10001u}) {
    RawClient raw(server_.socket_path());
    auto start = Clock::now();
    ASSERT_TRUE(raw.Send(Be32(length) + Be32(3u << 16)));
    ExpectFatalAndClose(raw);
    EXPECT_LT(Clock::now() - start, 2s) << "closed by validation, not by the 30 s startup timeout";
  }
  ExpectServerHealthy();
}

TEST_F(PqGarbageTest, UnsupportedProtocolVersionsAreRefused) {
  for (uint32_t version : {2u << 16, 4u << 16, (1234u << 16) | 1}) {
    RawClient raw(server_.socket_path());
    ASSERT_TRUE(raw.Send(StartupPacket({{"user", "u"}}, version)));
    ExpectFatalAndClose(raw);
  }
  ExpectServerHealthy();
}

TEST_F(PqGarbageTest, NewerMinorVersionIsNegotiatedDownTo30) {
  RawClient raw(server_.socket_path());
  ASSERT_TRUE(raw.Send(StartupPacket({{"user", "u"}, {"_pq_.fancy", "on"}}, (3u << 16) | 7)));
  std::vector<BackendMessage> ms = raw.ReadUntil('Z');
  ASSERT_GE(ms.size(), 2u);
  ASSERT_EQ(ms[0].type, 'v');
  EXPECT_EQ(ms[0].body, Be32(0) + Be32(1) + CStr("_pq_.fancy"));
  EXPECT_EQ(ms[1].type, 'R');
  ASSERT_TRUE(raw.Send(QueryMsg("echo ok")));
  EXPECT_TRUE(FindMessage(raw.ReadUntil('Z'), 'D'));
}

TEST_F(PqGarbageTest, EncryptionRequestsAreDeclinedThenStartupProceeds) {
  RawClient raw(server_.socket_path());
  ASSERT_TRUE(raw.Send(Be32(8) + Be32(pq::kGssEncRequestCode)));
  EXPECT_EQ(raw.Read(1s, 2s), "N");
  ASSERT_TRUE(raw.Send(Be32(8) + Be32(pq::kSslRequestCode)));
  EXPECT_EQ(raw.Read(1s, 2s), "N");
  ASSERT_TRUE(raw.Startup());
  ASSERT_TRUE(raw.Send(QueryMsg("echo ok")));
  EXPECT_TRUE(FindMessage(raw.ReadUntil('Z'), 'D'));

  RawClient twice(server_.socket_path());
  ASSERT_TRUE(twice.Send(Be32(8) + Be32(pq::kSslRequestCode)));
  EXPECT_EQ(twice.Read(1s, 2s), "N");
  ASSERT_TRUE(twice.Send(Be32(8) + Be32(pq::kSslRequestCode)));
  ExpectFatalAndClose(twice);

  // Data sent before the answer to an SSLRequest cannot be trusted
  // (CVE-2021-23214): refused without an answer to the request.
  RawClient eager(server_.socket_path());
  ASSERT_TRUE(eager.Send(Be32(8) + Be32(pq::kSslRequestCode) + DefaultStartup()));
  ExpectFatalAndClose(eager);
}

TEST_F(PqGarbageTest, CancelRequestClosesWithoutAReply) {
  RawClient raw(server_.socket_path());
  ASSERT_TRUE(raw.Send(Be32(16) + Be32(pq::kCancelRequestCode) + Be32(1) + Be32(2)));
  EXPECT_EQ(raw.Read(2s, 3s), "");
  EXPECT_TRUE(raw.closed());
  ExpectServerHealthy();
}

TEST_F(PqGarbageTest, AbsurdMessageLengthsAreFatal) {
  const std::vector<std::string> bad = {
      "Q" + Be32(0x7fffffff),
      "Q" + Be32(3),
      "d" + Be32(pq::kMaxCopyDataLength + 5),
      "P" + Be32(pq::kMaxMessageLength + 5),
      "S" + Be32(0xffffffffu),
  };
  for (const std::string& bytes : bad) {
    auto raw = Ready();
    ASSERT_TRUE(raw->Send(bytes));
    ExpectFatalAndClose(*raw);
  }
  ExpectServerHealthy();
}

TEST_F(PqGarbageTest, UnknownMessageTypesAreFatal) {
  for (char type : {'z', 'p', '\0', '\xff'}) {
    auto raw = Ready();
    ASSERT_TRUE(raw->Send(Message(type, "whatever")));
    ExpectFatalAndClose(*raw);
  }
  ExpectServerHealthy();
}

TEST_F(PqGarbageTest, TruncatedMessageThenEofEndsTheConnectionQuietly) {
  auto raw = Ready();
  ASSERT_TRUE(raw->Send("Q" + Be32(100) + "echo trunc"));
  raw->ShutdownWrite();
  EXPECT_EQ(raw->Read(2s, 3s), "");
  EXPECT_TRUE(raw->closed());
  EXPECT_TRUE(server_.WaitIdle(5s));
  ExpectServerHealthy();
}

TEST_F(PqGarbageTest, CopyMessagesOutsideCopyModeAreIgnored) {
  auto raw = Ready();
  ASSERT_TRUE(raw->Send(CopyDataMsg("stray") + CopyDoneMsg() + Message('f', CStr("why")) + QueryMsg("echo x")));
  std::vector<BackendMessage> ms = raw->ReadUntil('Z');
  EXPECT_EQ(FindMessage(ms, 'E'), nullptr);
  const BackendMessage* row = FindMessage(ms, 'D');
  ASSERT_NE(row, nullptr);
  EXPECT_EQ(row->body, Be16(1) + Be32(1) + "x");
}

TEST_F(PqGarbageTest, MalformedFieldsAreErrorsAndTheConnectionGoesOn) {
  auto raw = Ready();
  // A Bind claiming 1000 parameters in a 10-byte body, a Parse without its
  // terminators: errors, then everything up to Sync is skipped.
  ASSERT_TRUE(raw->Send(Message('B', CStr("") + CStr("") + Be16(0) + Be16(1000) + "xx") +
                        Message('P', "no terminators") + SyncMsg()));
  std::vector<BackendMessage> ms = raw->ReadUntil('Z');
  ASSERT_EQ(ms.size(), 2u);
  EXPECT_EQ(ms[0].type, 'E');
  EXPECT_EQ(ErrorField(ms[0], 'S'), "ERROR");
  EXPECT_EQ(ErrorField(ms[0], 'C'), "08P01");
  EXPECT_EQ(ms[1].type, 'Z');
  ASSERT_TRUE(raw->Send(QueryMsg("echo still")));
  EXPECT_TRUE(FindMessage(raw->ReadUntil('Z'), 'D'));
  EXPECT_FALSE(raw->closed());
}

TEST_F(PqGarbageTest, ErrorInExtendedQueryDiscardsUntilSync) {
  auto raw = Ready();
  ASSERT_TRUE(raw->Send(ExecuteMsg("nosuch") + QueryMsg("echo skipped") + ParseMsg("", "echo skipped2") +
                        BindMsg("", "", {}) + ExecuteMsg("") + SyncMsg() + ParseMsg("", "echo $1") +
                        BindMsg("", "", {"after"}) + ExecuteMsg("") + SyncMsg()));
  std::vector<BackendMessage> ms = raw->ReadUntil('Z', 10s, /*count=*/2);
  std::string types;
  for (const auto& m : ms) types += m.type;
  EXPECT_EQ(types, "EZ12DCZ");  // error, then nothing until Sync; then the second batch
  EXPECT_EQ(ErrorField(ms[0], 'C'), "42704");
  EXPECT_EQ(ms[4].body, Be16(1) + Be32(5) + "after");
}

TEST_F(PqGarbageTest, NonCopyMessageDuringCopyInAbortsTheCopy) {
  auto raw = Ready();
  ASSERT_TRUE(raw->Send(QueryMsg("copyin")));
  ASSERT_TRUE(FindMessage(raw->ReadUntil('G'), 'G'));
  ASSERT_TRUE(raw->Send(CopyDataMsg("abc") + QueryMsg("echo lost")));
  std::vector<BackendMessage> ms = raw->ReadUntil('Z');
  const BackendMessage* error = FindMessage(ms, 'E');
  ASSERT_NE(error, nullptr);
  EXPECT_EQ(ErrorField(*error, 'C'), "08P01");
  // The client's remaining copy messages are dropped; the next query works.
  ASSERT_TRUE(raw->Send(CopyDataMsg("late") + CopyDoneMsg() + QueryMsg("echo y")));
  ms = raw->ReadUntil('Z');
  EXPECT_EQ(FindMessage(ms, 'E'), nullptr);
  ASSERT_NE(FindMessage(ms, 'D'), nullptr);
  EXPECT_EQ(FindMessage(ms, 'D')->body, Be16(1) + Be32(1) + "y");
}

TEST_F(PqGarbageTest, TerminateDuringCopyInClosesTheConnection) {
  auto raw = Ready();
  ASSERT_TRUE(raw->Send(QueryMsg("copyin")));
  ASSERT_TRUE(FindMessage(raw->ReadUntil('G'), 'G'));
  ASSERT_TRUE(raw->Send(CopyDataMsg("abc") + TerminateMsg()));
  EXPECT_EQ(raw->Read(2s, 3s), "");
  EXPECT_TRUE(raw->closed());
  ExpectServerHealthy();
}

TEST_F(PqGarbageTest, ClientVanishingDuringCopyOutDoesNotKillTheServer) {
  auto raw = Ready();
  ASSERT_TRUE(raw->Send(QueryMsg("copyout 100000 1000")));  // 100 MB the client never reads
  EXPECT_FALSE(raw->ReadSome(1000).empty());
  raw->Close();  // the server's next send fails with EPIPE: must not raise SIGPIPE
  EXPECT_TRUE(server_.WaitIdle(10s));
  ExpectServerHealthy();
}

TEST(PqGarbage, SilentClientIsDroppedAfterTheStartupTimeout) {
  TestServer server([](PqServerOptions& o) { o.startup_timeout = 300ms; });
  ASSERT_TRUE(server.Start().ok());
  RawClient silent(server.socket_path());
  RawClient partial(server.socket_path());
  ASSERT_TRUE(partial.Send(Be32(100) + "0123456789"));  // a startup packet that never finishes
  // Meanwhile others are served.
  EXPECT_TRUE(FreshConnectionWorks(server.ConnInfo()));
  auto start = Clock::now();
  std::vector<BackendMessage> ms = SplitBackend(partial.Read(3s, 5s));
  EXPECT_TRUE(partial.closed());
  EXPECT_LT(Clock::now() - start, 3s);
  ASSERT_EQ(ms.size(), 1u);
  EXPECT_EQ(ErrorField(ms[0], 'C'), "57014");
  silent.Read(3s, 5s);
  EXPECT_TRUE(silent.closed());
  EXPECT_TRUE(server.WaitIdle(2s));
}

TEST(PqGarbage, RandomBytesNeverHurtTheServer) {
  TestServer server([](PqServerOptions& o) { o.startup_timeout = 300ms; });
  ASSERT_TRUE(server.Start().ok());
  std::mt19937 rng(4242);
  for (int round = 0; round < 60; ++round) {
    std::string bytes(1 + rng() % 600, '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    RawClient raw(server.socket_path());
    raw.Send(bytes);  // the server may already have hung up
    raw.Read(2s, 3s);
    EXPECT_TRUE(raw.closed()) << "round " << round << ": garbage must end the connection";
  }
  EXPECT_TRUE(FreshConnectionWorks(server.ConnInfo()));
  EXPECT_TRUE(server.WaitIdle(5s));
}

// ---- Fuzzing --------------------------------------------------------------------

std::vector<std::string> ValidStreams() {
  std::string s = DefaultStartup();
  return {
      s + QueryMsg("echo a b c") + TerminateMsg(),
      s + ParseMsg("", "echo $1 x") + BindMsg("", "", {"p"}) + DescribeMsg('P', "") + ExecuteMsg("") + SyncMsg(),
      s + ParseMsg("st", "echo $1") + DescribeMsg('S', "st") + BindMsg("po", "st", {"v"}) + ExecuteMsg("po") +
          Message('C', "S" + CStr("st")) + Message('H', "") + SyncMsg() + TerminateMsg(),
      s + QueryMsg("copyin") + CopyDataMsg("one") + CopyDataMsg("two") + CopyDoneMsg() + QueryMsg("last_copyin"),
      s + QueryMsg("copyboth") + CopyDataMsg("r1") + CopyDataMsg("r2") + CopyDoneMsg() + QueryMsg("echo z"),
      s + QueryMsg("copyout 3") + QueryMsg("fail busy nope") + QueryMsg("nullrow"),
      s + ParseMsg("", "copyin") + BindMsg("", "", {}) + ExecuteMsg("") + SyncMsg() + CopyDataMsg("x") +
          Message('f', CStr("stop")) + SyncMsg(),
      Be32(8) + Be32(pq::kSslRequestCode) + s + QueryMsg(""),
  };
}

std::string Mutate(std::string stream, std::mt19937& rng) {
  auto pick = [&](size_t n) { return n == 0 ? size_t{0} : rng() % n; };
  int mutations = 1 + static_cast<int>(rng() % 4);
  for (int i = 0; i < mutations; ++i) {
    switch (rng() % 6) {
      case 0:  // flip bits
        if (!stream.empty()) stream[pick(stream.size())] ^= static_cast<char>(1 + rng() % 255);
        break;
      case 1:  // truncate
        stream.resize(pick(stream.size() + 1));
        break;
      case 2:  // insert random bytes
        stream.insert(pick(stream.size() + 1), std::string(1 + rng() % 16, static_cast<char>(rng())));
        break;
      case 3: {  // overwrite four bytes with an interesting length
        static const uint32_t lengths[] = {0, 3, 4, 5, 8, 0x7fffffff, 0xffffffff, 10001, pq::kMaxCopyDataLength + 5};
        if (stream.size() >= 4) stream.replace(pick(stream.size() - 3), 4, Be32(lengths[rng() % 9]));
        break;
      }
      case 4: {  // duplicate a slice
        size_t at = pick(stream.size());
        stream.insert(pick(stream.size() + 1), stream.substr(at, 1 + rng() % 32));
        break;
      }
      case 5:  // drop a slice
        if (!stream.empty()) stream.erase(pick(stream.size()), 1 + rng() % 16);
        break;
    }
  }
  return stream;
}

TEST(PqFuzz, MutatedStreamsNeverBreakTheServer) {
  TestServer server([](PqServerOptions& o) { o.startup_timeout = 500ms; });
  ASSERT_TRUE(server.Start().ok());
  std::vector<std::string> corpus = ValidStreams();
  std::mt19937 rng(20240501);  // fixed: a failure replays exactly
  int served = 0;    // rounds that got past startup
  int rejected = 0;  // rounds the server ended with a FATAL error
  for (int round = 0; round < 300; ++round) {
    RawClient raw(server.socket_path());
    ASSERT_TRUE(raw.connected()) << "round " << round << ": the server stopped accepting";
    raw.Send(Mutate(corpus[rng() % corpus.size()], rng));
    std::vector<BackendMessage> reply = raw.ReadMessages(20ms, 500ms);
    served += FindMessage(reply, 'Z') != nullptr;
    rejected += !reply.empty() && reply.back().type == 'E' && ErrorField(reply.back(), 'S') == "FATAL";
    if (round % 50 == 49) {
      ASSERT_TRUE(FreshConnectionWorks(server.ConnInfo())) << "after round " << round;
    }
  }
  EXPECT_TRUE(FreshConnectionWorks(server.ConnInfo()));
  EXPECT_TRUE(server.WaitIdle(10s)) << "every fuzzed connection ends once its client is gone";
  // The mutations must reach both the message loop and the validation.
  std::cout << "fuzz: " << served << " rounds served, " << rejected << " rejected as FATAL\n";
  EXPECT_GT(served, 60);
  EXPECT_GT(rejected, 30);
}

// ---- The TLS endpoint with a password ----------------------------------------

TEST(PqFuzzTls, GarbageInsteadOfAHandshakeNeverHurtsTheServer) {
  TlsTestServer server([](PqServerOptions& o) { o.startup_timeout = 2s; });
  ASSERT_TRUE(server.Start().ok());
  std::mt19937 rng(1805);
  for (int round = 0; round < 60; ++round) {
    TlsRawClient raw(server.port());
    ASSERT_TRUE(raw.connected()) << "round " << round;
    ASSERT_TRUE(raw.RequestTls()) << "round " << round;
    std::string bytes(1 + rng() % 600, '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    // Every other round looks like a TLS handshake record, to get into the parser.
    if (round % 2 == 1) bytes = std::string("\x16\x03\x01", 3) + Be16(static_cast<uint16_t>(bytes.size())) + bytes;
    raw.SendRaw(bytes);
    EXPECT_TRUE(raw.ClosedWithin(3s)) << "round " << round << ": a broken handshake must end the connection";
  }
  EXPECT_TRUE(FreshConnectionWorks(server.ConnInfo("sslmode=verify-full channel_binding=require")));
  EXPECT_TRUE(server.test_server().WaitIdle(5s));
}

// The first messages of a client that chose SCRAM-SHA-256-PLUS (or not).
std::string ScramStart(bool plus, const std::string& client_first_bare) {
  const std::string startup = StartupPacket({{"user", "zenith"}, {"database", "zenith"}});
  return startup + (plus ? SaslInitialResponseMsg(kScramSha256Plus, "p=tls-server-end-point,," + client_first_bare)
                         : SaslInitialResponseMsg(kScramSha256, "n,," + client_first_bare));
}

TEST(PqFuzzTls, MutatedStartupAndScramMessagesInsideTlsNeverBreakTheServer) {
  TlsTestServer server([](PqServerOptions& o) { o.startup_timeout = 1s; });
  ASSERT_TRUE(server.Start().ok());
  std::mt19937 rng(20261204);
  const std::string bare = "n=,r=fyko+d2lbbFgONRv9qkxdawL";
  int continued = 0;  // rounds that reached the server's SCRAM challenge
  int refused = 0;    // rounds ended with a FATAL error
  for (int round = 0; round < 120; ++round) {
    TlsRawClient raw(server.port());
    ASSERT_TRUE(raw.RequestTls() && raw.Handshake(server.certs().ca_file())) << "round " << round;
    const bool plus = round % 2 == 0;
    const bool mutate_first = round % 3 == 0;
    raw.Send(mutate_first ? Mutate(ScramStart(plus, bare), rng) : ScramStart(plus, bare));
    std::vector<BackendMessage> reply = raw.ReadMessages(50ms, 2s);
    const BackendMessage* challenge = nullptr;
    for (const auto& m : reply) {
      if (m.type == 'R' && m.body.size() > 4 && m.body.substr(0, 4) == Be32(11)) challenge = &m;
    }
    if (challenge != nullptr && !mutate_first) {
      ++continued;
      // A client-final with a right proof, bound (or not) as the header said, then mangled.
      const std::string server_first = challenge->body.substr(4);
      const std::string final = ScramClientFinal(kTlsPassword, bare, server_first, plus ? "p=tls-server-end-point,," : "n,,");
      raw.Send(Mutate(Message('p', final), rng));
      reply = raw.ReadMessages(50ms, 2s);
    }
    refused += !reply.empty() && reply.back().type == 'E' && ErrorField(reply.back(), 'S') == "FATAL";
    if (round % 40 == 39) {
      ASSERT_TRUE(FreshConnectionWorks(server.ConnInfo("sslmode=verify-full channel_binding=require")))
          << "after round " << round;
    }
  }
  EXPECT_TRUE(FreshConnectionWorks(server.ConnInfo("sslmode=verify-full channel_binding=require")));
  EXPECT_TRUE(server.test_server().WaitIdle(10s)) << "every fuzzed connection ends once its client is gone";
  std::cout << "tls fuzz: " << continued << " rounds reached the SCRAM challenge, " << refused << " refused as FATAL\n";
  EXPECT_GT(continued, 40);
  EXPECT_GT(refused, 20);
}

}  // namespace
}  // namespace zenith::pageserver::testing
