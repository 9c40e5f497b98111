#include "fs/lease_connection.h"

namespace zenith::fs {
namespace {

class RepoLeaseConnection : public LeaseConnection {
 public:
  explicit RepoLeaseConnection(pageserver::RepoClient client) : client_(std::move(client)) {}

  Result<std::string> Attach(const std::string& timeline, const std::string& mountpoint, pid_t pid) override {
    return client_.Attach(timeline, mountpoint, pid);
  }
  Result<std::string> PinnedBasebackup(const std::string& timeline) override {
    return client_.Basebackup(timeline, /*pin=*/true);
  }
  Status Pin(const std::string& timeline, Lsn lsn, bool with_wal) override {
    return client_.Pin(timeline, lsn, with_wal);
  }
  Status Unpin(const std::string& timeline, Lsn lsn) override { return client_.Unpin(timeline, lsn); }
  Result<std::string> WalToken(const std::string& timeline) override { return client_.WalToken(timeline); }
  Status KeepAlive(const pageserver::MountStats& stats) override { return client_.ReportMountStats(stats); }

 private:
  pageserver::RepoClient client_;
};

}  // namespace

LeaseConnector RepoLeaseConnector(RepoConnector connect) {
  return [connect = std::move(connect)]() -> Result<std::unique_ptr<LeaseConnection>> {
    ZENITH_ASSIGN_OR_RETURN(pageserver::RepoClient client, connect());
    return std::unique_ptr<LeaseConnection>(std::make_unique<RepoLeaseConnection>(std::move(client)));
  };
}

}  // namespace zenith::fs
