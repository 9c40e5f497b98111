// MountPlan: what one zenith-fs run will do, decided before it touches
// anything: a local read-write mount (the repository's page server on this
// machine), a remote one (a page server reached by URL, fs/remote_compute.h)
// or a read-only one (a point of a branch's history, fs/readonly_mount.h),
// with the knobs that tune it. PlanMount() builds it from the options the
// command line gave (AddMountOptions; a few old environment variables are
// read there, by CLI11, as fallbacks); RunMount (fs/mount_run.h) carries it
// out. Everything here is checked without I/O, so unit tests build plans.
//
// Thread-safety: plain values and pure functions.
#pragma once

#include <cstddef>
#include <string>

#include "common/lsn.h"
#include "common/status.h"
#include "fs/mount_log.h"

namespace CLI {
class App;
}

namespace zenith::fs {

// zenith-fs's options as given, unchecked.
struct MountOptions {
  std::string repo;          // the repository's .zenith directory (local, read-only)
  std::string pageserver;    // a remote mount: the page server's URL, maybe with a password
  std::string scratch;       // a remote mount: its local scratch directory
  std::string ca;            // a remote mount: the CA file to trust ("" = libpq's default)
  std::string branch;        // the branch (or timeline id)
  std::string mountpoint;    // an empty directory
  std::string read_only_at;  // an LSN: mount this point read-only
  int ready_fd = -1;         // a pipe to report readiness on
  long readahead_mb = 0;     // pages fetched ahead of sequential readers, at most (0 = off)
  bool local_layers = true;  // a local mount reads its snapshot's layer files itself
  bool prewarm = true;       // read the previous mount's hot blocks in the background
  std::string fuse_device = "/dev/fuse";
  MountLogOptions log;       // --log-file, --log-level, --log-max-bytes, --log-max-files
};

// Adds the options to `app` (zenith-fs's command line). The knobs also read
// their old environment variables when not given: ZENITH_FS_READAHEAD_MB,
// ZENITH_FS_LOCAL_LAYERS, ZENITH_FS_PREWARM, ZENITH_FUSE_DEVICE (the tests
// and benchmarks set them on `zenith mount`, which passes its environment on).
// REQUIRES: `options` outlives app's parsing.
void AddMountOptions(CLI::App& app, MountOptions& options);

enum class MountKind { kLocal, kRemote, kReadOnly };

struct MountPlan {
  MountKind kind = MountKind::kLocal;
  std::string branch, mountpoint;
  std::string repo;         // kLocal, kReadOnly
  std::string pageserver;   // kRemote: the URL without its password (safe to log)
  std::string password;     // kRemote: the URL's password, "" when none; never logged
  std::string ca;           // kRemote
  std::string scratch;      // kRemote
  Lsn read_only_at;         // kReadOnly
  int ready_fd = -1;
  bool local_layers = true;      // false for kRemote: its layers are not on this machine
  size_t readahead_pages = 0;    // 8 KB pages
  bool prewarm = true;           // false for kReadOnly: it keeps no hot list
  std::string fuse_device;

  bool remote() const { return kind == MountKind::kRemote; }
  // How the mount names its directory to the page server: the path, or
  // for a remote mount "<host>:<path>" (RemoteMountpointLabel).
  std::string LeaseLabel() const;
};

// Checks the options and decides the plan. kInvalidArgument, with a message
// for the user, when they do not make one: neither or both of --repo and
// --pageserver, --pageserver without --scratch, a read-only remote mount,
// a point that is no LSN, a URL libpq cannot parse (the message quotes
// nothing of it: it may hold a password).
Result<MountPlan> PlanMount(const MountOptions& options);

}  // namespace zenith::fs
