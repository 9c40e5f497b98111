// SnapshotUploader: sends a new snapshot layer to the page server each time
// PostgreSQL writes a pg_control with a new checkpoint (docs/design.md §5,
// §8).
//
// Why the snapshot is correct: PostgreSQL writes every buffer dirtied before
// the checkpoint's redo point to this filesystem before it writes the new
// pg_control, so once that write is seen, the blocks written since the last
// snapshot (the dirty sets) hold every change before redo. The uploader
// takes the dirty sets and the relation sizes together, reads the blocks,
// the non-relation files (with the pg_control of that checkpoint), and only
// then reads the end of WAL, which becomes `valid`: nothing collected can
// reflect WAL beyond it, since PostgreSQL flushes WAL before the pages it
// covers.
//
// PostgreSQL goes on while the blocks are read, so a block may be newer
// than redo, or gone (its file cut or removed: it is skipped, or reads as
// zeros). That is an online backup, as pg_basebackup takes one: every
// change after redo is in the WAL from redo on, the first change to each
// page after redo with its full image (mounts pin full_page_writes on),
// and every start from a snapshot replays that WAL up to at least `valid`.
// A block skipped because its file was cut or removed after redo is cut or
// removed again by that replay.
//
// Nothing is lost on failure: blocks and floors taken from the filesystem
// for an upload that fails are carried into the next attempt, which is
// retried until it succeeds or the daemon stops. The same holds for a
// snapshot overtaken by the next checkpoint before it is stored: it is
// dropped for that one (see Superseded() in the .cc).
//
// Cost to PostgreSQL: the snapshot lock (truncation, unlink and creation of
// relation files wait) is held only while the dirty sets are taken and the
// relation sizes listed (milliseconds); each upload logs how long.
//
// What it reads (the data directory's changes, files and WAL) and where it
// sends (the page server) are narrow interfaces, fs/snapshot_source.h and
// fs/snapshot_sink.h, so that unit tests drive it without a mount.
//
// Thread-safety: OnControlWrite is called from FUSE worker threads; the
// upload runs on the uploader's own thread. mu_ guards the fields marked.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "common/datadir_scan.h"
#include "common/lsn.h"
#include "common/pg_control.h"
#include "common/status.h"
#include "fs/snapshot_delta.h"
#include "fs/snapshot_sink.h"
#include "fs/snapshot_source.h"
#include "pageserver/api/page_protocol.h"

namespace zenith::fs {

class SnapshotUploader {
 public:
  struct Options {
    std::string timeline;       // the mounted timeline's id
    Lsn mounted_checkpoint;     // checkpoint (start) of the pg_control the mount began with
    // Called on the upload thread with the valid of each snapshot the page
    // server stored. May be empty.
    std::function<void(Lsn)> on_stored;
    // The token of the mount's lease now (MountLease::token), asked at each
    // attempt: the page server stores snapshots only from the lease holder.
    std::function<std::string()> lease_token;
    // How long to wait before trying a failed upload again, and for a
    // newer checkpoint's pg_control after one superseded the upload.
    std::chrono::milliseconds retry_delay = std::chrono::seconds(2);
  };

  SnapshotUploader(Options options, std::unique_ptr<SnapshotSource> source, std::unique_ptr<SnapshotSink> sink);
  ~SnapshotUploader();  // Stops without uploading what is pending.
  SnapshotUploader(const SnapshotUploader&) = delete;
  SnapshotUploader& operator=(const SnapshotUploader&) = delete;

  void Start();
  // Cheap: decodes the pg_control and, if it names a new checkpoint, hands
  // it to the upload thread.
  void OnControlWrite(std::string pg_control);
  // Uploads what is pending (retrying for up to `patience`), then stops the
  // thread. Returns the status of the last attempt.
  Status Drain(std::chrono::seconds patience);

 private:
  struct Owed {  // what the page server has not received yet
    std::map<RelSegment, std::set<uint32_t>> blocks;
    std::map<RelTag, uint32_t> floors;
  };
  // A pg_control PostgreSQL wrote, decoded once, when it was written.
  struct WrittenControl {
    std::string bytes;
    ControlFile control;
    bool operator==(const WrittenControl& other) const { return bytes == other.bytes; }
  };
  void Loop();
  // True once the page server stored the snapshot, false when a newer
  // checkpoint superseded it first (see Superseded()).
  Result<bool> Upload(const WrittenControl& written);
  Result<bool> Stream(const std::string& control_bytes, const ControlFile& control, Lsn ckpt_end);
  Lsn stored_valid_;  // upload thread: the valid of the last snapshot stored
  Result<bool> Superseded(const std::string& control_bytes, Lsn ckpt_end, Lsn valid);
  // Sends the owed pages (those still within their files as `entries` list
  // them), then every relation's size.
  Status SendRelations(const std::vector<DatadirEntry>& entries, pageserver::SnapshotEnd* end);
  Status SendFiles(const std::vector<DatadirEntry>& entries, const std::string& control_bytes);
  Status Send(std::string* msg);  // one CopyData; empties *msg
  void TakeDelta(const SnapshotDelta& delta);

  const Options options_;
  const std::unique_ptr<SnapshotSource> source_;
  const std::unique_ptr<SnapshotSink> sink_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<WrittenControl> pending_;  // guarded by mu_: newest pg_control to upload
  Lsn last_checkpoint_;                 // guarded by mu_
  bool draining_ = false;               // guarded by mu_
  bool stop_ = false;                   // guarded by mu_
  Status last_status_;                  // guarded by mu_
  int superseded_in_a_row_ = 0;         // guarded by mu_
  std::thread thread_;

  // Used only by the upload thread.
  Owed owed_;
};

}  // namespace zenith::fs
