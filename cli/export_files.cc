#include "cli/export_files.h"

#include <fcntl.h>

#include "common/byte_io.h"
#include "common/file_util.h"

namespace zenith::cli {

std::string WithoutZenithSettings(const std::string& conf) {
  const size_t ours = conf.find("# zenith:");
  return ours == std::string::npos ? conf : conf.substr(0, ours);
}

Status WriteSnapshotFiles(const pageserver::BasebackupArchive& archive, const BeneathDir& dir) {
  auto make_parent = [&](const std::string& rel) {
    const size_t slash = rel.rfind('/');
    return slash == std::string::npos ? Status::Ok() : dir.MakeDirectories(rel.substr(0, slash), 0700);
  };
  for (const auto& [entry, data] : archive.entries) {
    if (entry.type == TarEntryType::kDirectory) {
      ZENITH_RETURN_IF_ERROR(dir.MakeDirectories(entry.name, 0700));
      ZENITH_RETURN_IF_ERROR(dir.ChmodDirectory(entry.name, entry.mode & 07777));
      continue;
    }
    ZENITH_RETURN_IF_ERROR(make_parent(entry.name));
    if (entry.type == TarEntryType::kSymlink) {
      ZENITH_RETURN_IF_ERROR(dir.Symlink(entry.name, entry.link_target));
      continue;
    }
    const std::string contents = entry.name == "postgresql.auto.conf" ? WithoutZenithSettings(data) : data;
    const std::string path = dir.path() + "/" + entry.name;
    ZENITH_ASSIGN_OR_RETURN(UniqueFd fd, dir.OpenFile(entry.name, O_WRONLY | O_CREAT | O_EXCL, entry.mode & 07777));
    ZENITH_RETURN_IF_ERROR(WriteFull(fd.get(), AsBytes(contents), path));
    ZENITH_RETURN_IF_ERROR(FsyncFd(fd.get(), path));
  }
  for (const auto& file : archive.manifest.relations) ZENITH_RETURN_IF_ERROR(make_parent(file.path));
  return dir.MakeDirectories("pg_wal", 0700);
}

}  // namespace zenith::cli
