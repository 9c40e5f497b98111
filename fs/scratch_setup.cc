#include "fs/scratch_setup.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <set>
#include <sstream>

#include "common/byte_io.h"
#include "common/file_util.h"
#include "common/tar.h"

namespace zenith::fs {

namespace {

// Reads a tar held in memory.
TarReader::Source MemorySource(const std::string& bytes, size_t* pos) {
  return [&bytes, pos](std::span<uint8_t> buf) -> Result<size_t> {
    size_t n = std::min(buf.size(), bytes.size() - *pos);
    std::memcpy(buf.data(), bytes.data() + *pos, n);
    *pos += n;
    return n;
  };
}

Result<std::string> ReadEntry(TarReader& reader, const TarEntry& entry) {
  std::string data(entry.size, '\0');
  size_t done = 0;
  while (done < data.size()) {
    ZENITH_ASSIGN_OR_RETURN(size_t n, reader.ReadData(std::span(reinterpret_cast<uint8_t*>(data.data()) + done,
                                                                 data.size() - done)));
    if (n == 0) return Corruption("basebackup entry \"" + entry.name + "\" is truncated");
    done += n;
  }
  return data;
}

// Creates one tar entry below `root`. Names are validated by TarReader (no
// "..", not absolute), and the scratch was empty, so nothing can escape it
// through a symlink made earlier: O_NOFOLLOW and O_EXCL refuse to reuse one.
Status Extract(const std::string& root, TarReader& reader, const TarEntry& entry) {
  const std::string path = root + "/" + entry.name;
  ZENITH_RETURN_IF_ERROR(MakeDirectories(DirName(path), 0700));
  switch (entry.type) {
    case TarEntryType::kDirectory:
      if (::mkdir(path.c_str(), entry.mode & 07777) != 0 && errno != EEXIST) {
        return ErrnoStatus("create directory", path, errno);
      }
      return Status::Ok();
    case TarEntryType::kSymlink:
      if (::symlink(entry.link_target.c_str(), path.c_str()) != 0) return ErrnoStatus("create symlink", path, errno);
      return Status::Ok();
    case TarEntryType::kFile: {
      ZENITH_ASSIGN_OR_RETURN(std::string data, ReadEntry(reader, entry));
      ZENITH_ASSIGN_OR_RETURN(UniqueFd fd,
                              OpenFile(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, entry.mode & 07777));
      return WriteFull(fd.get(), AsBytes(data), path);
    }
  }
  return Status::Ok();
}

Status CreateSparseFile(const std::string& path, uint64_t size, std::set<std::string>* made_dirs) {
  if (std::string dir = DirName(path); made_dirs->insert(dir).second) {
    ZENITH_RETURN_IF_ERROR(MakeDirectories(dir, 0700));
  }
  ZENITH_ASSIGN_OR_RETURN(UniqueFd fd, OpenFile(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600));
  if (::ftruncate(fd.get(), static_cast<off_t>(size)) != 0) return ErrnoStatus("size", path, errno);
  return Status::Ok();
}

// Old scratches are renamed to this prefix plus a unique suffix, in the
// same directory (a rename, so instant whatever their size).
constexpr std::string_view kTrashPrefix = ".scratch-trash-";

Status SetAside(const std::string& scratch_dir) {
  if (!PathExists(scratch_dir)) return Status::Ok();
  const std::string trash = DirName(scratch_dir) + "/" + std::string(kTrashPrefix) + std::to_string(::getpid()) + "-" +
                            std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
  if (::rename(scratch_dir.c_str(), trash.c_str()) != 0) return ErrnoStatus("rename the old scratch", scratch_dir, errno);
  return Status::Ok();
}

}  // namespace

const std::map<std::string, std::string>& MountSettings() {
  // WAL lives in the repository, which decides when it may go: PostgreSQL
  // must neither remove nor recycle a segment (wal_keep_size is in MB, its
  // maximum is INT_MAX).
  static const std::map<std::string, std::string> kSettings = {
      {"wal_keep_size", "2147483647"},
      {"wal_recycle", "off"},
      {"archive_mode", "off"},
  };
  return kSettings;
}

Status ApplyMountSettings(const std::string& datadir) {
  const std::string path = datadir + "/postgresql.auto.conf";
  std::string old;
  if (auto text = ReadFileToString(path); text.ok()) old = *text;
  std::istringstream lines(old);
  std::string out, line;
  while (std::getline(lines, line)) {
    std::string name = line.substr(0, line.find_first_of(" =\t"));
    if (MountSettings().contains(name) || line.rfind("# zenith:", 0) == 0) continue;
    out += line + "\n";
  }
  out += "# zenith: the repository keeps WAL; PostgreSQL must not remove or recycle it\n";
  for (const auto& [name, value] : MountSettings()) out += name + " = '" + value + "'\n";
  ZENITH_ASSIGN_OR_RETURN(UniqueFd fd, OpenFile(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0600));
  return WriteFull(fd.get(), AsBytes(out), path);
}

Status RemoveScratchTrash(const std::string& scratch_dir) {
  const std::string parent = DirName(scratch_dir);
  ZENITH_ASSIGN_OR_RETURN(auto names, ListDirectory(parent));
  for (const auto& name : names) {
    if (name.rfind(kTrashPrefix, 0) == 0) ZENITH_RETURN_IF_ERROR(RemoveTree(parent + "/" + name));
  }
  return Status::Ok();
}

Result<PreparedScratch> BuildScratch(const std::string& scratch_dir, const std::string& basebackup_tar,
                                     const std::string& wal_dir) {
  ZENITH_RETURN_IF_ERROR(SetAside(scratch_dir));
  ZENITH_RETURN_IF_ERROR(MakeDirectories(scratch_dir, 0700));
  size_t pos = 0;
  TarReader reader(MemorySource(basebackup_tar, &pos));
  ZENITH_ASSIGN_OR_RETURN(auto first, reader.Next());
  if (!first || first->name != pageserver::kManifestName) return Corruption("the basebackup does not start with its manifest");
  ZENITH_ASSIGN_OR_RETURN(std::string manifest_json, ReadEntry(reader, *first));
  PreparedScratch out;
  ZENITH_ASSIGN_OR_RETURN(out.manifest, pageserver::BasebackupManifest::FromJson(manifest_json));
  for (;;) {
    ZENITH_ASSIGN_OR_RETURN(auto entry, reader.Next());
    if (!entry) break;
    if (entry->name == "pg_wal" || entry->name.rfind("pg_wal/", 0) == 0) continue;
    ZENITH_RETURN_IF_ERROR(Extract(scratch_dir, reader, *entry));
  }
  std::set<std::string> made_dirs;
  for (const auto& file : out.manifest.relations) {
    if (ValidateTarEntryName(file.path).ok() == false) return Corruption("bad relation path in the manifest: " + file.path);
    ZENITH_RETURN_IF_ERROR(CreateSparseFile(scratch_dir + "/" + file.path, file.size, &made_dirs));
    out.remote_files[file.path] = file.size;
  }
  if (::symlink(wal_dir.c_str(), (scratch_dir + "/pg_wal").c_str()) != 0) {
    return ErrnoStatus("create symlink", scratch_dir + "/pg_wal", errno);
  }
  ZENITH_RETURN_IF_ERROR(ApplyMountSettings(scratch_dir));
  if (::chmod(scratch_dir.c_str(), 0700) != 0) return ErrnoStatus("chmod", scratch_dir, errno);
  return out;
}

}  // namespace zenith::fs
