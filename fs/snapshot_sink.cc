#include "fs/snapshot_sink.h"

namespace zenith::fs {

Status PageServerSnapshotSink::Begin(const std::string& timeline, const std::string& lease_token) {
  if (!client_) {
    ZENITH_ASSIGN_OR_RETURN(client_, pageserver::PageServerClient::Connect(conninfo_));
  }
  return client_->BeginCopyIn("put_snapshot $1 $2", {timeline, lease_token});
}

}  // namespace zenith::fs
