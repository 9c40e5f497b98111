// SnapshotSink: where a SnapshotUploader (fs/snapshot_uploader.h) sends a
// snapshot: one put_snapshot CopyIn per upload. PageServerSnapshotSink is
// the real one, a connection to the page server made on first use and
// dropped by Reset(); unit tests give the uploader one of their own.
//
// Thread-safety: used by one thread at a time (the upload thread).
#pragma once

#include <memory>
#include <span>
#include <string>

#include "common/status.h"
#include "pageserver/client/page_client.h"

namespace zenith::fs {

class SnapshotSink {
 public:
  virtual ~SnapshotSink() = default;
  // Starts `put_snapshot <timeline> <lease token>`, connecting first when
  // not connected.
  virtual Status Begin(const std::string& timeline, const std::string& lease_token) = 0;
  // One snapshot record (page_protocol.h's AppendSnapshot*).
  virtual Status Send(std::span<const uint8_t> record) = 0;
  // Ends the upload and waits for the page server's verdict: OK once it
  // stored the snapshot, its error (a refusal) otherwise.
  virtual Status End() = 0;
  // Gives the upload up; the page server stores nothing.
  virtual void Abort(const std::string& reason) = 0;
  // After a failure the connection's state is unknown: drop it; the next
  // Begin connects again.
  virtual void Reset() = 0;
};

class PageServerSnapshotSink : public SnapshotSink {
 public:
  explicit PageServerSnapshotSink(std::string conninfo) : conninfo_(std::move(conninfo)) {}

  Status Begin(const std::string& timeline, const std::string& lease_token) override;
  Status Send(std::span<const uint8_t> record) override { return client_->SendCopyData(record); }
  Status End() override { return client_->EndCopyIn(); }
  void Abort(const std::string& reason) override { client_->AbortCopyIn(reason); }
  void Reset() override { client_.reset(); }

 private:
  const std::string conninfo_;
  std::unique_ptr<pageserver::PageServerClient> client_;  // null until connected
};

}  // namespace zenith::fs
