#include "pageserver/repo/new_repository.h"

#include <unistd.h>

#include <spdlog/spdlog.h>

#include <charconv>

#include "common/daemon_process.h"
#include "common/file_util.h"
#include "pageserver/pq/tcp_users.h"

namespace zenith::pageserver {

namespace {

// "<root>.tmp-<pid>" of a process that no longer runs: what a `zenith init`
// or `attach` killed midway left. One of a live process is its work.
void RemoveAbandonedTempRoots(const std::string& root) {
  const std::string stem = BaseName(root) + ".tmp-";
  auto names = ListDirectory(DirName(root));
  if (!names.ok()) return;
  for (const std::string& name : *names) {
    if (name.rfind(stem, 0) != 0) continue;
    pid_t pid = 0;
    const std::string digits = name.substr(stem.size());
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), pid);
    if (ec != std::errc() || end != digits.data() + digits.size() || pid <= 0) continue;
    if (ProcessAlive(pid)) continue;  // a zombie is not: a creation killed with -9 may wait for init to reap it
    const std::string path = DirName(root) + "/" + name;
    if (RemoveTree(path).ok()) spdlog::info("removed {}, what an interrupted repository creation left", path);
  }
}

}  // namespace

Status CreateRepositoryAtomically(const std::string& root, const std::function<Status(const RepoLayout&)>& build) {
  if (PathExists(root)) return AlreadyExists("a zenith repository already exists in \"" + root + "\"");
  RemoveAbandonedTempRoots(root);
  const std::string temp_root = root + ".tmp-" + std::to_string(getpid());
  IgnoreError(RemoveTree(temp_root));
  Status s = build(RepoLayout{temp_root});
  if (s.ok()) s = RenameFile(temp_root, root);
  if (!s.ok()) {
    IgnoreError(RemoveTree(temp_root));
    return s;
  }
  s = FsyncDirectory(DirName(root));
  if (!s.ok()) IgnoreError(RemoveTree(root));  // a failed init leaves no repository
  return s;
}

Status MakeRepositoryDirectories(const RepoLayout& layout, const TimelineId& main) {
  for (const std::string& dir : {layout.root, layout.root + "/refs", layout.branches_dir(), layout.timelines_dir(),
                                 layout.datadirs_dir(), layout.timeline_dir(main), layout.wal_dir(main),
                                 layout.layers_dir(main)}) {
    ZENITH_RETURN_IF_ERROR(MakeDirectoryDurably(dir, 0700));
  }
  return Status::Ok();
}

Status WriteRepositoryFiles(const RepoLayout& layout, const TimelineId& main, const RepoConfig& config) {
  ZENITH_RETURN_IF_ERROR(WriteFileDurably(layout.metadata(main), TimelineMetadata{main, {}, {}}.ToJson()));
  ZENITH_RETURN_IF_ERROR(WriteFileDurably(layout.branch_ref("main"), main.ToString() + "\n", 0644));
  return WriteRepositoryConfig(layout, config);
}

Status WriteRepositoryConfig(const RepoLayout& layout, const RepoConfig& config) {
  ZENITH_RETURN_IF_ERROR(config.Save(layout.config()));
  // The TCP endpoint's users' passwords (tcp_users.h).
  for (Role role : {Role::kZenith, Role::kCompute}) ZENITH_RETURN_IF_ERROR(CreatePasswordFile(PasswordFile(layout, role)));
  return Status::Ok();
}

}  // namespace zenith::pageserver
