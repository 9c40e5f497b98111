#include "fs/remote_compute.h"

#include <fcntl.h>
#include <pwd.h>
#include <unistd.h>

#include <sstream>
#include <vector>

#include "common/byte_io.h"
#include "common/file_util.h"
#include "fs/scratch_setup.h"

namespace zenith::fs {

namespace {

// postmaster.pid's lines (PostgreSQL's pidfile.h): 1 pid, 4 port, 5 the
// first socket directory, 8 status.
constexpr size_t kPortLine = 3, kSocketDirLine = 4, kStatusLine = 7;

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

Status AppendLines(const std::string& path, const std::string& lines, bool at_start) {
  std::string text;
  if (auto old = ReadFileToString(path); old.ok()) text = *old;
  if (!text.empty() && text.back() != '\n') text += "\n";
  text = at_start ? lines + text : text + lines;
  ZENITH_ASSIGN_OR_RETURN(UniqueFd fd, OpenFile(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0600));
  return WriteFull(fd.get(), AsBytes(text), path);
}

// A name as pg_hba.conf and pg_ident.conf take it: double-quoted, so that
// no keyword ("all", "+group", "@file") or regular expression ("/...") is
// read into it. Names that cannot be written so are refused.
Result<std::string> Quoted(const std::string& name, const char* what) {
  if (name.empty() || name.front() == '/' || name.find_first_of("\"\n\r\t ,#\\") != std::string::npos) {
    return InvalidArgument(std::string("the ") + what + " '" + name + "' cannot be named in pg_hba.conf");
  }
  return "\"" + name + "\"";
}

}  // namespace

Result<std::string> MountOsUser() {
  const passwd* pw = ::getpwuid(::geteuid());
  if (pw == nullptr) return NotFound("the mount's user id " + std::to_string(::geteuid()) + " has no name");
  return std::string(pw->pw_name);
}

Status ApplyRemoteComputeSettings(const std::string& scratch_dir, const RemoteComputeAuth& auth) {
  ZENITH_ASSIGN_OR_RETURN(const std::string os_user, Quoted(auth.mount_user, "OS user"));
  ZENITH_ASSIGN_OR_RETURN(const std::string role, Quoted(auth.superuser, "superuser"));
  const std::string mark = "  " + std::string(kRemoteComputeMarker) + "\n";
  ZENITH_RETURN_IF_ERROR(AppendLines(scratch_dir + "/postgresql.auto.conf",
                                     "synchronous_standby_names = 'zenith_pageserver'" + mark +
                                         "synchronous_commit = 'on'" + mark +
                                         // This pg_wal is not the repository's: the forwarder's replication
                                         // slot keeps what the page server still needs; 1 GB covers the time
                                         // before its first connection creates the slot.
                                         "wal_keep_size = '1024'" + mark + "wal_recycle = 'on'" + mark,
                                     /*at_start=*/false));
  // pg_hba.conf: the first line matching a connection decides, and a
  // failed peer check is final: so replication is the superuser's, over
  // the socket, from the mount's OS user, and nobody else's anywhere,
  // whatever the lines initdb wrote after these say.
  ZENITH_RETURN_IF_ERROR(AppendLines(scratch_dir + "/pg_hba.conf",
                                     "local replication " + role + " peer map=zenith_mount" + mark +
                                         "local replication all reject" + mark +
                                         "host replication all all reject" + mark +
                                         "local all " + role + " peer map=zenith_login" + mark,
                                     /*at_start=*/true));
  return AppendLines(scratch_dir + "/pg_ident.conf",
                     "zenith_mount " + os_user + " " + role + mark + "zenith_login " + os_user + " " + role + mark +
                         "zenith_login " + role + " " + role + mark,
                     /*at_start=*/false);
}

std::optional<ComputeSocket> ReadyComputeSocket(const std::string& postmaster_pid) {
  const std::vector<std::string> lines = Lines(postmaster_pid);
  if (lines.size() <= kStatusLine || lines[kStatusLine].rfind("ready", 0) != 0) return std::nullopt;
  const std::string& port = lines[kPortLine];
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  if (lines[kSocketDirLine].empty()) return std::nullopt;
  return ComputeSocket{lines[kSocketDirLine], std::stoi(port)};
}

}  // namespace zenith::fs
