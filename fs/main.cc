// zenith-fs: the FUSE daemon of one mounted data directory (docs/design.md
// §8). Started by `zenith mount`; runs until the directory is
// unmounted (`zenith umount`, fusermount3 -u) or it gets SIGTERM/SIGINT,
// then uploads the snapshot it still owes (a clean shutdown's checkpoint)
// and exits.
//
// With --pageserver URL --scratch DIR instead of --repo it is a remote
// mount (fs/remote_compute.h): everything goes over the page server's TCP
// connection; the scratch and pg_wal are local.
//
// With --read-only-at LSN it mounts that point of the branch's history
// read-only instead (fs/readonly_mount.h): no lease, no uploads, a scratch
// of its own that goes when it exits.
//
// It reports to the CLI on --ready-fd: one line, "ok <snapshot LSN>" once
// the mount is ready, or "error <message>".
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <optional>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <chrono>
#include <spdlog/spdlog.h>
#include <thread>

#include "common/byte_io.h"
#include "common/catch_all.h"
#include "common/file_util.h"
#include "common/pg_abi.h"
#include "common/pg_authid.h"
#include "common/pg_control.h"
#include "fs/datadir_fs.h"
#include "fs/local_layer_source.h"
#include "fs/mount_lease.h"
#include "fs/prefetching_page_source.h"
#include "fs/prewarm.h"
#include "fs/readonly_mount.h"
#include "fs/remote_compute.h"
#include "fs/remote_page_source.h"
#include "fs/scratch_setup.h"
#include "fs/snapshot_uploader.h"
#include "fs/wal_forwarder.h"
#include "pageserver/client/conninfo_password.h"
#include "pageserver/client/repo_client.h"
#include "pageserver/client/repo_config.h"
#include "pageserver/client/repo_layout.h"
#include "pageserver/client/server_launcher.h"
#include "pageserver/client/tls_conninfo.h"

namespace zenith::fs {
namespace {

using pageserver::RepoClient;
using pageserver::TimelineId;

// Pages fetched ahead of sequential readers, at most: $ZENITH_FS_READAHEAD_MB
// a mount. Off by default: on this project's 2-core machine a cold scan was
// no faster with it, as the read that names a large fetch ahead waits for it
// (tests/bench/README.md).
size_t ReadAheadPages() {
  const char* mb = std::getenv("ZENITH_FS_READAHEAD_MB");
  const long value = mb != nullptr && *mb ? std::strtol(mb, nullptr, 10) : 0;
  return static_cast<size_t>(std::clamp(value, 0L, 1L << 20)) * 1024 * 1024 / 8192;
}

// A mount on the page server's machine reads its snapshot's layer files
// itself (fs/local_layer_source.h) unless $ZENITH_FS_LOCAL_LAYERS is "0",
// which sends every read over the page server's socket.
bool LocalLayersEnabled() {
  const char* env = std::getenv("ZENITH_FS_LOCAL_LAYERS");
  return env == nullptr || std::string(env) != "0";
}

LocalLayerSource::Loader LayerLoader(MountLease::Connector connect, std::string timeline) {
  return [connect = std::move(connect), timeline = std::move(timeline)](
             Lsn lsn) -> Result<std::shared_ptr<const pageserver::SnapshotView>> {
    ZENITH_ASSIGN_OR_RETURN(RepoClient client, connect());
    ZENITH_ASSIGN_OR_RETURN(auto files, client.LayerFiles(timeline, lsn));
    return OpenLayerView(files, lsn);
  };
}

// Where a mount's remote pages come from: the page server's socket, and on
// its machine the layer files in front of it; read-ahead in front of both.
class MountPages {
 public:
  MountPages(RemotePageSource& remote, std::optional<LocalLayerSource::Loader> local_loader, Lsn lsn)
      : remote_(remote) {
    if (local_loader) local_.emplace(remote_, std::move(*local_loader), lsn);
    prefetch_.emplace(local_ ? static_cast<PageSource&>(*local_) : remote_, ReadAheadPages());
  }
  PageSource* source() { return &*prefetch_; }
  void MoveTo(Lsn lsn) {
    remote_.MoveTo(lsn);
    if (local_) local_->MoveTo(lsn);
  }
  std::string Summary() const {
    return "GetPage: " + remote_.Summary() + (local_ ? "; local reads: " + local_->Summary() : "") +
           "; read-ahead: " + prefetch_->Summary();
  }

 private:
  RemotePageSource& remote_;
  std::optional<LocalLayerSource> local_;
  std::optional<PrefetchingPageSource> prefetch_;
};

struct Args {
  std::string repo, branch, mountpoint;
  std::string read_only_at;  // an LSN, for a read-only mount
  std::string pageserver, scratch;  // a remote mount: the page server's URL, a local scratch
  std::string ca;                   // a remote mount: the CA file to trust ("" = libpq's default)
  int ready_fd = -1;
};

// Tells the CLI how the mount went, once.
class Readiness {
 public:
  explicit Readiness(int fd) : fd_(fd) {}
  void Report(const std::string& line) {
    if (!fd_.valid()) return;
    std::string msg = line + "\n";
    IgnoreError(WriteFull(fd_.get(), AsBytes(msg), "readiness pipe"));
    fd_.reset();
  }

 private:
  UniqueFd fd_;
};

// FUSE needs its device (and, for a user, the setuid fusermount3 helper).
// ZENITH_FUSE_DEVICE names another device path, for tests of this check.
Status CheckFuseAvailable() {
  const char* env = std::getenv("ZENITH_FUSE_DEVICE");
  const std::string device = env && *env ? env : "/dev/fuse";
  const char* hint = "; as root, run mount_helpers/install-deps.sh, which installs fuse3 and makes /dev/fuse usable by users";
  if (access(device.c_str(), R_OK | W_OK) != 0) {
    return Unavailable("FUSE is not available on this machine: " + device + ": " + std::strerror(errno) + hint);
  }
  if (geteuid() != 0 && access("/usr/bin/fusermount3", X_OK) != 0) {
    return Unavailable(std::string("FUSE is not available on this machine: /usr/bin/fusermount3 is missing") + hint);
  }
  return Status::Ok();
}

// How long each step of mounting took, for the log (tests/bench/mount_bench
// reports it).
class MountSteps {
 public:
  void Done(const char* step) {
    auto now = std::chrono::steady_clock::now();
    summary_ += (summary_.empty() ? "" : ", ") + std::string(step) + " " +
                std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(now - last_).count()) + " ms";
    last_ = now;
  }
  const std::string& Summary() const { return summary_; }

 private:
  std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
  std::string summary_;
};

// The basebackup, pinned. Its snapshot is the newest; should a newer one
// arrive and compaction merge it away before the pin, ask again.
Result<std::string> FetchBasebackup(MountLease& lease) {
  Result<std::string> tar = lease.PinnedBasebackup();
  for (int attempt = 1; attempt < 5 && tar.status().code() == StatusCode::kNotFound; ++attempt) {
    tar = lease.PinnedBasebackup();
  }
  return tar;
}

Result<Lsn> CheckpointIn(const std::string& scratch) {
  ZENITH_ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(scratch + "/" + std::string(kPgControlPath)));
  ZENITH_ASSIGN_OR_RETURN(ControlFile control, DecodeControlFile(AsBytes(bytes)));
  return control.checkpoint;
}

// SIGTERM/SIGINT stop the filesystem; SIGUSR1 logs the request counters so
// far (for profiling a running mount). Taken synchronously on a thread.
std::thread StartSignalThread(DatadirFs* fs, const MountPages* pages, sigset_t signals) {
  // Runs until our own SIGUSR2 at exit, so waking it is always safe.
  return std::thread([fs, pages, signals] {
    for (;;) {
      int sig = 0;
      sigwait(&signals, &sig);
      if (sig == SIGUSR2) return;
      if (sig == SIGUSR1) {
        spdlog::info("served FUSE requests so far: {}; {}", fs->RequestSummary(), pages->Summary());
        continue;
      }
      spdlog::info("received signal {}, unmounting", sig);
      fs->Stop();
    }
  });
}

// Logs why the mount failed, tells the CLI, and gives the exit code.
int Failed(Readiness& ready, const Status& s) {
  spdlog::error("{}", s.message());
  ready.Report("error " + s.message());
  return 1;
}

// Serves the mounted filesystem until it is unmounted or signalled;
// RemoveScratchTrash runs meanwhile. OK if it stopped cleanly.
Status RunMounted(DatadirFs& fs, const MountPages& pages, const std::string& scratch, sigset_t signals) {
  std::thread signal_thread = StartSignalThread(&fs, &pages, signals);
  // What BuildScratch set aside goes in the background, not on the mount's path.
  std::atomic<bool> stop_removing{false};
  std::thread trash_remover([&scratch, &stop_removing] {
    Status s = CatchAll("removing the old scratch", [&] { return RemoveScratchTrash(scratch, stop_removing); });
    if (!s.ok()) spdlog::warn("{}", s.message());
  });
  Status run = fs.Run();
  pthread_kill(signal_thread.native_handle(), SIGUSR2);
  signal_thread.join();
  stop_removing = true;  // the rest waits for the next mount
  trash_remover.join();
  if (!run.ok()) spdlog::error("the filesystem stopped: {}", run.message());
  spdlog::info("served FUSE requests: {}", fs.RequestSummary());
  spdlog::info("{}", pages.Summary());
  return run;
}

// Where a read-write mount's parts are: the repository's page server on
// this machine (pg_wal a symlink into the timeline), or a remote one
// reached by URL (fs/remote_compute.h).
struct Site {
  std::string conninfo;  // for the page stream and the uploads
  MountLease::Connector connect;
  std::optional<pageserver::RepoLayout> layout;  // local only
  std::string remote_scratch;                     // remote only
  bool remote() const { return !layout; }
};

Result<Site> FindSite(const Args& args) {
  if (!args.pageserver.empty()) {
    ZENITH_ASSIGN_OR_RETURN(const std::string url, pageserver::SecurePageServerConnInfo(args.pageserver, args.ca));
    return Site{url, [url] { return RepoClient::Connect(url); }, std::nullopt, args.scratch};
  }
  pageserver::RepoLayout layout{args.repo};
  ZENITH_ASSIGN_OR_RETURN(auto config, pageserver::RepoConfig::Load(layout.config()));
  return Site{pageserver::PageServerConnString(layout.socket_dir(), config.port),
              [layout, config] { return pageserver::ConnectOrStartRepo(layout, config); }, layout, ""};
}

// The name of the snapshot's bootstrap superuser (pg_authid, oid 10), read
// through the mount's page source before anything could change it.
Result<std::string> SnapshotSuperuser(PageSource& pages, const std::map<std::string, uint64_t>& remote_files) {
  const RelTag authid{kZenithPgAbi.global_tablespace_oid, 0, kZenithPgAbi.authid_relation_oid};
  auto it = remote_files.find("global/" + std::to_string(authid.rel));
  if (it == remote_files.end()) return Corruption("the snapshot has no pg_authid (global/1260)");
  return ReadBootstrapSuperuser(static_cast<uint32_t>(it->second / kZenithPgAbi.blcksz),
                                [&](uint32_t block, std::span<uint8_t> page) {
                                  const uint32_t blocks[] = {block};
                                  return pages.GetPages(authid, blocks, page);
                                });
}

// A remote mount's own pg_wal gets the timeline's WAL from the snapshot's
// redo to its end; its settings let the mount's OS user, and only it,
// replicate as the snapshot's superuser (fs/remote_compute.h).
Status PrepareRemoteCompute(RepoClient& client, const std::string& timeline, Lsn redo, const std::string& scratch,
                            PageSource& pages, const std::map<std::string, uint64_t>& remote_files,
                            std::string* superuser) {
  ZENITH_ASSIGN_OR_RETURN(auto described, client.DescribeTimeline(timeline));
  ZENITH_RETURN_IF_ERROR(pageserver::FetchWalSegments(client, timeline, redo, described.end_of_wal, scratch + "/pg_wal"));
  ZENITH_ASSIGN_OR_RETURN(*superuser, SnapshotSuperuser(pages, remote_files));
  ZENITH_ASSIGN_OR_RETURN(std::string os_user, MountOsUser());
  return ApplyRemoteComputeSettings(scratch, {os_user, *superuser});
}

int Serve(const Args& args, Readiness& ready, sigset_t signals) {
  auto fail = [&ready](const Status& s) { return Failed(ready, s); };
  MountSteps steps;
  if (Status s = CheckFuseAvailable(); !s.ok()) return fail(s);
  auto site = FindSite(args);
  if (!site.ok()) return fail(site.status());
  const std::string& conninfo = site->conninfo;
  auto client = site->connect();
  if (!client.ok()) return fail(client.status());
  auto described = client->DescribeTimeline(args.branch);
  if (!described.ok()) return fail(described.status());
  const TimelineId id = described->timeline;
  const std::string timeline = id.ToString();
  MountLease lease(site->connect, timeline,
                   site->remote() ? pageserver::RemoteMountpointLabel(args.mountpoint) : args.mountpoint);
  if (Status s = lease.Acquire(); !s.ok()) return fail(s);
  if (site->remote()) {
    if (Status s = lease.EnableWalToken(); !s.ok()) return fail(s);
  }
  steps.Done("connect");

  const std::string scratch = site->remote() ? site->remote_scratch : site->layout->scratch_dir(id);
  const std::string timeline_wal = site->remote() ? "" : site->layout->wal_dir(id);
  const std::string wal_dir = site->remote() ? scratch + "/pg_wal" : timeline_wal;
  auto tar = FetchBasebackup(lease);
  if (!tar.ok()) return fail(tar.status());
  steps.Done("basebackup");
  auto prepared = BuildScratch(scratch, *tar, timeline_wal);
  if (!prepared.ok()) return fail(prepared.status());
  steps.Done("scratch");
  const auto& snapshot = prepared->manifest.snapshot;
  lease.SetPinned(snapshot.valid);
  if (Status s = client->PrepareWal(timeline, snapshot.redo); !s.ok()) return fail(s);
  RemotePageSource remote(conninfo, timeline, snapshot.valid, [&site] { return site->connect().status(); });
  std::string superuser;
  if (site->remote()) {
    Status s = PrepareRemoteCompute(*client, timeline, snapshot.redo, scratch, remote, prepared->remote_files, &superuser);
    if (!s.ok()) return fail(s);
  }
  steps.Done("prepare_wal");
  auto checkpoint = CheckpointIn(scratch);
  if (!checkpoint.ok()) return fail(checkpoint.status());

  MountPages pages(remote,
                   !site->remote() && LocalLayersEnabled() ? std::optional(LayerLoader(site->connect, timeline))
                                                           : std::nullopt,
                   snapshot.valid);
  std::unique_ptr<SnapshotUploader> uploader;
  auto fs = DatadirFs::Create({scratch, prepared->remote_files, pages.source(),
                               [&uploader](std::string bytes) { uploader->OnControlWrite(std::move(bytes)); }});
  if (!fs.ok()) return fail(fs.status());
  uploader = std::make_unique<SnapshotUploader>(
      SnapshotUploader::Options{conninfo, timeline, scratch, wal_dir, prepared->manifest.system_id, *checkpoint,
                                [&lease](Lsn valid) { lease.MoveTo(valid); }, [&lease] { return lease.token(); }},
      fs->get());
  uploader->Start();
  if (Status s = (*fs)->Mount(args.mountpoint); !s.ok()) return fail(s);
  steps.Done("fuse mount");
  if (std::getenv("ZENITH_TEST_FS_HANG_BEFORE_READY") != nullptr) {  // tests of a daemon that never gets ready
    for (;;) pause();
  }
  lease.StartKeepAlive([&pages](Lsn lsn) { pages.MoveTo(lsn); });
  const std::string hot_list = site->remote() ? scratch + ".hot-blocks" : site->layout->datadir(id) + "/hot-blocks";
  const char* prewarm = std::getenv("ZENITH_FS_PREWARM");  // "0" turns prewarming off
  Prewarmer prewarmer(args.mountpoint, scratch,
                      prewarm != nullptr && std::string(prewarm) == "0"
                          ? std::vector<HotRun>{}
                          : RunsWithin(ParseHotList(ReadFileToString(hot_list).value_or("")), prepared->remote_files));
  HotListKeeper hot_keeper(hot_list, [&fs] { return (*fs)->UsedBlocks(); });
  std::optional<WalForwarder> forwarder;
  if (site->remote()) {
    forwarder.emplace(WalForwarder::Options{
        scratch, superuser, prepared->manifest.system_id, timeline,
        [url = WithNetworkDeadlines(conninfo)] { return RepoClient::Connect(url); }, [&lease] { return lease.WalToken(); }});
  }
  spdlog::info("mounted branch {} (timeline {}) at {}{}, snapshot valid at {}", args.branch, timeline, args.mountpoint,
               site->remote() ? " from the page server at " + args.pageserver : "", snapshot.valid.ToString());
  spdlog::info("mount steps: {}", steps.Summary());
  ready.Report("ok " + snapshot.valid.ToString());
  Status run = RunMounted(**fs, pages, scratch, signals);
  forwarder.reset();
  Status drained = uploader->Drain(std::chrono::seconds(60));
  if (!drained.ok()) spdlog::error("{}", drained.message());
  uploader.reset();
  lease.Stop();
  spdlog::info("unmounted {}", args.mountpoint);
  return run.ok() && drained.ok() ? 0 : 1;
}

// A read-only mount of args.branch at args.read_only_at.
int ServeReadOnly(const Args& args, Readiness& ready, sigset_t signals) {
  auto fail = [&ready](const Status& s) { return Failed(ready, s); };
  const auto point_lsn = Lsn::Parse(args.read_only_at);
  if (!point_lsn) return fail(InvalidArgument("'" + args.read_only_at + "' is not an LSN"));
  if (Status s = CheckFuseAvailable(); !s.ok()) return fail(s);
  const pageserver::RepoLayout layout{args.repo};
  auto config = pageserver::RepoConfig::Load(layout.config());
  if (!config.ok()) return fail(config.status());
  const std::string conninfo = pageserver::PageServerConnString(layout.socket_dir(), config->port);
  MountLease::Connector connect = [layout, config = *config] { return pageserver::ConnectOrStartRepo(layout, config); };
  // Its connection lives as long as the mount: it holds the registration
  // and the pin of the snapshot, taken again if the page server restarts.
  // The CLI resolved the point: it is a record end, which attaching checks.
  ReadOnlyRegistration registration(connect, args.branch, *point_lsn, args.mountpoint);
  auto owner = registration.Attach();
  if (!owner.ok()) return fail(owner.status());
  pageserver::RepoClient* client = &registration.client();
  const pageserver::ReadPoint point{*owner, *point_lsn};
  const std::string timeline = point.timeline.ToString();
  auto tar = client->BasebackupAt(timeline, point.lsn);
  if (!tar.ok()) return fail(tar.status());
  RemoveStaleReadOnlyDirs(layout, point.timeline);
  const std::string dir = layout.readonly_dir(point.timeline, getpid());
  const std::string scratch = dir + "/scratch";
  auto prepared = BuildScratch(scratch, *tar, /*wal_dir=*/"");
  if (!prepared.ok()) return fail(prepared.status());
  const auto& snapshot = prepared->manifest.snapshot;
  Status wal = pageserver::FetchWalSegments(*client, timeline, snapshot.redo, point.lsn, scratch + "/pg_wal");
  if (wal.ok()) wal = WriteStandbySettings(scratch);
  if (!wal.ok()) return fail(wal);

  registration.StartKeepAlive();
  RemotePageSource remote(conninfo, timeline, snapshot.valid, [&connect] { return connect().status(); });
  MountPages pages(remote, LocalLayersEnabled() ? std::optional(LayerLoader(connect, timeline)) : std::nullopt,
                   snapshot.valid);
  auto fs = DatadirFs::Create({scratch, prepared->remote_files, pages.source(), {}});
  if (!fs.ok()) return fail(fs.status());
  if (Status s = (*fs)->Mount(args.mountpoint); !s.ok()) return fail(s);
  spdlog::info("mounted branch {} read-only at {} (timeline {}, snapshot valid at {}) at {}", args.branch,
               point.lsn.ToString(), timeline, snapshot.valid.ToString(), args.mountpoint);
  ready.Report("ok " + snapshot.valid.ToString());
  Status run = RunMounted(**fs, pages, scratch, signals);
  fs->reset();
  IgnoreError(RemoveTree(dir));  // nothing in it is anyone's
  spdlog::info("unmounted {}", args.mountpoint);
  return run.ok() ? 0 : 1;
}

}  // namespace
}  // namespace zenith::fs

int main(int argc, char** argv) {
  using namespace zenith::fs;
  CLI::App app{"zenith-fs: the FUSE daemon of a zenith data directory (started by `zenith mount`)"};
  Args args;
  auto* repo = app.add_option("--repo", args.repo, "the repository's .zenith directory");
  auto* remote = app.add_option("--pageserver", args.pageserver,
                                "a remote mount: the page server's postgresql://compute@HOST:PORT (password as libpq takes it)");
  repo->excludes(remote);
  app.add_option("--scratch", args.scratch, "with --pageserver: the mount's local scratch directory")->needs(remote);
  app.add_option("--ca", args.ca, "with --pageserver: the CA certificate that signed the page server's")->needs(remote);
  app.add_option("--branch", args.branch, "the branch (or timeline id) to mount")->required();
  app.add_option("--mountpoint", args.mountpoint, "an empty directory")->required();
  app.add_option("--ready-fd", args.ready_fd, "a pipe to report readiness on");
  app.add_option("--read-only-at", args.read_only_at, "mount this LSN of the branch's history read-only");
  CLI11_PARSE(app, argc, argv);
  if (args.repo.empty() == args.pageserver.empty() || (!args.pageserver.empty() && args.scratch.empty()) ||
      (!args.pageserver.empty() && !args.read_only_at.empty())) {
    std::fprintf(stderr, "zenith-fs: give --repo, or --pageserver with --scratch (read-write mounts only)\n");
    return 2;
  }
  // A password in the URL goes where libpq reads it, and out of every log
  // line (`zenith mount` never puts one in these arguments).
  if (!args.pageserver.empty()) {
    auto url = zenith::pageserver::SplitPassword(args.pageserver);
    if (!url.ok()) {
      std::fprintf(stderr, "zenith-fs: --pageserver: %s\n", url.status().message().c_str());
      return 2;
    }
    if (url->has_password) setenv("PGPASSWORD", url->password.c_str(), 1);
    args.pageserver = url->without_password;
  }
  spdlog::set_pattern("%Y-%m-%d %H:%M:%S.%e [%P] %l: %v");

  // Take signals on one thread: block them before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGUSR1);
  sigaddset(&signals, SIGUSR2);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  Readiness ready(args.ready_fd);
  return args.read_only_at.empty() ? Serve(args, ready, signals) : ServeReadOnly(args, ready, signals);
}
