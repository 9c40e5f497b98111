#include "fs/mount_run.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <spdlog/spdlog.h>

#include "common/byte_io.h"
#include "common/file_util.h"
#include "common/pg_abi.h"
#include "common/pg_authid.h"
#include "common/pg_control.h"
#include "fs/branch_replication.h"
#include "fs/datadir_fs.h"
#include "fs/mount_daemon.h"
#include "fs/mount_lease.h"
#include "fs/mount_pages.h"
#include "fs/prewarm.h"
#include "fs/readonly_mount.h"
#include "fs/remote_compute.h"
#include "fs/remote_page_source.h"
#include "fs/scratch_setup.h"
#include "fs/snapshot_uploader.h"
#include "fs/wal_forwarder.h"
#include "pageserver/api/repo_config.h"
#include "pageserver/api/repo_layout.h"
#include "pageserver/client/repo_client.h"
#include "pageserver/client/server_launcher.h"
#include "pageserver/client/tls_conninfo.h"

namespace zenith::fs {
namespace {

using pageserver::RepoClient;
using pageserver::TimelineId;

// Logs why the mount failed, tells the CLI, and gives the exit code.
int Failed(Readiness& ready, const Status& s) {
  spdlog::error("{}", s.message());
  ready.Report("error " + s.message());
  return 1;
}

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

// Where a read-write mount's parts are: the repository's page server on
// this machine (pg_wal a symlink into the timeline), or a remote one
// reached by URL (fs/remote_compute.h).
struct Site {
  std::string conninfo;  // for the page stream and the uploads
  MountLease::Connector connect;
  std::optional<pageserver::RepoLayout> layout;  // local only
};

Result<Site> FindSite(const MountPlan& plan) {
  if (plan.remote()) {
    ZENITH_ASSIGN_OR_RETURN(const std::string url, pageserver::SecurePageServerConnInfo(plan.pageserver, plan.ca));
    return Site{url, [url] { return RepoClient::Connect(url); }, std::nullopt};
  }
  pageserver::RepoLayout layout{plan.repo};
  ZENITH_ASSIGN_OR_RETURN(auto config, pageserver::RepoConfig::Load(layout.config()));
  return Site{pageserver::PageServerConnString(layout.socket_dir(), config.port),
              [layout, config] { return pageserver::ConnectOrStartRepo(layout, config); }, layout};
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

// The blocks the previous mount used, to read ahead of PostgreSQL (none
// when the plan says not to prewarm).
std::vector<HotRun> HotRuns(const MountPlan& plan, const std::string& hot_list,
                            const std::map<std::string, uint64_t>& remote_files) {
  if (!plan.prewarm) return {};
  return RunsWithin(ParseHotList(ReadFileToString(hot_list).value_or("")), remote_files);
}

int ServeReadWrite(const MountPlan& plan, const MountHooks& hooks, Readiness& ready, sigset_t signals) {
  auto fail = [&ready](const Status& s) { return Failed(ready, s); };
  MountSteps steps;
  if (Status s = CheckFuseAvailable(plan.fuse_device); !s.ok()) return fail(s);
  auto site = FindSite(plan);
  if (!site.ok()) return fail(site.status());
  const std::string& conninfo = site->conninfo;
  auto client = site->connect();
  if (!client.ok()) return fail(client.status());
  auto described = client->DescribeTimeline(plan.branch);
  if (!described.ok()) return fail(described.status());
  const TimelineId id = described->timeline;
  const std::string timeline = id.ToString();
  MountLease lease(site->connect, timeline, plan.LeaseLabel());
  if (Status s = lease.Acquire(); !s.ok()) return fail(s);
  if (plan.remote()) {
    if (Status s = lease.EnableWalToken(); !s.ok()) return fail(s);
  }
  steps.Done("connect");

  const std::string scratch = plan.remote() ? plan.scratch : site->layout->scratch_dir(id);
  const std::string timeline_wal = plan.remote() ? "" : site->layout->wal_dir(id);
  const std::string wal_dir = plan.remote() ? scratch + "/pg_wal" : timeline_wal;
  auto tar = FetchBasebackup(lease);
  if (!tar.ok()) return fail(tar.status());
  steps.Done("basebackup");
  auto prepared = BuildScratch(scratch, *tar, timeline_wal);
  if (!prepared.ok()) return fail(prepared.status());
  if (StartsFromParentsSnapshot(*described)) {
    if (Status s = HoldInheritedSubscriptions(scratch); !s.ok()) return fail(s);
  }
  steps.Done("scratch");
  const auto& snapshot = prepared->manifest.snapshot;
  lease.SetPinned(snapshot.valid);
  if (Status s = client->PrepareWal(timeline, snapshot.redo); !s.ok()) return fail(s);
  RemotePageSource remote(conninfo, timeline, snapshot.valid, [&site] { return site->connect().status(); });
  std::string superuser;
  if (plan.remote()) {
    Status s = PrepareRemoteCompute(*client, timeline, snapshot.redo, scratch, remote, prepared->remote_files, &superuser);
    if (!s.ok()) return fail(s);
  }
  steps.Done("prepare_wal");
  auto checkpoint = CheckpointIn(scratch);
  if (!checkpoint.ok()) return fail(checkpoint.status());

  MountPages pages(remote, plan.local_layers ? std::optional(LayerLoader(site->connect, timeline)) : std::nullopt,
                   snapshot.valid, plan.readahead_pages);
  std::unique_ptr<SnapshotUploader> uploader;
  auto fs = DatadirFs::Create({scratch, prepared->remote_files, pages.source(),
                               [&uploader](std::string bytes) { uploader->OnControlWrite(std::move(bytes)); }});
  if (!fs.ok()) return fail(fs.status());
  uploader = std::make_unique<SnapshotUploader>(
      SnapshotUploader::Options{timeline, *checkpoint, [&lease](Lsn valid) { lease.MoveTo(valid); },
                                [&lease] { return lease.token(); }},
      std::make_unique<MountedSnapshotSource>(fs->get(), scratch, wal_dir, prepared->manifest.system_id),
      std::make_unique<PageServerSnapshotSink>(conninfo));
  uploader->Start();
  if (Status s = (*fs)->Mount(plan.mountpoint); !s.ok()) return fail(s);
  steps.Done("fuse mount");
  if (hooks.before_ready) hooks.before_ready();
  lease.StartKeepAlive([&pages](Lsn lsn) { pages.MoveTo(lsn); });
  const std::string hot_list = plan.remote() ? scratch + ".hot-blocks" : site->layout->datadir(id) + "/hot-blocks";
  Prewarmer prewarmer(plan.mountpoint, scratch, HotRuns(plan, hot_list, prepared->remote_files));
  HotListKeeper hot_keeper(hot_list, [&fs] { return (*fs)->UsedBlocks(); });
  std::optional<WalForwarder> forwarder;
  if (plan.remote()) {
    forwarder.emplace(WalForwarder::Options{
        scratch, superuser, prepared->manifest.system_id, timeline,
        [url = WithNetworkDeadlines(conninfo)] { return RepoClient::Connect(url); }, [&lease] { return lease.WalToken(); }});
  }
  spdlog::info("mounted branch {} (timeline {}) at {}{}, snapshot valid at {}", plan.branch, timeline, plan.mountpoint,
               plan.remote() ? " from the page server at " + plan.pageserver : "", snapshot.valid.ToString());
  spdlog::info("mount steps: {}", steps.Summary());
  ready.Report("ok " + snapshot.valid.ToString());
  Status run = ServeUntilStopped(**fs, pages, scratch, signals);
  forwarder.reset();
  Status drained = uploader->Drain(std::chrono::seconds(60));
  if (!drained.ok()) spdlog::error("{}", drained.message());
  uploader.reset();
  lease.Stop();
  spdlog::info("unmounted {}", plan.mountpoint);
  return run.ok() && drained.ok() ? 0 : 1;
}

// A read-only mount of plan.branch at plan.read_only_at.
int ServeReadOnly(const MountPlan& plan, Readiness& ready, sigset_t signals) {
  auto fail = [&ready](const Status& s) { return Failed(ready, s); };
  if (Status s = CheckFuseAvailable(plan.fuse_device); !s.ok()) return fail(s);
  const pageserver::RepoLayout layout{plan.repo};
  auto config = pageserver::RepoConfig::Load(layout.config());
  if (!config.ok()) return fail(config.status());
  const std::string conninfo = pageserver::PageServerConnString(layout.socket_dir(), config->port);
  MountLease::Connector connect = [layout, config = *config] { return pageserver::ConnectOrStartRepo(layout, config); };
  // Its connection lives as long as the mount: it holds the registration
  // and the pin of the snapshot, taken again if the page server restarts.
  // The CLI resolved the point: it is a record end, which attaching checks.
  ReadOnlyRegistration registration(connect, plan.branch, plan.read_only_at, plan.mountpoint);
  auto owner = registration.Attach();
  if (!owner.ok()) return fail(owner.status());
  pageserver::RepoClient* client = &registration.client();
  const pageserver::ReadPoint point{*owner, plan.read_only_at};
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
  MountPages pages(remote, plan.local_layers ? std::optional(LayerLoader(connect, timeline)) : std::nullopt,
                   snapshot.valid, plan.readahead_pages);
  auto fs = DatadirFs::Create({scratch, prepared->remote_files, pages.source(), {}});
  if (!fs.ok()) return fail(fs.status());
  if (Status s = (*fs)->Mount(plan.mountpoint); !s.ok()) return fail(s);
  spdlog::info("mounted branch {} read-only at {} (timeline {}, snapshot valid at {}) at {}", plan.branch,
               point.lsn.ToString(), timeline, snapshot.valid.ToString(), plan.mountpoint);
  ready.Report("ok " + snapshot.valid.ToString());
  Status run = ServeUntilStopped(**fs, pages, scratch, signals);
  fs->reset();
  IgnoreError(RemoveTree(dir));  // nothing in it is anyone's
  spdlog::info("unmounted {}", plan.mountpoint);
  return run.ok() ? 0 : 1;
}

}  // namespace

int RunMount(const MountPlan& plan, const MountHooks& hooks) {
  // Take signals on one thread: block them before any thread starts.
  const sigset_t signals = BlockDaemonSignals();
  // libpq reads the password here; it is on no command line and in no log.
  if (!plan.password.empty()) setenv("PGPASSWORD", plan.password.c_str(), 1);
  Readiness ready(plan.ready_fd);
  return plan.kind == MountKind::kReadOnly ? ServeReadOnly(plan, ready, signals)
                                           : ServeReadWrite(plan, hooks, ready, signals);
}

int ZenithFsMain(int argc, char** argv, const MountHooks& hooks) {
  CLI::App app{"zenith-fs: the FUSE daemon of a zenith data directory (started by `zenith mount`)"};
  MountOptions options;
  AddMountOptions(app, options);
  CLI11_PARSE(app, argc, argv);
  auto plan = PlanMount(options);
  if (!plan.ok()) {
    std::fprintf(stderr, "zenith-fs: %s\n", plan.status().message().c_str());
    Readiness(options.ready_fd).Report("error " + plan.status().message());
    return 2;
  }
  if (Status s = ConfigureMountLog(options.log, plan->branch, plan->mountpoint); !s.ok()) {
    std::fprintf(stderr, "zenith-fs: %s\n", s.message().c_str());
    Readiness(options.ready_fd).Report("error " + s.message());
    return 2;
  }
  return RunMount(*plan, hooks);
}

}  // namespace zenith::fs
