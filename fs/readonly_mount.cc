#include "fs/readonly_mount.h"

#include <fcntl.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include "common/byte_io.h"
#include "common/daemon_process.h"
#include "common/file_util.h"
#include "fs/mount_counters.h"

namespace zenith::fs {

Status WriteStandbySettings(const std::string& scratch_dir) {
  // The scratch is disposable: nothing in it is synced (scratch_setup.h).
  ZENITH_RETURN_IF_ERROR(OpenFile(scratch_dir + "/standby.signal", O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0600).status());
  const std::string conf = scratch_dir + "/postgresql.auto.conf";
  std::string text;
  if (auto old = ReadFileToString(conf); old.ok()) text = *old;
  if (!text.empty() && text.back() != '\n') text += "\n";
  text += "# zenith: a read-only mount, recovered to its point\nhot_standby = 'on'\n";
  ZENITH_ASSIGN_OR_RETURN(UniqueFd fd, OpenFile(conf, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0600));
  return WriteFull(fd.get(), AsBytes(text), conf);
}

void RemoveStaleReadOnlyDirs(const pageserver::RepoLayout& layout, const pageserver::TimelineId& timeline) {
  auto names = ListDirectory(layout.datadir(timeline));
  if (!names.ok()) return;
  const std::string prefix = pageserver::RepoLayout::kReadOnlyPrefix;
  for (const auto& name : *names) {
    if (name.rfind(prefix, 0) != 0) continue;
    const long pid = std::strtol(name.c_str() + prefix.size(), nullptr, 10);
    if (pid <= 0 || ProcessAlive(static_cast<pid_t>(pid))) continue;
    spdlog::info("removing {}, left by a read-only mount whose daemon is gone", name);
    IgnoreError(RemoveTree(layout.datadir(timeline) + "/" + name));
  }
}

Result<pageserver::TimelineId> ReadOnlyRegistration::Attach() {
  conn_.reset();
  ZENITH_ASSIGN_OR_RETURN(pageserver::RepoClient client, connect_());
  ZENITH_ASSIGN_OR_RETURN(pageserver::TimelineId owner, client.AttachReadOnly(target_, lsn_, mountpoint_, getpid()));
  conn_.emplace(std::move(client));
  return owner;
}

void ReadOnlyRegistration::StartKeepAlive() {
  keepalive_.Start(std::chrono::seconds(1), "read-only mount keepalive", [this] { Tick(); });
}

void ReadOnlyRegistration::Tick() {
  if (conn_ && conn_->ReportMountStats(ThisMount().Read()).ok()) return;
  if (auto owner = Attach(); !owner.ok()) spdlog::warn("could not register the read-only mount again: {}", owner.status().message());
  else spdlog::info("registered the read-only mount again after losing the page server connection");
}

}  // namespace zenith::fs
