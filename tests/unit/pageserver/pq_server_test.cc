// The page server's wire protocol as its real clients use it: libpq (simple
// and extended query, prepared statements, every COPY mode) and the psql
// binary; plus concurrency, connection limits, OnClose hooks and Stop().
#include "pageserver/pq/pq_server.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <thread>

#include "tests/harness/subprocess.h"
#include "tests/harness/test_env.h"
#include "tests/unit/pageserver/pq_test_support.h"
#include "tests/unit/pageserver/tls_test_support.h"

namespace zenith::pageserver::testing {
namespace {

class PqServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.Start().ok());
    conn_ = Connect(server_.ConnInfo("application_name=pqtest"));
    ASSERT_EQ(PQstatus(conn_.get()), CONNECTION_OK) << PQerrorMessage(conn_.get());
  }
  PGconn* conn() { return conn_.get(); }

  TestServer server_;
  PgConn conn_{nullptr, &PQfinish};
};

TEST_F(PqServerTest, SimpleQueryReturnsRows) {
  PgResult res = Exec(conn(), "echo a b  c;");
  ASSERT_EQ(PQresultStatus(res.get()), PGRES_TUPLES_OK) << PQresultErrorMessage(res.get());
  EXPECT_EQ(PQnfields(res.get()), 1);
  EXPECT_STREQ(PQfname(res.get(), 0), "arg");
  EXPECT_EQ(PQftype(res.get(), 0), 25u);
  EXPECT_EQ(Column(res.get()), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_STREQ(PQcmdTuples(res.get()), "3");
  PgResult none = Exec(conn(), "echo");
  EXPECT_EQ(PQresultStatus(none.get()), PGRES_TUPLES_OK);
  EXPECT_EQ(PQntuples(none.get()), 0);
}

TEST_F(PqServerTest, EmptyQueryGetsEmptyQueryResponse) {
  EXPECT_EQ(PQresultStatus(Exec(conn(), "").get()), PGRES_EMPTY_QUERY);
  EXPECT_EQ(PQresultStatus(Exec(conn(), "  ;  ").get()), PGRES_EMPTY_QUERY);
  EXPECT_EQ(PQresultStatus(ExecParams(conn(), "", {}).get()), PGRES_EMPTY_QUERY);
  EXPECT_TRUE(EchoWorks(conn()));
}

TEST_F(PqServerTest, NullValuesArriveAsSqlNull) {
  PgResult res = Exec(conn(), "nullrow");
  ASSERT_EQ(PQresultStatus(res.get()), PGRES_TUPLES_OK);
  EXPECT_STREQ(PQgetvalue(res.get(), 0, 0), "x");
  EXPECT_FALSE(PQgetisnull(res.get(), 0, 0));
  EXPECT_TRUE(PQgetisnull(res.get(), 0, 1));
}

TEST_F(PqServerTest, CommandWithoutReplyGetsItsNameAsTag) {
  PgResult res = Exec(conn(), "wait_close");
  EXPECT_EQ(PQresultStatus(res.get()), PGRES_COMMAND_OK);
  EXPECT_STREQ(PQcmdStatus(res.get()), "WAIT_CLOSE");
}

TEST_F(PqServerTest, UnknownCommandListsKnownCommands) {
  PgResult res = Exec(conn(), "nosuch 1 2");
  ASSERT_EQ(PQresultStatus(res.get()), PGRES_FATAL_ERROR);
  EXPECT_EQ(SqlState(res.get()), "42601");
  std::string message = ErrorMessage(res.get());
  EXPECT_NE(message.find("\"nosuch\""), std::string::npos) << message;
  EXPECT_NE(message.find("copyboth"), std::string::npos) << message;
  EXPECT_NE(message.find("echo"), std::string::npos) << message;
  EXPECT_EQ(std::string(PQresultErrorField(res.get(), PG_DIAG_SEVERITY)), "ERROR");
  EXPECT_TRUE(EchoWorks(conn()));
  // Names are case-sensitive.
  EXPECT_EQ(SqlState(Exec(conn(), "ECHO x").get()), "42601");
}

TEST_F(PqServerTest, SecondCommandInOneQueryIsASyntaxError) {
  PgResult res = Exec(conn(), "echo a; echo b");
  EXPECT_EQ(SqlState(res.get()), "42601");
  EXPECT_TRUE(EchoWorks(conn()));
}

TEST_F(PqServerTest, HandlerErrorsCarryMappedSqlStateAndConnectionSurvives) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"invalid_argument", "22023"}, {"syntax", "42601"},   {"not_found", "42704"},   {"already_exists", "42710"},
      {"corruption", "XX001"},       {"io", "58030"},       {"timeout", "57014"},     {"busy", "55006"},
      {"protocol", "08P01"},         {"unavailable", "08006"}, {"internal", "XX000"}};
  for (const auto& [code, sqlstate] : cases) {
    PgResult simple = Exec(conn(), "fail " + code + " it broke");
    ASSERT_EQ(PQresultStatus(simple.get()), PGRES_FATAL_ERROR) << code;
    EXPECT_EQ(SqlState(simple.get()), sqlstate) << code;
    EXPECT_NE(ErrorMessage(simple.get()).find("it broke"), std::string::npos) << code;
    ASSERT_TRUE(EchoWorks(conn(), "after_" + code));
    PgResult extended = ExecParams(conn(), "fail $1 extended broke", {code.c_str()});
    EXPECT_EQ(SqlState(extended.get()), sqlstate) << code;
    ASSERT_TRUE(EchoWorks(conn(), "after_extended_" + code));
  }
}

TEST_F(PqServerTest, HandlerExceptionIsAnInternalError) {
  PgResult res = Exec(conn(), "throw");
  EXPECT_EQ(SqlState(res.get()), "XX000");
  EXPECT_NE(ErrorMessage(res.get()).find("handler blew up"), std::string::npos);
  EXPECT_TRUE(EchoWorks(conn()));
}

TEST_F(PqServerTest, SecondReplyOfAHandlerIsRefused) {
  PgResult res = Exec(conn(), "twice");
  EXPECT_EQ(SqlState(res.get()), "XX000");
  EXPECT_NE(ErrorMessage(res.get()).find("replied twice"), std::string::npos) << ErrorMessage(res.get());
  EXPECT_TRUE(EchoWorks(conn()));
}

TEST_F(PqServerTest, ExecParamsSubstitutesParametersAsWholeArguments) {
  PgResult res = ExecParams(conn(), "echo $2 $1 literal $2", {"a b", "c"});
  ASSERT_EQ(PQresultStatus(res.get()), PGRES_TUPLES_OK) << PQresultErrorMessage(res.get());
  EXPECT_STREQ(PQfname(res.get(), 0), "arg");
  EXPECT_EQ(Column(res.get()), (std::vector<std::string>{"c", "a b", "literal", "c"}));
  PgResult null_param = ExecParams(conn(), "echo $1", {nullptr});
  EXPECT_EQ(SqlState(null_param.get()), "22023");
  EXPECT_NE(ErrorMessage(null_param.get()).find("NULL"), std::string::npos);
  EXPECT_EQ(SqlState(ExecParams(conn(), "nosuch $1", {"x"}).get()), "42601");
  EXPECT_TRUE(EchoWorks(conn()));
}

TEST_F(PqServerTest, BinaryFormatsAreRejectedClearly) {
  int binary = 1;
  PgResult param = ExecParams(conn(), "echo $1", {"x"}, &binary);
  ASSERT_EQ(PQresultStatus(param.get()), PGRES_FATAL_ERROR);
  EXPECT_NE(ErrorMessage(param.get()).find("binary"), std::string::npos);
  PgResult result = ExecParams(conn(), "echo $1", {"x"}, nullptr, /*result_format=*/1);
  ASSERT_EQ(PQresultStatus(result.get()), PGRES_FATAL_ERROR);
  EXPECT_NE(ErrorMessage(result.get()).find("binary"), std::string::npos);
  EXPECT_TRUE(EchoWorks(conn()));
}

TEST_F(PqServerTest, PreparedStatementsDescribeAndExecute) {
  PgResult prep = PgResult(PQprepare(conn(), "s1", "echo $1 $2", 0, nullptr), &PQclear);
  ASSERT_EQ(PQresultStatus(prep.get()), PGRES_COMMAND_OK) << PQresultErrorMessage(prep.get());
  PgResult desc = PgResult(PQdescribePrepared(conn(), "s1"), &PQclear);
  ASSERT_EQ(PQresultStatus(desc.get()), PGRES_COMMAND_OK) << PQresultErrorMessage(desc.get());
  EXPECT_EQ(PQnparams(desc.get()), 2);
  EXPECT_EQ(PQparamtype(desc.get(), 1), 25u);
  EXPECT_EQ(PQnfields(desc.get()), 1);
  EXPECT_STREQ(PQfname(desc.get(), 0), "arg");
  for (std::string word : {"first", "second"}) {
    const char* params[] = {word.c_str(), "y"};
    PgResult run = PgResult(PQexecPrepared(conn(), "s1", 2, params, nullptr, nullptr, 0), &PQclear);
    ASSERT_EQ(PQresultStatus(run.get()), PGRES_TUPLES_OK) << PQresultErrorMessage(run.get());
    EXPECT_EQ(Column(run.get()), (std::vector<std::string>{word, "y"}));
  }
  // A command without columns describes as NoData.
  ASSERT_EQ(PQresultStatus(PgResult(PQprepare(conn(), "s2", "wait_close", 0, nullptr), &PQclear).get()),
            PGRES_COMMAND_OK);
  PgResult desc2 = PgResult(PQdescribePrepared(conn(), "s2"), &PQclear);
  EXPECT_EQ(PQnfields(desc2.get()), 0);
  EXPECT_EQ(PQnparams(desc2.get()), 0);
}

TEST_F(PqServerTest, PreparedStatementErrorsKeepTheConnectionInSync) {
  ASSERT_EQ(PQresultStatus(PgResult(PQprepare(conn(), "s1", "echo $1", 0, nullptr), &PQclear).get()),
            PGRES_COMMAND_OK);
  EXPECT_EQ(SqlState(PgResult(PQprepare(conn(), "s1", "echo", 0, nullptr), &PQclear).get()), "42710");
  EXPECT_EQ(SqlState(PgResult(PQdescribePrepared(conn(), "nosuch"), &PQclear).get()), "42704");
  EXPECT_EQ(SqlState(PgResult(PQprepare(conn(), "bad", "nosuch $1", 0, nullptr), &PQclear).get()), "42601");
  const char* two[] = {"a", "b"};
  EXPECT_EQ(SqlState(PgResult(PQexecPrepared(conn(), "s1", 2, two, nullptr, nullptr, 0), &PQclear).get()), "08P01");
  EXPECT_EQ(SqlState(PgResult(PQexecPrepared(conn(), "nosuch", 0, nullptr, nullptr, nullptr, 0), &PQclear).get()),
            "42704");
  PgResult ok = PgResult(PQexecPrepared(conn(), "s1", 1, two, nullptr, nullptr, 0), &PQclear);
  EXPECT_EQ(Column(ok.get()), std::vector<std::string>{"a"});
  EXPECT_TRUE(EchoWorks(conn()));
}

// Reads a CopyOut to its end; returns the chunks, or fails the test.
std::vector<std::string> ReadCopyOut(PGconn* conn) {
  std::vector<std::string> chunks;
  for (;;) {
    bool done = false;
    std::optional<std::string> data = GetCopyData(conn, 10s, &done);
    EXPECT_TRUE(data.has_value()) << PQerrorMessage(conn);
    if (!data || done) return chunks;
    chunks.push_back(*data);
  }
}

TEST_F(PqServerTest, CopyOutThroughSimpleAndExtendedQuery) {
  std::vector<std::string> expected = {"chunk 0\n", "chunk 1\n", "chunk 2\n", "chunk 3\n", "chunk 4\n"};
  for (bool extended : {false, true}) {
    PgResult res = extended ? ExecParams(conn(), "copyout $1", {"5"}) : Exec(conn(), "copyout 5");
    ASSERT_EQ(PQresultStatus(res.get()), PGRES_COPY_OUT) << PQresultErrorMessage(res.get());
    EXPECT_EQ(ReadCopyOut(conn()), expected);
    std::vector<PgResult> results = DrainResults(conn());
    ASSERT_EQ(results.size(), 1u);
    EXPECT_EQ(PQresultStatus(results[0].get()), PGRES_COMMAND_OK);
    EXPECT_STREQ(PQcmdTuples(results[0].get()), "5");
    ASSERT_TRUE(EchoWorks(conn())) << "extended=" << extended;
  }
}

TEST_F(PqServerTest, CopyOutErrorMidStreamIsReported) {
  PgResult res = Exec(conn(), "copyout_fail 3");
  ASSERT_EQ(PQresultStatus(res.get()), PGRES_COPY_OUT);
  EXPECT_EQ(ReadCopyOut(conn()).size(), 3u);
  std::vector<PgResult> results = DrainResults(conn());
  ASSERT_FALSE(results.empty());
  EXPECT_EQ(SqlState(results.back().get()), "58030");
  EXPECT_TRUE(EchoWorks(conn()));
}

std::string TestPayload(int chunk, int size) {
  std::string s;
  for (int i = 0; i < size; ++i) s.push_back(static_cast<char>((chunk * 31 + i * 7) & 0xff));  // includes NULs
  return s;
}

TEST_F(PqServerTest, CopyInThroughSimpleAndExtendedQuery) {
  for (bool extended : {false, true}) {
    PgResult res = extended ? ExecParams(conn(), "copyin", {}) : Exec(conn(), "copyin");
    ASSERT_EQ(PQresultStatus(res.get()), PGRES_COPY_IN) << PQresultErrorMessage(res.get());
    std::string sent;
    for (int i = 0; i < 100; ++i) {
      std::string chunk = TestPayload(i, 1000 + i);
      sent += chunk;
      ASSERT_EQ(PQputCopyData(conn(), chunk.data(), static_cast<int>(chunk.size())), 1);
    }
    ASSERT_EQ(PQputCopyEnd(conn(), nullptr), 1);
    std::vector<PgResult> results = DrainResults(conn());
    ASSERT_EQ(results.size(), 1u);
    EXPECT_EQ(PQresultStatus(results[0].get()), PGRES_COMMAND_OK) << PQresultErrorMessage(results[0].get());
    EXPECT_STREQ(PQcmdTuples(results[0].get()), "100");
    {
      std::lock_guard<std::mutex> lock(server_.state().mu);
      EXPECT_EQ(server_.state().copyin_chunks, 100);
      EXPECT_TRUE(server_.state().last_copyin == sent) << "extended=" << extended;
    }
    ASSERT_TRUE(EchoWorks(conn())) << "extended=" << extended;
  }
}

// Sends `chunks` CopyData (stopping early if libpq saw the copy end) and
// CopyDone; returns the results that follow.
std::vector<PgResult> FeedCopyIn(PGconn* conn, int chunks, const char* fail_reason = nullptr) {
  for (int i = 0; i < chunks; ++i) {
    if (PQputCopyData(conn, "data", 4) != 1) break;
  }
  PQputCopyEnd(conn, fail_reason);
  return DrainResults(conn);
}

TEST_F(PqServerTest, CopyInHandlerErrorDropsTheRestOfTheCopy) {
  for (int round = 0; round < 2; ++round) {
    for (bool extended : {false, true}) {
      PgResult res = extended ? ExecParams(conn(), "copyin $1", {"3"}) : Exec(conn(), "copyin 3");
      ASSERT_EQ(PQresultStatus(res.get()), PGRES_COPY_IN);
      std::vector<PgResult> results = FeedCopyIn(conn(), 50);
      ASSERT_FALSE(results.empty());
      EXPECT_EQ(SqlState(results.back().get()), "22023");
      EXPECT_NE(ErrorMessage(results.back().get()).find("refusing chunk 3"), std::string::npos);
      ASSERT_TRUE(EchoWorks(conn(), "round" + std::to_string(round))) << "extended=" << extended;
    }
  }
}

TEST_F(PqServerTest, CopyFailFromTheClientIsAnError) {
  for (bool extended : {false, true}) {
    PgResult res = extended ? ExecParams(conn(), "copyin", {}) : Exec(conn(), "copyin");
    ASSERT_EQ(PQresultStatus(res.get()), PGRES_COPY_IN);
    std::vector<PgResult> results = FeedCopyIn(conn(), 5, "client gave up");
    ASSERT_FALSE(results.empty());
    EXPECT_EQ(PQresultStatus(results.back().get()), PGRES_FATAL_ERROR);
    EXPECT_NE(ErrorMessage(results.back().get()).find("client gave up"), std::string::npos);
    ASSERT_TRUE(EchoWorks(conn())) << "extended=" << extended;
  }
}

// Sends `n` requests into a CopyBoth before reading any reply, then checks
// every reply arrives, in order, without the client ever flushing the
// server (the server flushes when its read would block).
void PipelineCopyBoth(PGconn* conn, int n) {
  for (int i = 0; i < n; ++i) {
    std::string request = "req " + std::to_string(i);
    ASSERT_EQ(PQputCopyData(conn, request.data(), static_cast<int>(request.size())), 1);
  }
  ASSERT_EQ(PQflush(conn), 0);
  for (int i = 0; i < n; ++i) {
    bool done = false;
    std::optional<std::string> reply = GetCopyData(conn, 10s, &done);
    ASSERT_TRUE(reply.has_value() && !done) << "reply " << i << " missing: " << PQerrorMessage(conn);
    ASSERT_EQ(*reply, "re:req " + std::to_string(i));
  }
  ASSERT_EQ(PQputCopyEnd(conn, nullptr), 1);
  bool done = false;
  std::optional<std::string> end = GetCopyData(conn, 10s, &done);
  ASSERT_TRUE(end.has_value() && done) << "expected the server's CopyDone";
  std::vector<PgResult> results = DrainResults(conn);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(PQresultStatus(results[0].get()), PGRES_COMMAND_OK) << PQresultErrorMessage(results[0].get());
}

TEST_F(PqServerTest, CopyBothAnswersPipelinedRequestsInOrder) {
  for (bool extended : {false, true}) {
    PgResult res = extended ? ExecParams(conn(), "copyboth", {}) : Exec(conn(), "copyboth");
    ASSERT_EQ(PQresultStatus(res.get()), PGRES_COPY_BOTH) << PQresultErrorMessage(res.get());
    PipelineCopyBoth(conn(), 2000);
    ASSERT_TRUE(EchoWorks(conn())) << "extended=" << extended;
  }
}

TEST_F(PqServerTest, LargeRowsAreDeliveredWhole) {
  PgResult res = Exec(conn(), "big 5000000");
  ASSERT_EQ(PQresultStatus(res.get()), PGRES_TUPLES_OK);
  EXPECT_EQ(PQgetlength(res.get(), 0, 0), 5000000);
  PgResult copy = Exec(conn(), "copyout 40 100000");
  ASSERT_EQ(PQresultStatus(copy.get()), PGRES_COPY_OUT);
  std::vector<std::string> chunks = ReadCopyOut(conn());
  ASSERT_EQ(chunks.size(), 40u);
  EXPECT_EQ(chunks[39], std::string(100000, 'c'));
  DrainResults(conn());
  EXPECT_TRUE(EchoWorks(conn()));
}

TEST_F(PqServerTest, SessionSeesStartupParametersAndItsOwnId) {
  PgResult res = Exec(conn(), "session");
  ASSERT_EQ(PQresultStatus(res.get()), PGRES_TUPLES_OK);
  EXPECT_STREQ(PQgetvalue(res.get(), 0, 1), "pqtest");
  uint64_t id = std::stoull(PQgetvalue(res.get(), 0, 0));
  EXPECT_EQ(static_cast<uint32_t>(PQbackendPID(conn())), static_cast<uint32_t>(id));
  PgConn other = Connect(server_.ConnInfo());
  PgResult res2 = Exec(other.get(), "session");
  EXPECT_NE(std::stoull(PQgetvalue(res2.get(), 0, 0)), id);
  EXPECT_TRUE(PQgetisnull(res2.get(), 0, 1));
  EXPECT_STREQ(PQparameterStatus(conn(), "server_version"), "15.0");
  EXPECT_STREQ(PQparameterStatus(conn(), "integer_datetimes"), "on");
  EXPECT_STREQ(PQparameterStatus(conn(), "standard_conforming_strings"), "on");
  EXPECT_STREQ(PQparameterStatus(conn(), "DateStyle"), "ISO, MDY");
  EXPECT_STREQ(PQparameterStatus(conn(), "client_encoding"), "UTF8");
}

// ---- psql ----------------------------------------------------------------------

class PqPsqlTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.Start().ok()); }
  zenith::testing::RunResult Psql(const std::string& command, const std::string& input = "") {
    return zenith::testing::RunCommand(
        {zenith::testing::PgBin("psql"), "-X", "-A", "-t", "-q", "-h", server_.dir(), "-p",
         std::to_string(TestServer::kPort), "-U", "tester", "-d", "zenith", "-c", command},
        {.input = input, .timeout = std::chrono::seconds(30)});
  }
  TestServer server_;
};

TEST_F(PqPsqlTest, PsqlGetsRows) {
  zenith::testing::RunResult r = Psql("echo hi there");
  ASSERT_TRUE(r.ok()) << r.Describe();
  EXPECT_EQ(r.out, "hi\nthere\n");
}

TEST_F(PqPsqlTest, PsqlReportsErrorsWithExitCode) {
  zenith::testing::RunResult r = Psql("fail not_found branch 'x' does not exist");
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_NE(r.err.find("ERROR:  branch 'x' does not exist"), std::string::npos) << r.err;
}

// psql writes a CopyOut to stdout. (It refuses a CopyIn for any query it does
// not itself recognise as COPY ... FROM STDIN, so copy-in commands are for
// libpq clients.)
TEST_F(PqPsqlTest, PsqlWritesCopyOutToStdout) {
  zenith::testing::RunResult out = Psql("copyout 3");
  ASSERT_TRUE(out.ok()) << out.Describe();
  EXPECT_EQ(out.out, "chunk 0\nchunk 1\nchunk 2\n");
}

// ---- Concurrency, limits, lifecycle ---------------------------------------------

TEST(PqServerLifecycle, ServesFiftyConcurrentConnections) {
  TestServer server;
  ASSERT_TRUE(server.Start().ok());
  std::atomic<int> good{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 50; ++t) {
    clients.emplace_back([&, t] {
      PgConn conn = Connect(server.ConnInfo());
      if (PQstatus(conn.get()) != CONNECTION_OK) return;
      for (int i = 0; i < 20; ++i) {
        std::string word = std::to_string(t) + "_" + std::to_string(i);
        PgResult res = i % 2 ? ExecParams(conn.get(), "echo $1", {word.c_str()}) : Exec(conn.get(), "echo " + word);
        if (Column(res.get()) != std::vector<std::string>{word}) return;
      }
      good.fetch_add(1);
    });
  }
  for (auto& c : clients) c.join();
  EXPECT_EQ(good.load(), 50);
  EXPECT_TRUE(server.WaitIdle(5s));
}

TEST(PqServerLifecycle, RefusesConnectionsBeyondTheLimit) {
  TestServer server([](PqServerOptions& o) { o.max_connections = 2; });
  ASSERT_TRUE(server.Start().ok());
  PgConn a = Connect(server.ConnInfo());
  PgConn b = Connect(server.ConnInfo());
  ASSERT_EQ(PQstatus(a.get()), CONNECTION_OK);
  ASSERT_EQ(PQstatus(b.get()), CONNECTION_OK);
  PgConn c = Connect(server.ConnInfo());
  EXPECT_EQ(PQstatus(c.get()), CONNECTION_BAD);
  EXPECT_NE(std::string(PQerrorMessage(c.get())).find("too many connections"), std::string::npos)
      << PQerrorMessage(c.get());
  RawClient raw(server.socket_path());
  ASSERT_TRUE(raw.Send(DefaultStartup()));
  std::vector<BackendMessage> reply = SplitBackend(raw.Read(2s));
  ASSERT_EQ(reply.size(), 1u);
  EXPECT_EQ(ErrorField(reply[0], 'C'), "53300");
  EXPECT_EQ(ErrorField(reply[0], 'S'), "FATAL");
  EXPECT_TRUE(raw.closed());
  EXPECT_TRUE(EchoWorks(a.get()));
  a.reset();
  zenith::testing::WaitUntil([&] { return server.server().active_connections() <= 1; }, 5s);
  EXPECT_TRUE(FreshConnectionWorks(server.ConnInfo()));
}

TEST(PqServerLifecycle, OnCloseRunsWhenTheClientVanishes) {
  TestServer server;
  ASSERT_TRUE(server.Start().ok());
  RawClient raw(server.socket_path());
  ASSERT_TRUE(raw.Startup());
  ASSERT_TRUE(raw.Send(QueryMsg("wait_close")));
  ASSERT_TRUE(FindMessage(raw.ReadUntil('Z'), 'C'));
  EXPECT_EQ(server.state().Closes(), 0);
  raw.Close();  // no Terminate
  EXPECT_TRUE(server.state().WaitForCloses(1, 5s));
  // And after an orderly Terminate.
  PgConn conn = Connect(server.ConnInfo());
  ASSERT_EQ(PQresultStatus(Exec(conn.get(), "wait_close").get()), PGRES_COMMAND_OK);
  conn.reset();
  EXPECT_TRUE(server.state().WaitForCloses(2, 5s));
}

TEST(PqServerLifecycle, StopWithOpenConnectionsIsPromptAndLeavesNoThreads) {
  int threads_before = ThreadCount();
  auto server = std::make_unique<TestServer>();
  ASSERT_TRUE(server->Start().ok());
  PgConn idle = Connect(server->ConnInfo());
  ASSERT_TRUE(EchoWorks(idle.get()));
  PgConn hooked = Connect(server->ConnInfo());
  ASSERT_EQ(PQresultStatus(Exec(hooked.get(), "wait_close").get()), PGRES_COMMAND_OK);
  PgConn copying = Connect(server->ConnInfo());
  ASSERT_EQ(PQresultStatus(Exec(copying.get(), "copyboth").get()), PGRES_COPY_BOTH);
  RawClient half(server->socket_path());
  ASSERT_TRUE(half.Send(Be32(100)));  // a startup packet that never finishes
  RawClient copyin(server->socket_path());
  ASSERT_TRUE(copyin.Startup());
  ASSERT_TRUE(copyin.Send(QueryMsg("copyin")));
  ASSERT_TRUE(FindMessage(copyin.ReadUntil('G'), 'G'));
  EXPECT_GT(ThreadCount(), threads_before + 4);
  ASSERT_EQ(server->server().active_connections(), 5);

  auto start = Clock::now();
  server->server().Stop();
  auto took = Clock::now() - start;
  EXPECT_LT(took, 2s);
  EXPECT_EQ(ThreadCount(), threads_before);
  EXPECT_EQ(server->state().Closes(), 1);
  EXPECT_EQ(server->server().active_connections(), 0);
  struct stat st;
  EXPECT_NE(::stat(server->socket_path().c_str(), &st), 0) << "the socket file is removed";
  // Clients see the end, not a hang.
  EXPECT_FALSE(EchoWorks(idle.get()));
  std::vector<BackendMessage> last = SplitBackend(copyin.Read(1s));
  ASSERT_FALSE(last.empty());
  EXPECT_EQ(ErrorField(last.back(), 'S'), "FATAL");
  EXPECT_TRUE(copyin.closed());
  server->server().Stop();  // twice is fine
  server.reset();
  EXPECT_EQ(ThreadCount(), threads_before);
}

TEST(PqServerLifecycle, StopBeforeStartAndDestructorAreSafe) {
  TestServer never_started;
  never_started.server().Stop();
  int threads_before = ThreadCount();
  {
    TestServer server;
    ASSERT_TRUE(server.Start().ok());
    PgConn conn = Connect(server.ConnInfo());
    ASSERT_TRUE(EchoWorks(conn.get()));
  }  // destructor stops
  EXPECT_EQ(ThreadCount(), threads_before);
}

TEST(PqServerLifecycle, RefusesASocketPathLongerThanSunPath) {
  zenith::testing::TempDir dir("pq");
  PqServerOptions options;
  options.unix_socket_path = UnixSocketPath(dir.path() + "/" + std::string(120, 'd'), 5432);
  PqServer server(options, CommandTable());
  Status s = server.Start();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("sun_path"), std::string::npos) << s.ToString();
}

TEST(PqServerLifecycle, ReplacesAStaleSocketButNotALiveOneOrAFile) {
  zenith::testing::TempDir dir("pq");
  std::string path = UnixSocketPath(dir.path(), 5433);
  {
    // A socket file nobody listens on, as a crashed server leaves it.
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    ASSERT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  }
  PqServerOptions options;
  options.unix_socket_path = path;
  auto state = std::make_shared<TestState>();
  PqServer first(options, MakeTestCommands(state));
  ASSERT_TRUE(first.Start().ok());
  PqServer second(options, MakeTestCommands(state));
  EXPECT_EQ(second.Start().code(), StatusCode::kBusy);
  second.Stop();
  EXPECT_TRUE(FreshConnectionWorks("host=" + dir.path() + " port=5433 user=t connect_timeout=5"))
      << "the live server keeps its socket";
  first.Stop();

  std::string file_path = UnixSocketPath(dir.path(), 5434);
  ASSERT_TRUE(zenith::testing::RunCommand({"touch", file_path}).ok());
  options.unix_socket_path = file_path;
  PqServer third(options, MakeTestCommands(state));
  EXPECT_EQ(third.Start().code(), StatusCode::kAlreadyExists);
  struct stat st;
  EXPECT_EQ(::stat(file_path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
}

TEST(PqServerLifecycle, PlainTcpListensOnlyWhenAllowedByName) {
  TestServer refused([](PqServerOptions& o) {
    o.unix_socket_path.clear();
    o.tcp_port = 0;
  });
  Status s = refused.Start();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("TLS"), std::string::npos) << s.ToString();

  TestServer server([](PqServerOptions& o) {
    o.unix_socket_path.clear();
    o.tcp_port = 0;
    o.allow_plain_tcp = true;
  });
  ASSERT_TRUE(server.Start().ok());
  ASSERT_TRUE(server.server().tcp_port().has_value());
  std::string base = "host=127.0.0.1 port=" + std::to_string(*server.server().tcp_port()) +
                     " user=t dbname=z connect_timeout=5 gssencmode=disable ";
  EXPECT_TRUE(FreshConnectionWorks(base + "sslmode=prefer"));  // SSLRequest, 'N', then plain text
  PgConn required = Connect(base + "sslmode=require");
  EXPECT_EQ(PQstatus(required.get()), CONNECTION_BAD);
}

// ---- TLS ---------------------------------------------------------------------

TEST(PqServerTls, VerifiedTlsWithChannelBindingServesTheProtocol) {
  TlsTestServer server;
  ASSERT_TRUE(server.Start().ok());
  // channel_binding=require: libpq fails unless SCRAM-SHA-256-PLUS was
  // offered, chosen and its server signature verified.
  PgConn conn = Connect(server.ConnInfo("sslmode=verify-full channel_binding=require"));
  ASSERT_EQ(PQstatus(conn.get()), CONNECTION_OK) << PQerrorMessage(conn.get());
  EXPECT_EQ(PQsslInUse(conn.get()), 1);
  const char* protocol = PQsslAttribute(conn.get(), "protocol");
  ASSERT_NE(protocol, nullptr);
  EXPECT_TRUE(std::string(protocol) == "TLSv1.2" || std::string(protocol) == "TLSv1.3") << protocol;
  EXPECT_TRUE(EchoWorks(conn.get()));
  // Large replies and COPY go through TLS records as they went through the socket.
  PgResult big = Exec(conn.get(), "big 3000000");
  ASSERT_EQ(PQresultStatus(big.get()), PGRES_TUPLES_OK) << PQerrorMessage(conn.get());
  EXPECT_EQ(std::string(PQgetvalue(big.get(), 0, 0)).size(), 3000000u);
  EXPECT_TRUE(EchoWorks(conn.get(), "after"));
  // Without channel binding (SCRAM-SHA-256, as older clients do) it still works.
  EXPECT_TRUE(FreshConnectionWorks(server.ConnInfo("sslmode=verify-full channel_binding=disable")));
  PgConn wrong = Connect(server.ConnInfo("sslmode=verify-full channel_binding=require password=nope"));
  EXPECT_EQ(PQstatus(wrong.get()), CONNECTION_BAD);
  EXPECT_NE(std::string(PQerrorMessage(wrong.get())).find("password authentication failed"), std::string::npos)
      << PQerrorMessage(wrong.get());
}

TEST(PqServerTls, PlainTcpIsRefusedUnlessAllowed) {
  TlsTestServer server;
  ASSERT_TRUE(server.Start().ok());
  PgConn plain = Connect(server.ConnInfo("sslmode=disable"));
  EXPECT_EQ(PQstatus(plain.get()), CONNECTION_BAD);
  const std::string error = PQerrorMessage(plain.get());
  EXPECT_NE(error.find("the page server requires TLS: connect with sslmode=verify-full sslrootcert=.zenith/ca.crt"),
            std::string::npos)
      << error;
  // The refusal comes before any password exchange: nothing in clear.
  EXPECT_EQ(error.find("password"), std::string::npos) << error;
  EXPECT_TRUE(server.test_server().WaitIdle(5s));

  TlsTestServer allowing([](PqServerOptions& o) { o.allow_plain_tcp = true; });
  ASSERT_TRUE(allowing.Start().ok());
  EXPECT_TRUE(FreshConnectionWorks(allowing.ConnInfo("sslmode=disable")));
  EXPECT_TRUE(FreshConnectionWorks(allowing.ConnInfo("sslmode=verify-full channel_binding=require")));
}

TEST(PqServerTls, AClientTrustingAnotherCaRefusesTheServer) {
  TlsTestServer server;
  ASSERT_TRUE(server.Start().ok());
  TestCertificates other;
  PgConn conn = Connect(server.ConnInfo("sslmode=verify-ca sslrootcert=" + other.ca_file()));
  EXPECT_EQ(PQstatus(conn.get()), CONNECTION_BAD);
  EXPECT_NE(std::string(PQerrorMessage(conn.get())).find("certificate verify failed"), std::string::npos)
      << PQerrorMessage(conn.get());
  EXPECT_TRUE(FreshConnectionWorks(server.ConnInfo()));
}

TEST(PqServerTls, TheUnixSocketStillDeclinesSsl) {
  TlsTestServer server;
  ASSERT_TRUE(server.Start().ok());
  RawClient raw(server.test_server().socket_path());
  ASSERT_TRUE(raw.Send(Be32(8) + Be32(pq::kSslRequestCode)));
  EXPECT_EQ(raw.Read(1s, 2s), "N");
  ASSERT_TRUE(raw.Startup());
  EXPECT_TRUE(FreshConnectionWorks(server.test_server().ConnInfo()));
}

}  // namespace
}  // namespace zenith::pageserver::testing
