#include "fs/mount_plan.h"

#include <CLI/CLI.hpp>
#include <algorithm>

#include "pageserver/api/conninfo_password.h"
#include "pageserver/client/repo_client.h"

namespace zenith::fs {

void AddMountOptions(CLI::App& app, MountOptions& o) {
  auto* repo = app.add_option("--repo", o.repo, "the repository's .zenith directory");
  auto* remote = app.add_option("--pageserver", o.pageserver,
                                "a remote mount: the page server's postgresql://compute@HOST:PORT (password as libpq takes it)");
  repo->excludes(remote);
  app.add_option("--scratch", o.scratch, "with --pageserver: the mount's local scratch directory")->needs(remote);
  app.add_option("--ca", o.ca, "with --pageserver: the CA certificate that signed the page server's")->needs(remote);
  app.add_option("--branch", o.branch, "the branch (or timeline id) to mount")->required();
  app.add_option("--mountpoint", o.mountpoint, "an empty directory")->required();
  app.add_option("--ready-fd", o.ready_fd, "a pipe to report readiness on");
  app.add_option("--read-only-at", o.read_only_at, "mount this LSN of the branch's history read-only");
  // Off by default: on a 2-core machine a cold scan was no faster with it
  // (tests/bench/README.md).
  app.add_option("--readahead-mb", o.readahead_mb, "fetch up to this many MB ahead of sequential readers (0: off)")
      ->envname("ZENITH_FS_READAHEAD_MB");
  app.add_option("--local-layers", o.local_layers,
                 "a local mount reads its snapshot's layer files itself (0: every read over the page server's socket)")
      ->envname("ZENITH_FS_LOCAL_LAYERS");
  app.add_option("--prewarm", o.prewarm, "read the previous mount's hot blocks in the background (0: off)")
      ->envname("ZENITH_FS_PREWARM");
  app.add_option("--fuse-device", o.fuse_device, "the FUSE device to check for")->envname("ZENITH_FUSE_DEVICE");
  app.add_option("--log-file", o.log.file, "the log file stderr goes to: rotated by size");
  app.add_option("--log-level", o.log.level, "trace, debug, info, warning, error or off");
  app.add_option("--log-max-bytes", o.log.max_bytes, "rotate the log file past this size")->check(CLI::Range(4096ul, 1ul << 40));
  app.add_option("--log-max-files", o.log.max_files, "rotated log files kept")->check(CLI::Range(1, 1000));
}

std::string MountPlan::LeaseLabel() const {
  return remote() ? pageserver::RemoteMountpointLabel(mountpoint) : mountpoint;
}

namespace {

MountPlan Knobs(const MountOptions& o) {
  MountPlan plan;
  plan.branch = o.branch;
  plan.mountpoint = o.mountpoint;
  plan.ready_fd = o.ready_fd;
  plan.local_layers = o.local_layers;
  plan.readahead_pages = static_cast<size_t>(std::clamp(o.readahead_mb, 0L, 1L << 20)) * 1024 * 1024 / 8192;
  plan.prewarm = o.prewarm;
  plan.fuse_device = o.fuse_device.empty() ? "/dev/fuse" : o.fuse_device;
  return plan;
}

}  // namespace

Result<MountPlan> PlanMount(const MountOptions& o) {
  const bool remote = !o.pageserver.empty();
  if (o.repo.empty() == !remote || (remote && o.scratch.empty()) || (remote && !o.read_only_at.empty())) {
    return InvalidArgument("give --repo, or --pageserver with --scratch (read-write mounts only)");
  }
  if (o.branch.empty() || o.mountpoint.empty()) return InvalidArgument("give --branch and --mountpoint");
  MountPlan plan = Knobs(o);
  if (!remote) {
    plan.repo = o.repo;
    if (o.read_only_at.empty()) return plan;
    const auto point = Lsn::Parse(o.read_only_at);
    if (!point) return InvalidArgument("'" + o.read_only_at + "' is not an LSN");
    plan.kind = MountKind::kReadOnly;
    plan.read_only_at = *point;
    plan.prewarm = false;
    return plan;
  }
  // A password in the URL goes where libpq reads it, and out of every log
  // line (`zenith mount` never puts one in these arguments).
  auto url = pageserver::SplitPassword(o.pageserver);
  if (!url.ok()) return InvalidArgument("--pageserver: " + url.status().message());
  plan.kind = MountKind::kRemote;
  plan.pageserver = url->without_password;
  plan.password = url->has_password ? url->password : "";
  plan.ca = o.ca;
  plan.scratch = o.scratch;
  plan.local_layers = false;
  return plan;
}

}  // namespace zenith::fs
