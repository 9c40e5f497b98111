// put_wal and wal_token (pageserver/repo/wal_receiver.h): a remote mount's WAL
// arrives on a connection proving the lease with its token, is durable in
// wal/ before it is answered, and nothing but the lease's current stream
// writes; a stalled stream holds up neither the lease's end nor a stop.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <chrono>
#include <thread>

#include "common/byte_io.h"
#include "pageserver/api/wal_stream_protocol.h"
#include "tests/harness/wait.h"
#include "tests/unit/pageserver/repo_test_support.h"

namespace zenith::pageserver::testing {
namespace {

using namespace std::chrono_literals;

class PutWalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Status s = repo_.Create();
    ASSERT_TRUE(s.ok()) << s.ToString();
    auto server = InProcessServer::Start(repo_.root());
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(*server);
    lease_ = Client();
    ASSERT_TRUE(lease_->Query("attach main /mnt/remote 4242").ok());
    auto token = lease_->Query("wal_token main");
    ASSERT_TRUE(token.ok()) << token.status().ToString();
    token_ = token->at(0).at(0);
    auto end = server_->repo().FindTimeline("main").value()->EndOfWal();
    ASSERT_TRUE(end.ok());
    end_ = *end;
  }

  std::unique_ptr<PageServerClient> Client() {
    auto c = server_->Client();
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? std::move(*c) : nullptr;
  }

  // put_wal on a new connection; where it starts.
  Result<Lsn> OpenStream(PageServerClient& c, const std::string& token) {
    ZENITH_RETURN_IF_ERROR(c.BeginCopyBoth("put_wal main " + token));
    ZENITH_ASSIGN_OR_RETURN(std::string msg, c.ReceiveCopyData());
    return DecodeWalPosition(AsBytes(msg));
  }
  static Result<Lsn> Send(PageServerClient& c, Lsn at, const std::string& wal) {
    std::string msg;
    AppendWalChunk(&msg, at, AsBytes(wal));
    ZENITH_RETURN_IF_ERROR(c.SendCopyData(AsBytes(msg)));
    ZENITH_RETURN_IF_ERROR(c.Flush());
    ZENITH_ASSIGN_OR_RETURN(std::string reply, c.ReceiveCopyData());
    return DecodeWalPosition(AsBytes(reply));
  }
  // The timeline's WAL bytes at [at, at + n).
  std::string WalAt(Lsn at, size_t n) {
    auto read = server_->repo().FindTimeline("main").value()->MakeWalReader();
    std::string out(n, '\0');
    auto got = read(at, std::span(reinterpret_cast<uint8_t*>(out.data()), n));
    EXPECT_TRUE(got.ok() && *got == n);
    return out;
  }

  TestRepo repo_{"put-wal"};
  std::unique_ptr<InProcessServer> server_;
  std::unique_ptr<PageServerClient> lease_;
  std::string token_;
  Lsn end_;
};

TEST_F(PutWalTest, WalIsWrittenAtTheEndOfWalAndAnsweredWithItsDurableEnd) {
  auto stream = Client();
  auto start = OpenStream(*stream, token_);
  ASSERT_TRUE(start.ok()) << start.status().ToString();
  EXPECT_EQ(*start, end_) << "the stream starts where the timeline's WAL ends";
  const std::string a(3000, 'a'), b(70000, 'b');
  auto flushed = Send(*stream, *start, a);
  ASSERT_TRUE(flushed.ok()) << flushed.status().ToString();
  EXPECT_EQ(*flushed, *start + a.size());
  flushed = Send(*stream, *flushed, b);
  ASSERT_TRUE(flushed.ok()) << flushed.status().ToString();
  EXPECT_EQ(*flushed, *start + a.size() + b.size());
  EXPECT_EQ(WalAt(*start, a.size() + b.size()), a + b);

  // A gap is refused, and ends the stream.
  auto gap = Send(*stream, *flushed + 8, "x");
  EXPECT_EQ(gap.status().code(), StatusCode::kInvalidArgument) << gap.status().ToString();

  // The bytes are no complete record: the next stream starts at the end of
  // WAL again, with what a dead compute left after it zeroed.
  auto again = Client();
  auto restart = OpenStream(*again, token_);
  ASSERT_TRUE(restart.ok()) << restart.status().ToString();
  EXPECT_EQ(*restart, end_);
  EXPECT_EQ(WalAt(end_, a.size()), std::string(a.size(), '\0'));
}

TEST_F(PutWalTest, OnlyTheLeasesCurrentTokenMayWrite) {
  auto stranger = Client();
  EXPECT_EQ(OpenStream(*stranger, std::string(64, '0')).status().code(), StatusCode::kPermissionDenied);
  auto no_lease = Client();
  EXPECT_EQ(no_lease->Query("wal_token main").status().code(), StatusCode::kBusy) << "wal_token needs the lease";

  // A new token voids the old one, and the stream opened with it.
  auto stream = Client();
  auto start = OpenStream(*stream, token_);
  ASSERT_TRUE(start.ok()) << start.status().ToString();
  auto renewed = lease_->Query("wal_token main");
  ASSERT_TRUE(renewed.ok());
  ASSERT_NE(renewed->at(0).at(0), token_);
  EXPECT_EQ(Send(*stream, *start, "late").status().code(), StatusCode::kBusy);
  auto old = Client();
  EXPECT_EQ(OpenStream(*old, token_).status().code(), StatusCode::kPermissionDenied);

  // The lease ends: so does its token.
  lease_.reset();
  ASSERT_TRUE(WaitUntil([&] { return server_->repo().Mounts().empty(); }, 5s));
  auto after = Client();
  EXPECT_EQ(OpenStream(*after, renewed->at(0).at(0)).status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(WalAt(end_, 4), std::string(4, '\0')) << "nothing was written";
}

TEST_F(PutWalTest, CallMeMaybeIsGone) {
  Status s = lease_->Query("callmemaybe main postgresql://127.0.0.1:5432").status();
  EXPECT_EQ(s.code(), StatusCode::kSyntax);
  EXPECT_NE(s.message().find("unknown command"), std::string::npos) << s.ToString();
}

// A put_wal client that sent half a message and went silent.
class StalledStream {
 public:
  explicit StalledStream(std::unique_ptr<PageServerClient> c) : c_(std::move(c)) {}
  Status Stall(const std::string& token) {
    ZENITH_RETURN_IF_ERROR(c_->BeginCopyBoth("put_wal main " + token));
    ZENITH_RETURN_IF_ERROR(c_->ReceiveCopyData().status());
    // CopyData announcing 1000 bytes, of which 9 come.
    const char half[] = {'d', 0, 0, 0x03, static_cast<char>(0xEC), 'W', 1, 2, 3, 4};
    if (::send(c_->socket(), half, sizeof half, MSG_NOSIGNAL) != static_cast<ssize_t>(sizeof half)) {
      return ErrnoStatus("send", errno);
    }
    return Status::Ok();
  }

 private:
  std::unique_ptr<PageServerClient> c_;
};

TEST_F(PutWalTest, AStalledStreamHoldsUpNeitherTheLeasesEndNorAStop) {
  StalledStream stalled(Client());
  ASSERT_TRUE(stalled.Stall(token_).ok());
  std::this_thread::sleep_for(200ms);  // the server is reading the message
  lease_.reset();
  ASSERT_TRUE(WaitUntil([&] { return server_->repo().Mounts().empty(); }, 5s))
      << "the lease's end waited for the stalled stream";
  auto next = Client();
  EXPECT_TRUE(next->Query("attach main /mnt/next 4343").ok());
  next.reset();

  const auto before = std::chrono::steady_clock::now();
  server_.reset();
  EXPECT_LT(std::chrono::steady_clock::now() - before, 5s) << "stopping waited for the stalled stream";
}

}  // namespace
}  // namespace zenith::pageserver::testing
