#include "cli/mountpoint.h"

#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <sstream>

#include "common/daemon_process.h"
#include "common/file_util.h"

namespace zenith::cli {

namespace {

// getmntent's escapes: \040 space, \011 tab, \012 newline, \134 backslash.
std::string Unescape(const std::string& field) {
  std::string out;
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size()) {
      const std::string digits = field.substr(i + 1, 3);
      if (digits.find_first_not_of("01234567") == std::string::npos) {
        out += static_cast<char>(std::stoi(digits, nullptr, 8));
        i += 3;
        continue;
      }
    }
    out += field[i];
  }
  return out;
}

// The source field of the zenith mount at `dir` (the last one listed).
std::optional<std::string> ZenithMountSource(std::string_view mount_table, const std::string& dir) {
  std::istringstream lines{std::string(mount_table)};
  std::string line;
  std::optional<std::string> found;
  while (std::getline(lines, line)) {
    std::istringstream f(line);
    std::string source, target, type;
    f >> source >> target >> type;
    if (type == "fuse.zenith" && Unescape(target) == dir) found = source;
  }
  return found;
}

std::string MountTable() {
  auto table = ReadFileToString("/proc/self/mounts");
  return table.ok() ? *table : "";
}

}  // namespace

bool ListsZenithMount(std::string_view mount_table, const std::string& dir) {
  return ZenithMountSource(mount_table, dir).has_value();
}

bool IsZenithMount(const std::string& dir) { return ListsZenithMount(MountTable(), dir); }

std::optional<pid_t> ListedDaemon(std::string_view mount_table, const std::string& dir) {
  auto source = ZenithMountSource(mount_table, dir);
  constexpr std::string_view kPrefix = "zenith:";
  if (!source || source->rfind(kPrefix, 0) != 0) return std::nullopt;
  const std::string digits = source->substr(kPrefix.size());
  if (digits.empty() || digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  return static_cast<pid_t>(std::stol(digits));
}

std::optional<pid_t> MountDaemon(const std::string& dir) { return ListedDaemon(MountTable(), dir); }

Status CheckListedMountOf(std::string_view mount_table, const std::string& dir, pid_t daemon) {
  if (!ListsZenithMount(mount_table, dir)) return InvalidArgument(dir + " is not a zenith mount");
  if (ListedDaemon(mount_table, dir) != daemon) {
    return InvalidArgument(dir + " is a zenith mount of another daemon than the branch's (pid " + std::to_string(daemon) +
                           ")");
  }
  return Status::Ok();
}

Status CheckMountOf(const std::string& dir, pid_t daemon) { return CheckListedMountOf(MountTable(), dir, daemon); }

Status PrepareMountpoint(const std::string& dir) {
  struct stat st;
  if (stat(dir.c_str(), &st) != 0) {
    if (errno == ENOTCONN) {
      return InvalidArgument(dir + " is a zenith mount whose daemon died; run `zenith umount " + dir + "` first");
    }
    if (errno != ENOENT) return ErrnoStatus("stat", dir, errno);
    return MakeDirectories(dir, 0700);
  }
  if (!S_ISDIR(st.st_mode)) return InvalidArgument(dir + " is not a directory");
  if (IsZenithMount(dir)) return InvalidArgument(dir + " is already a zenith mount");
  ZENITH_ASSIGN_OR_RETURN(auto names, ListDirectory(dir));
  if (!names.empty()) return InvalidArgument(dir + " is not empty; a mount needs an empty directory");
  return Status::Ok();
}

std::string AbsolutePath(const std::string& path) {
  if (!path.empty() && path[0] == '/') return path;
  char cwd[PATH_MAX];
  return getcwd(cwd, sizeof cwd) ? std::string(cwd) + "/" + path : path;
}

}  // namespace zenith::cli
