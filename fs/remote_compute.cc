#include "fs/remote_compute.h"

#include <fcntl.h>

#include <spdlog/spdlog.h>

#include <chrono>
#include <sstream>
#include <vector>

#include "common/byte_io.h"
#include "common/file_util.h"
#include "fs/scratch_setup.h"

namespace zenith::fs {

namespace {

constexpr auto kWatchInterval = std::chrono::milliseconds(200);
// postmaster.pid's lines (PostgreSQL's pidfile.h): 1 pid, 4 port, 6 the
// first listen address, 8 status.
constexpr size_t kPortLine = 3, kListenLine = 5, kStatusLine = 7;

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

bool IsLoopback(const std::string& ip) { return ip == "::1" || ip.rfind("127.", 0) == 0; }
bool IsIpv6(const std::string& ip) { return ip.find(':') != std::string::npos; }

Status AppendLines(const std::string& path, const std::string& lines, bool at_start) {
  std::string text;
  if (auto old = ReadFileToString(path); old.ok()) text = *old;
  if (!text.empty() && text.back() != '\n') text += "\n";
  text = at_start ? lines + text : text + lines;
  ZENITH_ASSIGN_OR_RETURN(UniqueFd fd, OpenFile(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0600));
  return WriteFull(fd.get(), AsBytes(text), path);
}

}  // namespace

Status ApplyRemoteComputeSettings(const std::string& scratch_dir, const ComputeEndpoints& ends) {
  const std::string mark = "  " + std::string(kRemoteComputeMarker) + "\n";
  const std::string listen = IsLoopback(ends.compute_ip) ? "localhost" : "localhost, " + ends.compute_ip;
  ZENITH_RETURN_IF_ERROR(AppendLines(scratch_dir + "/postgresql.auto.conf",
                                     "synchronous_standby_names = 'zenith_pageserver'" + mark +
                                         "synchronous_commit = 'on'" + mark +
                                         "listen_addresses = '" + listen + "'" + mark +
                                         // This pg_wal is not the repository's: the page server's replication
                                         // slot keeps what it still needs; 1 GB covers the time before its
                                         // first connection creates the slot.
                                         "wal_keep_size = '1024'" + mark + "wal_recycle = 'on'" + mark,
                                     /*at_start=*/false));
  const std::string mask = IsIpv6(ends.pageserver_ip) ? "/128" : "/32";
  // Trust, from the page server's address only: the compute's roles live
  // in the branch's catalog, where the mount cannot add a password.
  return AppendLines(scratch_dir + "/pg_hba.conf",
                     "host replication all " + ends.pageserver_ip + mask + " trust" + mark, /*at_start=*/true);
}

std::optional<std::string> ReadyComputeUrl(const std::string& postmaster_pid, const std::string& compute_ip) {
  const std::vector<std::string> lines = Lines(postmaster_pid);
  if (lines.size() <= kStatusLine || lines[kStatusLine].rfind("ready", 0) != 0) return std::nullopt;
  const std::string& port = lines[kPortLine];
  if (port.empty() || port.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  const std::string host = IsIpv6(compute_ip) ? "[" + compute_ip + "]" : compute_ip;
  return "postgresql://" + host + ":" + port;
}

ComputeWatcher::ComputeWatcher(std::string scratch_dir, std::string compute_ip, OnReady on_ready)
    : scratch_dir_(std::move(scratch_dir)), compute_ip_(std::move(compute_ip)), on_ready_(std::move(on_ready)) {
  thread_ = std::thread([this] { Run(); });
}

ComputeWatcher::~ComputeWatcher() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

bool ListensOnTcp(const std::string& postmaster_pid) {
  const std::vector<std::string> lines = Lines(postmaster_pid);
  return lines.size() > kListenLine && !lines[kListenLine].empty();
}

void ComputeWatcher::Run() {
  std::string reported;  // the postmaster.pid last reported (a restart writes a new one)
  while (!stop_) {
    auto text = ReadFileToString(scratch_dir_ + "/postmaster.pid");
    if (text.ok() && *text != reported) {
      if (auto url = ReadyComputeUrl(*text, compute_ip_)) {
        if (!ListensOnTcp(*text)) {
          spdlog::error("PostgreSQL on this mount listens on no TCP address (listen_addresses was overridden to be "
                        "empty): the page server cannot stream its WAL, and every COMMIT will wait; start it without "
                        "overriding listen_addresses");
        }
        on_ready_(*url);
        reported = *text;
      }
    }
    std::this_thread::sleep_for(kWatchInterval);
  }
}

}  // namespace zenith::fs
