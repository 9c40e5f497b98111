#include "pageserver/new_repository.h"

#include <unistd.h>

#include <openssl/rand.h>

#include "common/byte_io.h"
#include "common/file_util.h"
#include "pageserver/scram.h"

namespace zenith::pageserver {

namespace {

// A new random password for the TCP endpoint (pageserver/scram.h).
Status WritePassword(const RepoLayout& layout) {
  std::string raw(24, '\0');
  if (RAND_bytes(reinterpret_cast<uint8_t*>(raw.data()), static_cast<int>(raw.size())) != 1) {
    return Internal("OpenSSL could not make a password");
  }
  return WriteFileDurably(layout.password_file(), Base64Encode(raw) + "\n", 0600);
}

}  // namespace

Status CreateRepositoryAtomically(const std::string& root, const std::function<Status(const RepoLayout&)>& build) {
  if (PathExists(root)) return AlreadyExists("a zenith repository already exists in \"" + root + "\"");
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
  ZENITH_RETURN_IF_ERROR(config.Save(layout.config()));
  return WritePassword(layout);
}

}  // namespace zenith::pageserver
