// The page server's limits against strangers (PqServer with
// connection_limits.h), with real sockets: unauthenticated caps overall and
// per address, the Unix socket's own pool, failed logins slowed, idle and
// unread connections closed, prepared statements bounded, the log escaped.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <sstream>

#include "common/metrics.h"
#include "pageserver/metrics/server_metrics.h"
#include "tests/unit/pageserver/pq_test_support.h"
#include "tests/unit/pageserver/tls_test_support.h"

namespace zenith::pageserver::testing {
namespace {

// A TCP connection to 127.0.0.1:port from the loopback address `from`
// (127.0.0.2, 127.0.0.3, ...: another "machine" as the server counts them).
UniqueFd ConnectFrom(const std::string& from, uint16_t port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in local{};
  local.sin_family = AF_INET;
  ::inet_pton(AF_INET, from.c_str(), &local.sin_addr);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) return {};
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return {};
  return fd;
}

// The server closed `fd` within `timeout` (read sees end of stream or reset).
bool ClosedByServer(int fd, std::chrono::milliseconds timeout) {
  pollfd pfd = {fd, POLLIN, 0};
  if (::poll(&pfd, 1, static_cast<int>(timeout.count())) <= 0) return false;
  char c;
  return ::recv(fd, &c, 1, MSG_DONTWAIT) <= 0;
}

std::string TcpConnInfo(TestServer& server, const std::string& extra = "") {
  return "host=127.0.0.1 port=" + std::to_string(*server.server().tcp_port()) +
         " user=tester dbname=zenith connect_timeout=10 sslmode=disable gssencmode=disable " + extra;
}

// A plain-TCP trusted server (no password) with these caps.
std::function<void(PqServerOptions&)> PlainTcp(int overall, int per_address,
                                               const std::function<void(PqServerOptions&)>& more = {}) {
  return [=](PqServerOptions& o) {
    o.tcp_port = 0;
    o.allow_plain_tcp = true;
    o.tcp_limits.max_unauthenticated = overall;
    o.tcp_limits.max_unauthenticated_per_address = per_address;
    if (more) more(o);
  };
}

TEST(PqLimits, OneAddressCannotTakeMoreThanItsUnauthenticatedSlots) {
  TestServer server(PlainTcp(8, 2));
  ASSERT_TRUE(server.Start().ok());
  const uint16_t port = *server.server().tcp_port();
  UniqueFd a = ConnectFrom("127.0.0.2", port), b = ConnectFrom("127.0.0.2", port);
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(zenith::testing::WaitUntil([&] { return server.server().unauthenticated_connections() == 2; }, 5s));
  UniqueFd c = ConnectFrom("127.0.0.2", port);
  ASSERT_TRUE(c);
  EXPECT_TRUE(ClosedByServer(c.get(), 2s)) << "a third silent connection from one address is closed at once";
  EXPECT_FALSE(ClosedByServer(a.get(), 200ms)) << "the first ones wait for their startup deadline";
  EXPECT_TRUE(FreshConnectionWorks(TcpConnInfo(server))) << "another address still gets in";
  EXPECT_TRUE(FreshConnectionWorks(server.ConnInfo()));
}

TEST(PqLimits, StrangersHoldingEveryTcpSlotDoNotStopTheUnixSocketOrAnotherClient) {
  TestServer server(PlainTcp(4, 2, [](PqServerOptions& o) { o.startup_timeout = 30s; }));
  ASSERT_TRUE(server.Start().ok());
  const uint16_t port = *server.server().tcp_port();
  std::vector<UniqueFd> held;
  for (const char* from : {"127.0.0.2", "127.0.0.3", "127.0.0.4"}) {
    for (int i = 0; i < 2; ++i) held.push_back(ConnectFrom(from, port));
  }
  ASSERT_TRUE(zenith::testing::WaitUntil([&] { return server.server().unauthenticated_connections() == 4; }, 5s));
  UniqueFd late = ConnectFrom("127.0.0.5", port);
  EXPECT_TRUE(ClosedByServer(late.get(), 2s)) << "past the overall cap a new stranger is closed at once";
  auto start = Clock::now();
  EXPECT_TRUE(FreshConnectionWorks(server.ConnInfo())) << "the Unix socket is not counted with strangers";
  EXPECT_LT(Clock::now() - start, 2s);
  held.clear();  // the strangers leave: TCP serves again
  ASSERT_TRUE(zenith::testing::WaitUntil([&] { return server.server().unauthenticated_connections() == 0; }, 5s));
  EXPECT_TRUE(FreshConnectionWorks(TcpConnInfo(server)));
}

uint64_t CounterValue(const std::string& name, const metrics::Labels& labels = {}) {
  return metrics::Global().GetCounter(name, "", labels).value();
}

TEST(PqLimits, RefusedAndOpenConnectionsAreCountedInTheMetrics) {
  RegisterServerMetrics();
  TestServer server(PlainTcp(8, 1));
  ASSERT_TRUE(server.Start().ok());
  const uint16_t port = *server.server().tcp_port();
  UniqueFd a = ConnectFrom("127.0.0.2", port);
  ASSERT_TRUE(zenith::testing::WaitUntil([&] { return server.server().unauthenticated_connections() == 1; }, 5s));
  UniqueFd b = ConnectFrom("127.0.0.2", port);
  ASSERT_TRUE(ClosedByServer(b.get(), 2s));
  EXPECT_EQ(CounterValue("zenith_connections_refused_total", {{"reason", "unauthenticated_cap"}}), 1u);
  EXPECT_EQ(CounterValue("zenith_connections_total", {{"kind", "tcp"}}), 1u) << "the first one is being served";
  PgConn u = Connect(server.ConnInfo());
  ASSERT_TRUE(EchoWorks(u.get()));
  EXPECT_EQ(metrics::Global().GetGauge("zenith_connections_open", "", {{"kind", "unix"}}).value(), 1);
  u.reset();
  EXPECT_TRUE(zenith::testing::WaitUntil(
      [] { return metrics::Global().GetGauge("zenith_connections_open", "", {{"kind", "unix"}}).value() == 0; }, 5s));
  EXPECT_GE(CounterValue("zenith_connections_total", {{"kind", "unix"}}), 1u);
}

TEST(PqLimits, TheUnixSocketHasItsOwnPoolOfConnections) {
  TestServer server(PlainTcp(8, 8, [](PqServerOptions& o) { o.max_connections = 2; }));
  ASSERT_TRUE(server.Start().ok());
  PgConn t1 = Connect(TcpConnInfo(server)), t2 = Connect(TcpConnInfo(server));
  ASSERT_EQ(PQstatus(t1.get()), CONNECTION_OK);
  ASSERT_EQ(PQstatus(t2.get()), CONNECTION_OK);
  PgConn t3 = Connect(TcpConnInfo(server));
  EXPECT_NE(PQstatus(t3.get()), CONNECTION_OK) << "TCP's pool is full";
  PgConn u1 = Connect(server.ConnInfo()), u2 = Connect(server.ConnInfo());
  EXPECT_TRUE(EchoWorks(u1.get())) << "the Unix socket does not wait for TCP's slots";
  EXPECT_TRUE(EchoWorks(u2.get()));
}

TEST(PqLimits, FailedLoginsFromOneAddressAreSlowedButTheUnixSocketIsNot) {
  TlsTestServer server([](PqServerOptions& o) {
    o.tcp_limits.failed_login_delay_base = 200ms;
    o.tcp_limits.failed_login_delay_max = 2s;
  });
  ASSERT_TRUE(server.Start().ok());
  const std::string wrong = server.ConnInfo("sslmode=verify-full password=wrong");
  std::vector<std::chrono::milliseconds> took;
  for (int i = 0; i < 4; ++i) {
    auto start = Clock::now();
    PgConn conn = Connect(wrong);
    ASSERT_NE(PQstatus(conn.get()), CONNECTION_OK);
    ASSERT_NE(std::string(PQerrorMessage(conn.get())).find("password authentication failed"), std::string::npos);
    took.push_back(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start));
  }
  EXPECT_GE(took[0], 150ms);
  EXPECT_GE(took[3], 1500ms) << "the fourth failure waits 200 ms * 2^3";
  // While a guess is held back, the owner's socket answers at once.
  std::thread guess([&] { Connect(wrong); });
  std::this_thread::sleep_for(100ms);
  auto start = Clock::now();
  EXPECT_TRUE(FreshConnectionWorks(server.test_server().ConnInfo()));
  EXPECT_LT(Clock::now() - start, 1s);
  guess.join();
  // The right password still gets in, and clears the address's record.
  EXPECT_TRUE(FreshConnectionWorks(server.ConnInfo()));
  start = Clock::now();
  Connect(wrong);
  EXPECT_LT(Clock::now() - start, 1s);
  EXPECT_EQ(CounterValue("zenith_failed_logins_total"), 6u) << "four, the held-back guess and the last";
}

TEST(PqLimits, AnIdleTcpConnectionWithoutALeaseIsClosed) {
  TestServer server(PlainTcp(8, 8, [](PqServerOptions& o) { o.tcp_idle_timeout = 500ms; }));
  ASSERT_TRUE(server.Start().ok());
  PgConn idle = Connect(TcpConnInfo(server));
  PgConn leased = Connect(TcpConnInfo(server));
  PgConn local = Connect(server.ConnInfo());
  ASSERT_TRUE(EchoWorks(idle.get()));
  PgResult lease = Exec(leased.get(), "wait_close");  // registers an OnClose hook, as a lease does
  ASSERT_EQ(PQresultStatus(lease.get()), PGRES_COMMAND_OK);
  std::this_thread::sleep_for(1500ms);
  EXPECT_FALSE(EchoWorks(idle.get())) << "idle past idle_timeout without a lease";
  EXPECT_NE(std::string(PQerrorMessage(idle.get())).find("idle"), std::string::npos) << PQerrorMessage(idle.get());
  EXPECT_TRUE(EchoWorks(leased.get())) << "a connection holding a lease stays";
  EXPECT_TRUE(EchoWorks(local.get())) << "the owner's socket has no idle timeout";
}

TEST(PqLimits, AClientThatStopsReadingIsClosed) {
  TestServer server(PlainTcp(8, 8, [](PqServerOptions& o) { o.tcp_send_timeout = 500ms; }));
  ASSERT_TRUE(server.Start().ok());
  RawClient client(*server.server().tcp_port());
  ASSERT_TRUE(client.Startup());
  ASSERT_TRUE(client.Send(QueryMsg("copyout 100000 65536")));  // 6.5 GB it never reads
  EXPECT_TRUE(server.WaitIdle(10s)) << "the connection whose replies stay unread ends";
}

TEST(PqLimits, PreparedStatementsAreBoundedInBytes) {
  TestServer server;
  ASSERT_TRUE(server.Start().ok());
  RawClient client(server.socket_path());
  ASSERT_TRUE(client.Startup());
  const std::string arg(900 << 10, 'a');
  std::string batch;
  for (int i = 0; i < 20; ++i) batch += ParseMsg("s" + std::to_string(i), "echo " + arg);
  ASSERT_TRUE(client.Send(batch + SyncMsg()));
  auto got = client.ReadUntil('Z', 20s);
  const BackendMessage* error = FindMessage(got, 'E');
  ASSERT_NE(error, nullptr) << "20 statements of 900 KB pass the 16 MB bound";
  EXPECT_NE(ErrorField(*error, 'M').find("Close some first"), std::string::npos) << ErrorField(*error, 'M');
  // Closing some makes room again.
  std::string close;
  for (int i = 0; i < 10; ++i) close += Message('C', "S" + CStr("s" + std::to_string(i)));
  ASSERT_TRUE(client.Send(close + ParseMsg("again", "echo x") + SyncMsg()));
  got = client.ReadUntil('Z', 20s);
  EXPECT_EQ(FindMessage(got, 'E'), nullptr);
  EXPECT_NE(FindMessage(got, '1'), nullptr);
}

// Sends the default logger's lines to a string while it lives.
class CapturedLog {
 public:
  CapturedLog() : previous_(spdlog::default_logger()) {
    auto logger = std::make_shared<spdlog::logger>("capture", std::make_shared<spdlog::sinks::ostream_sink_mt>(stream_));
    logger->set_level(spdlog::level::debug);
    spdlog::set_default_logger(logger);
  }
  ~CapturedLog() { spdlog::set_default_logger(previous_); }
  std::string text() const { return stream_.str(); }

 private:
  std::ostringstream stream_;
  std::shared_ptr<spdlog::logger> previous_;
};

TEST(PqLimits, ClientStringsAreEscapedInTheLog) {
  CapturedLog captured;
  {
    TestServer server;
    ASSERT_TRUE(server.Start().ok());
    RawClient client(server.socket_path());
    ASSERT_TRUE(client.Send(StartupPacket({{"user", "eve\n2026-01-01 info: forged"},
                                           {"database", "d\x1b[2J"},
                                           {"application_name", "app\r\n"}})));
    ASSERT_NE(FindMessage(client.ReadUntil('Z'), 'Z'), nullptr);
    ASSERT_TRUE(client.Send(QueryMsg("no\x1b[2Jsuch")));
    client.ReadUntil('Z');
    client.Close();
    server.WaitIdle(5s);
  }
  const std::string log = captured.text();
  EXPECT_NE(log.find("user=eve\\n2026-01-01 info: forged"), std::string::npos) << log;
  EXPECT_NE(log.find("d\\x1b[2J"), std::string::npos) << log;
  EXPECT_EQ(log.find("\nforged"), std::string::npos) << "no client text starts a line of its own:\n" << log;
  EXPECT_EQ(log.find("\n2026-01-01 info: forged"), std::string::npos) << log;
  EXPECT_EQ(log.find('\x1b'), std::string::npos) << "no escape sequence from the database name or the command";
  EXPECT_NE(log.find("no\\x1b[2Jsuch"), std::string::npos) << log;
}

}  // namespace
}  // namespace zenith::pageserver::testing
