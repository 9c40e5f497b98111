#include "fs/datadir_fs.h"

#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/statvfs.h>

#include <cstdlib>
#include <vector>

#include "fs/fs_core.h"
#include "fs/fuse_bridge.h"

namespace zenith::fs {

SnapshotSession::SnapshotSession(internal::FsCore* core, SnapshotDelta delta)
    : core_(core), delta_(std::move(delta)) {}

SnapshotSession::~SnapshotSession() { core_->EndSnapshot(); }

int SnapshotSession::waiting() const { return core_->SnapshotWaiters(); }

DatadirFs::DatadirFs(std::unique_ptr<internal::FsCore> core) : core_(std::move(core)) {}

namespace {

// Every inode the kernel knows holds an O_PATH fd (inode_table.h): a running
// PostgreSQL makes the kernel know every relation file, far more than the
// usual soft limit of 1024 fds. Raise it to the hard limit.
void RaiseFdLimit() {
  struct rlimit lim;
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur == lim.rlim_max) return;
  lim.rlim_cur = lim.rlim_max;
  if (::setrlimit(RLIMIT_NOFILE, &lim) != 0) spdlog::warn("could not raise the open file limit to {}", lim.rlim_max);
}

// FUSE worker threads. Every PostgreSQL process blocked in a read or write
// of the mount holds one for the length of its request (a GetPage round trip
// for a remote block), and a request with no idle worker waits in the
// kernel; libfuse's default of 10 is fewer than the backends of a busy
// server. Idle workers are kept rather than torn down and recreated at
// every burst.
constexpr unsigned kMaxWorkerThreads = 64;

}  // namespace

Result<std::unique_ptr<DatadirFs>> DatadirFs::Create(Options options) {
  ZENITH_ASSIGN_OR_RETURN(std::unique_ptr<internal::FsCore> core, internal::FsCore::Create(std::move(options)));
  return std::unique_ptr<DatadirFs>(new DatadirFs(std::move(core)));
}

DatadirFs::~DatadirFs() {
  std::lock_guard lock(state_mu_);
  if (running_) {
    spdlog::critical("DatadirFs destroyed while Run() is serving {}", mountpoint_);
    std::abort();
  }
  UnmountLocked();
}

Status DatadirFs::Mount(const std::string& mountpoint) {
  std::lock_guard lock(state_mu_);
  if (session_ != nullptr) return InvalidArgument("the filesystem is already mounted on \"" + mountpoint_ + "\"");
  internal::RouteFuseLogsToSpdlog();
  RaiseFdLimit();
  std::vector<std::string> argv = {"zenith-fs", "-o",
                                   "fsname=zenith:" + std::to_string(::getpid()) + ",subtype=zenith,default_permissions"};
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  fuse_args args = FUSE_ARGS_INIT(static_cast<int>(cargv.size()), cargv.data());
  const fuse_lowlevel_ops& ops = internal::FuseOperations();
  fuse_session* session = fuse_session_new(&args, &ops, sizeof ops, core_.get());
  fuse_opt_free_args(&args);
  if (session == nullptr) return Internal("could not create a FUSE session (libfuse logged why)");
  if (fuse_session_mount(session, mountpoint.c_str()) != 0) {
    fuse_session_destroy(session);
    return IoError("could not mount a FUSE filesystem on \"" + mountpoint +
                   "\" (libfuse logged why); check that it is an empty directory you own, that /dev/fuse is "
                   "usable and that fusermount3 is installed");
  }
  session_ = session;
  mountpoint_ = mountpoint;
  spdlog::info("mounted datadir on {}", mountpoint);
  return Status::Ok();
}

void DatadirFs::UnmountLocked() {
  if (session_ == nullptr) return;
  fuse_session_unmount(session_);
  fuse_session_destroy(session_);
  session_ = nullptr;
  spdlog::info("unmounted {}", mountpoint_);
}

Status DatadirFs::Run() {
  fuse_session* session;
  {
    std::lock_guard lock(state_mu_);
    if (session_ == nullptr) return InvalidArgument("Run() needs a mounted filesystem");
    if (stop_requested_) {
      UnmountLocked();
      return Status::Ok();
    }
    running_ = true;
    session = session_;
  }
  fuse_loop_config* config = fuse_loop_cfg_create();
  fuse_loop_cfg_set_max_threads(config, kMaxWorkerThreads);
  fuse_loop_cfg_set_idle_threads(config, kMaxWorkerThreads);
  int rc = fuse_session_loop_mt(session, config);
  fuse_loop_cfg_destroy(config);
  std::lock_guard lock(state_mu_);
  running_ = false;
  UnmountLocked();
  if (rc < 0) return ErrnoStatus("serve FUSE requests on", mountpoint_, -rc);
  return Status::Ok();
}

void DatadirFs::Stop() {
  std::string mountpoint;
  {
    std::lock_guard lock(state_mu_);
    stop_requested_ = true;
    if (session_ == nullptr) return;
    fuse_session_exit(session_);
    if (!running_) {
      UnmountLocked();
      return;
    }
    mountpoint = mountpoint_;
  }
  // The exit flag is checked when a worker finishes a request, so send one:
  // statfs is never answered from the kernel's cache. If the loop ended
  // already, Run() unmounts and this returns ENOTCONN or reaches the
  // directory underneath; either way it returns.
  struct statvfs st;
  (void)::statvfs(mountpoint.c_str(), &st);
}

Result<std::unique_ptr<SnapshotSession>> DatadirFs::BeginSnapshot() {
  SnapshotDelta delta = core_->BeginSnapshot();
  return std::unique_ptr<SnapshotSession>(new SnapshotSession(core_.get(), std::move(delta)));
}

Status DatadirFs::ReadBlocks(const RelSegment& seg, std::span<const uint32_t> blocks, std::span<uint8_t> out) {
  return core_->ReadBlocks(seg, blocks, out);
}

std::string DatadirFs::RequestSummary() const { return core_->stats().Summary(); }

std::map<RelSegment, std::vector<uint32_t>> DatadirFs::UsedBlocks() const { return core_->UsedBlocks(); }

}  // namespace zenith::fs
