#include "fs/scratch_setup.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <set>
#include <sstream>
#include <vector>

#include "common/beneath.h"
#include "common/byte_io.h"
#include "common/file_util.h"
#include "common/tar.h"
#include "pageserver/client/basebackup_archive.h"

namespace zenith::fs {

namespace {

// Old entries are renamed into a directory with this prefix plus a unique
// suffix, next to the scratch (a rename, so instant whatever their size).
constexpr std::string_view kTrashPrefix = ".scratch-trash-";

enum class Want { kDirectory, kFile, kRelation, kSymlink };

// Every path the new scratch holds, with its kind. Parents are directories.
std::map<std::string, Want> WantedPaths(const pageserver::BasebackupArchive& backup, bool wal_symlink) {
  std::map<std::string, Want> wanted;
  auto add = [&](const std::string& path, Want kind) {
    for (size_t slash = path.find('/'); slash != std::string::npos; slash = path.find('/', slash + 1)) {
      wanted.emplace(path.substr(0, slash), Want::kDirectory);
    }
    wanted[path] = kind;
  };
  for (const auto& [entry, data] : backup.entries) {
    add(entry.name, entry.type == TarEntryType::kDirectory ? Want::kDirectory
                    : entry.type == TarEntryType::kSymlink ? Want::kSymlink
                                                           : Want::kFile);
  }
  for (const auto& file : backup.manifest.relations) add(file.path, Want::kRelation);
  add("pg_wal", wal_symlink ? Want::kSymlink : Want::kDirectory);
  return wanted;
}

// Where entries of an old scratch go to be deleted later: a directory made
// on first use next to the scratch.
class Trash {
 public:
  explicit Trash(const std::string& scratch_dir)
      : dir_(DirName(scratch_dir) + "/" + std::string(kTrashPrefix) + std::to_string(::getpid()) + "-" +
             std::to_string(std::chrono::steady_clock::now().time_since_epoch().count())) {}

  Status Take(const std::string& path) {
    if (count_ == 0 && ::mkdir(dir_.c_str(), 0700) != 0) return ErrnoStatus("create directory", dir_, errno);
    const std::string to = dir_ + "/" + std::to_string(count_++);
    if (::rename(path.c_str(), to.c_str()) != 0) return ErrnoStatus("move aside", path, errno);
    return Status::Ok();
  }

 private:
  const std::string dir_;
  uint64_t count_ = 0;
};

// Whether an entry of the old scratch can be reused in place. A relation
// file can only while it holds no data: it is reset by truncation, which
// for a file full of written blocks would free them on the mount's path.
bool Reusable(const struct stat& st, std::map<std::string, Want>::const_iterator want,
              const std::map<std::string, Want>& wanted) {
  if (want == wanted.end()) return false;
  if (S_ISDIR(st.st_mode)) return want->second == Want::kDirectory;
  if (!S_ISREG(st.st_mode)) return false;
  return want->second == Want::kFile || (want->second == Want::kRelation && st.st_blocks == 0);
}

// Clears `rel` (a directory of the old scratch, "" for its root) of what
// the new one does not reuse: symlinks and other small things are removed,
// directories and files with data moved to the trash. No symlink is left,
// so later path walks stay inside the scratch.
Status Sweep(const std::string& scratch, const std::string& rel, const std::map<std::string, Want>& wanted,
             Trash& trash) {
  ZENITH_ASSIGN_OR_RETURN(auto names, ListDirectory(rel.empty() ? scratch : scratch + "/" + rel));
  for (const auto& name : names) {
    const std::string child = rel.empty() ? name : rel + "/" + name;
    const std::string path = scratch + "/" + child;
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) return ErrnoStatus("stat", path, errno);
    if (Reusable(st, wanted.find(child), wanted)) {
      if (S_ISDIR(st.st_mode)) ZENITH_RETURN_IF_ERROR(Sweep(scratch, child, wanted, trash));
      continue;
    }
    if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) {
      if (::unlink(path.c_str()) != 0) return ErrnoStatus("remove", path, errno);
      continue;
    }
    ZENITH_RETURN_IF_ERROR(trash.Take(path));
  }
  return Status::Ok();
}

// An existing scratch is cleared for reuse; a missing one is created.
Status PrepareDirectory(const std::string& scratch_dir, const std::map<std::string, Want>& wanted) {
  Trash trash(scratch_dir);
  struct stat st;
  if (::lstat(scratch_dir.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return Sweep(scratch_dir, "", wanted, trash);
    ZENITH_RETURN_IF_ERROR(trash.Take(scratch_dir));
  } else if (errno != ENOENT) {
    return ErrnoStatus("stat", scratch_dir, errno);
  }
  return MakeDirectories(scratch_dir, 0700);
}

// Writes one archive entry beneath `root`, over what Sweep left of the old
// scratch. No link is followed anywhere in the path (common/beneath.h): a
// link the archive made (pg_tblspc/<oid>) can never be written through.
Status Extract(const BeneathDir& root, const TarEntry& entry, const std::string& data) {
  if (const size_t slash = entry.name.rfind('/'); slash != std::string::npos) {
    ZENITH_RETURN_IF_ERROR(root.MakeDirectories(std::string_view(entry.name).substr(0, slash), 0700));
  }
  const mode_t mode = entry.mode & 07777;
  switch (entry.type) {
    case TarEntryType::kDirectory:
      ZENITH_RETURN_IF_ERROR(root.MakeDirectories(entry.name, mode));
      return root.ChmodDirectory(entry.name, mode);
    case TarEntryType::kSymlink:
      return root.Symlink(entry.name, entry.link_target);
    case TarEntryType::kFile: {
      ZENITH_ASSIGN_OR_RETURN(UniqueFd fd, root.OpenFile(entry.name, O_WRONLY | O_CREAT | O_TRUNC, mode));
      const std::string path = root.path() + "/" + entry.name;
      if (::fchmod(fd.get(), mode) != 0) return ErrnoStatus("chmod", path, errno);
      return WriteFull(fd.get(), AsBytes(data), path);
    }
  }
  return Status::Ok();
}

// A relation file of `size` bytes and no data (a sparse file) beneath
// `root`, reusing the old scratch's inode when there is one: creating
// hundreds of files per mount is what made mounting slow.
Status ResetSparseFile(const BeneathDir& root, const std::string& rel, uint64_t size,
                       std::set<std::string>* made_dirs) {
  if (const size_t slash = rel.rfind('/'); slash != std::string::npos && made_dirs->insert(rel.substr(0, slash)).second) {
    ZENITH_RETURN_IF_ERROR(root.MakeDirectories(rel.substr(0, slash), 0700));
  }
  ZENITH_ASSIGN_OR_RETURN(UniqueFd fd, root.OpenFile(rel, O_WRONLY | O_CREAT, 0600));
  if (::ftruncate(fd.get(), 0) != 0 || ::ftruncate(fd.get(), static_cast<off_t>(size)) != 0) {
    return ErrnoStatus("size", root.path() + "/" + rel, errno);
  }
  return Status::Ok();
}

}  // namespace

const std::map<std::string, std::string>& MountSettings() {
  // WAL lives in the repository, which decides when it may go: PostgreSQL
  // must neither remove nor recycle a segment (wal_keep_size is in MB, its
  // maximum is INT_MAX). A snapshot may catch a page halfway through a
  // write; only full-page images in the WAL make such a page recoverable.
  static const std::map<std::string, std::string> kSettings = {
      {"wal_keep_size", "2147483647"},
      {"wal_recycle", "off"},
      {"archive_mode", "off"},
      {"full_page_writes", "on"},
  };
  return kSettings;
}

namespace {

bool EndsWith(const std::string& s, std::string_view tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

Status RewriteFile(const std::string& path, const std::string& text) {
  ZENITH_ASSIGN_OR_RETURN(UniqueFd fd, OpenFile(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0600));
  return WriteFull(fd.get(), AsBytes(text), path);
}

// pg_hba.conf and pg_ident.conf without the lines a remote mount added (a
// snapshot it uploaded carries them).
Status RemoveRemoteComputeLines(const std::string& datadir) {
  for (const char* name : {"/pg_hba.conf", "/pg_ident.conf"}) {
    const std::string path = datadir + name;
    auto text = ReadFileToString(path);
    if (!text.ok()) continue;  // none to clean
    std::istringstream lines(*text);
    std::string out, line;
    while (std::getline(lines, line)) {
      if (!EndsWith(line, kRemoteComputeMarker)) out += line + "\n";
    }
    if (out != *text) ZENITH_RETURN_IF_ERROR(RewriteFile(path, out));
  }
  return Status::Ok();
}

}  // namespace

Status ApplyMountSettings(const std::string& datadir) {
  const std::string path = datadir + "/postgresql.auto.conf";
  std::string old;
  if (auto text = ReadFileToString(path); text.ok()) old = *text;
  std::istringstream lines(old);
  std::string out, line;
  while (std::getline(lines, line)) {
    std::string name = line.substr(0, line.find_first_of(" =\t"));
    if (MountSettings().contains(name) || line.rfind("# zenith:", 0) == 0 || EndsWith(line, kRemoteComputeMarker)) {
      continue;
    }
    out += line + "\n";
  }
  out += "# zenith: the repository keeps WAL (never removed or recycled here); snapshots need full-page writes\n";
  for (const auto& [name, value] : MountSettings()) out += name + " = '" + value + "'\n";
  ZENITH_RETURN_IF_ERROR(RewriteFile(path, out));
  return RemoveRemoteComputeLines(datadir);
}

Status RemoveScratchTrash(const std::string& scratch_dir, const std::atomic<bool>& stop) {
  const std::string parent = DirName(scratch_dir);
  ZENITH_ASSIGN_OR_RETURN(auto names, ListDirectory(parent));
  for (const auto& name : names) {
    if (name.rfind(kTrashPrefix, 0) != 0) continue;
    const std::string trash = parent + "/" + name;
    ZENITH_ASSIGN_OR_RETURN(auto entries, ListDirectory(trash));
    for (const auto& entry : entries) {
      if (stop.load()) return Status::Ok();
      ZENITH_RETURN_IF_ERROR(RemoveTree(trash + "/" + entry));
    }
    ZENITH_RETURN_IF_ERROR(RemoveTree(trash));
  }
  return Status::Ok();
}

Result<PreparedScratch> BuildScratch(const std::string& scratch_dir, const std::string& basebackup_tar,
                                     const std::string& wal_dir) {
  ZENITH_ASSIGN_OR_RETURN(pageserver::BasebackupArchive backup, pageserver::ParseBasebackupArchive(basebackup_tar));
  ZENITH_RETURN_IF_ERROR(PrepareDirectory(scratch_dir, WantedPaths(backup, !wal_dir.empty())));
  ZENITH_ASSIGN_OR_RETURN(BeneathDir root, BeneathDir::Open(scratch_dir));
  for (const auto& [entry, data] : backup.entries) ZENITH_RETURN_IF_ERROR(Extract(root, entry, data));
  PreparedScratch out;
  std::set<std::string> made_dirs;
  for (const auto& file : backup.manifest.relations) {
    ZENITH_RETURN_IF_ERROR(ResetSparseFile(root, file.path, file.size, &made_dirs));
    out.remote_files[file.path] = file.size;
  }
  if (wal_dir.empty()) {
    ZENITH_RETURN_IF_ERROR(root.MakeDirectories("pg_wal/archive_status", 0700));
  } else {
    ZENITH_RETURN_IF_ERROR(root.Symlink("pg_wal", wal_dir));
  }
  ZENITH_RETURN_IF_ERROR(ApplyMountSettings(scratch_dir));
  if (::chmod(scratch_dir.c_str(), 0700) != 0) return ErrnoStatus("chmod", scratch_dir, errno);
  out.manifest = std::move(backup.manifest);
  return out;
}

}  // namespace zenith::fs
