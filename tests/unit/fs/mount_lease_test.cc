// fs/mount_lease.h against a page server of the test's own (a
// LeaseConnection): the lease and the pin are taken, taken again with a new
// token after the page server restarts, and the pin follows the mount's
// stored snapshots, the old one let go a tick later.
#include "fs/mount_lease.h"

#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include "tests/harness/wait.h"

namespace zenith::fs {
namespace {

using namespace std::chrono_literals;

// The page server's memory of leases and pins: it forgets them when it
// restarts, and every connection made before then is broken.
class FakeServer {
 public:
  LeaseConnector Connector();
  void Restart() {
    std::lock_guard lock(mu_);
    ++generation_;
    holder_ = 0;
    pins_.clear();
  }
  void RefusePins(bool refuse) {
    std::lock_guard lock(mu_);
    refuse_pins_ = refuse;
  }
  std::vector<std::string> pins() {
    std::lock_guard lock(mu_);
    return pins_;
  }
  int wal_tokens() {
    std::lock_guard lock(mu_);
    return wal_tokens_;
  }

 private:
  friend class FakeConnection;
  std::mutex mu_;
  int generation_ = 1;  // guarded by mu_, and the rest
  int connections_ = 0;
  int holder_ = 0;  // the connection holding the lease, 0 for none
  int tokens_ = 0, wal_tokens_ = 0;
  bool refuse_pins_ = false;
  std::vector<std::string> pins_;  // "LSN" or "LSN+wal", in pin order
};

class FakeConnection : public LeaseConnection {
 public:
  FakeConnection(FakeServer& server, int id, int generation) : s_(server), id_(id), generation_(generation) {}

  Result<std::string> Attach(const std::string& timeline, const std::string& mountpoint, pid_t) override {
    std::lock_guard lock(s_.mu_);
    ZENITH_RETURN_IF_ERROR(Alive());
    EXPECT_EQ(timeline, "tl");
    EXPECT_EQ(mountpoint, "/m");
    if (s_.holder_ != 0 && s_.holder_ != id_) return Busy("timeline tl is already mounted read-write");
    s_.holder_ = id_;
    return "token-" + std::to_string(++s_.tokens_);
  }
  Result<std::string> PinnedBasebackup(const std::string&) override {
    std::lock_guard lock(s_.mu_);
    ZENITH_RETURN_IF_ERROR(Alive());
    s_.pins_.push_back(kFirst.ToString() + "+wal");
    return std::string("tar");
  }
  Status Pin(const std::string&, Lsn lsn, bool with_wal) override {
    std::lock_guard lock(s_.mu_);
    ZENITH_RETURN_IF_ERROR(Alive());
    if (s_.refuse_pins_) return NotFound("no snapshot at " + lsn.ToString());
    s_.pins_.push_back(lsn.ToString() + (with_wal ? "+wal" : ""));
    return Status::Ok();
  }
  Status Unpin(const std::string&, Lsn lsn) override {
    std::lock_guard lock(s_.mu_);
    ZENITH_RETURN_IF_ERROR(Alive());
    std::erase_if(s_.pins_, [&](const std::string& p) { return p.starts_with(lsn.ToString()); });
    return Status::Ok();
  }
  Result<std::string> WalToken(const std::string&) override {
    std::lock_guard lock(s_.mu_);
    ZENITH_RETURN_IF_ERROR(Alive());
    return "wal-" + std::to_string(++s_.wal_tokens_);
  }
  Status KeepAlive(const pageserver::MountStats&) override {
    std::lock_guard lock(s_.mu_);
    return Alive();
  }

  static constexpr Lsn kFirst{0x2000000};

 private:
  Status Alive() const { return generation_ == s_.generation_ ? Status::Ok() : Unavailable("connection lost"); }
  FakeServer& s_;
  const int id_, generation_;
};

LeaseConnector FakeServer::Connector() {
  return [this]() -> Result<std::unique_ptr<LeaseConnection>> {
    std::lock_guard lock(mu_);
    return std::unique_ptr<LeaseConnection>(std::make_unique<FakeConnection>(*this, ++connections_, generation_));
  };
}

const Lsn kFirst = FakeConnection::kFirst, kSecond(0x3000000);

bool Eventually(const std::function<bool()>& pred) { return zenith::testing::WaitUntil(pred, 10s); }

TEST(MountLease, TakesTheLeaseAndPinsTheBasebackupsSnapshotAndASecondMountIsBusy) {
  FakeServer server;
  MountLease lease(server.Connector(), "tl", "/m");
  ASSERT_TRUE(lease.Acquire().ok());
  EXPECT_EQ(lease.token(), "token-1");
  ASSERT_TRUE(lease.PinnedBasebackup().ok());
  EXPECT_EQ(server.pins(), std::vector<std::string>{kFirst.ToString() + "+wal"});

  MountLease second(server.Connector(), "tl", "/m");
  EXPECT_EQ(second.Acquire().code(), StatusCode::kBusy);
}

TEST(MountLease, AfterThePageServerRestartsTheLeaseAndThePinAreTakenAgainWithANewToken) {
  FakeServer server;
  MountLease lease(server.Connector(), "tl", "/m");
  ASSERT_TRUE(lease.Acquire().ok());
  ASSERT_TRUE(lease.PinnedBasebackup().ok());
  lease.SetPinned(kFirst);
  ASSERT_TRUE(lease.EnableWalToken().ok());
  EXPECT_EQ(lease.WalToken(), "wal-1");
  lease.StartKeepAlive([](Lsn) {});

  server.Restart();
  EXPECT_TRUE(Eventually([&] { return lease.token() == "token-2"; })) << lease.token();
  EXPECT_EQ(server.pins(), std::vector<std::string>{kFirst.ToString() + "+wal"}) << "with its WAL, as before";
  EXPECT_TRUE(Eventually([&] { return lease.WalToken() == "wal-2"; })) << "a new WAL token with the new lease";
  lease.Stop();
}

TEST(MountLease, ThePinFollowsTheMountsStoredSnapshotAndTheOldPinGoesATickLater) {
  FakeServer server;
  MountLease lease(server.Connector(), "tl", "/m");
  ASSERT_TRUE(lease.Acquire().ok());
  ASSERT_TRUE(lease.PinnedBasebackup().ok());
  lease.SetPinned(kFirst);
  std::mutex mu;
  std::vector<Lsn> moved;
  lease.StartKeepAlive([&](Lsn lsn) {
    std::lock_guard lock(mu);
    moved.push_back(lsn);
  });
  lease.MoveTo(kSecond);
  ASSERT_TRUE(Eventually([&] {
    std::lock_guard lock(mu);
    return !moved.empty();
  }));
  {
    std::lock_guard lock(mu);
    EXPECT_EQ(moved, std::vector<Lsn>{kSecond}) << "reads move only once the pin is held";
  }
  EXPECT_TRUE(Eventually([&] { return server.pins() == std::vector<std::string>{kSecond.ToString()}; }))
      << "the old pin is let go, the new one holds no WAL";
  lease.Stop();
}

TEST(MountLease, ASnapshotThatCannotBePinnedDoesNotMoveTheReads) {
  FakeServer server;
  server.RefusePins(true);
  MountLease lease(server.Connector(), "tl", "/m");
  ASSERT_TRUE(lease.Acquire().ok());
  ASSERT_TRUE(lease.PinnedBasebackup().ok());
  lease.SetPinned(kFirst);
  std::atomic<int> moved{0};
  lease.StartKeepAlive([&](Lsn) { ++moved; });
  lease.MoveTo(kSecond);
  std::this_thread::sleep_for(2500ms);  // two ticks
  EXPECT_EQ(moved, 0);
  EXPECT_EQ(server.pins(), std::vector<std::string>{kFirst.ToString() + "+wal"}) << "the old pin stays";
  lease.Stop();
}

}  // namespace
}  // namespace zenith::fs
