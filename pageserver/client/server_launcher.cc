#include "pageserver/client/server_launcher.h"

#include <chrono>
#include <optional>
#include <thread>

#include "common/daemon_process.h"
#include "common/file_util.h"

namespace zenith::pageserver {

namespace {

using Clock = std::chrono::steady_clock;

Result<pid_t> SpawnPageServer(const RepoLayout& layout) {
  return SpawnDaemon({ExecutableDir() + "/zenith-pageserver", "--repo", layout.root}, layout.log_file());
}

// The message of the last error the page server logged ("... error: MSG"),
// or "" if the log names none: what a failed start tells the user.
std::string LastLoggedError(const std::string& log) {
  auto text = ReadFileToString(log);
  if (!text.ok()) return "";
  constexpr std::string_view kMark = "] error: ";
  const size_t at = text->rfind(kMark);
  if (at == std::string::npos) return "";
  const size_t start = at + kMark.size();
  return text->substr(start, text->find('\n', start) - start);
}

// Waits for a page server to accept connections. A child that exits because
// another server holds the repository's lock has lost a race with a process
// starting one, or found a server on its way out; it is reaped once, and if
// no server accepts within a moment another child is started.
Result<std::unique_ptr<PageServerClient>> WaitForServer(const RepoLayout& layout, const std::string& conninfo,
                                                        pid_t child) {
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  constexpr auto kRespawnAfter = std::chrono::milliseconds(500);
  std::optional<Clock::time_point> lost_at;  // set while no child of ours runs
  Status last;
  while (Clock::now() < deadline) {
    auto client = PageServerClient::Connect(conninfo);
    if (client.ok()) return client;
    last = client.status();
    if (!lost_at) {
      if (auto code = ReapIfExited(child)) {
        if (*code != kExitAlreadyRunning) {
          const std::string why = LastLoggedError(layout.log_file());
          return Unavailable("the page server exited with code " + std::to_string(*code) +
                             (why.empty() ? "" : ": " + why) + "; see " + layout.log_file());
        }
        lost_at = Clock::now();
      }
    } else if (Clock::now() - *lost_at >= kRespawnAfter) {
      ZENITH_ASSIGN_OR_RETURN(child, SpawnPageServer(layout));
      lost_at.reset();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return Unavailable("the page server did not start within 30 s (" + last.message() + "); see " + layout.log_file());
}

}  // namespace

Result<std::unique_ptr<PageServerClient>> ConnectOrStartPageServer(const RepoLayout& layout, const RepoConfig& config) {
  const std::string conninfo = PageServerConnString(layout.socket_dir(), config.port);
  auto client = PageServerClient::Connect(conninfo);
  if (client.ok()) return client;
  ZENITH_ASSIGN_OR_RETURN(pid_t child, SpawnPageServer(layout));
  return WaitForServer(layout, conninfo, child);
}

Result<RepoClient> ConnectOrStartRepo(const RepoLayout& layout, const RepoConfig& config) {
  ZENITH_ASSIGN_OR_RETURN(auto conn, ConnectOrStartPageServer(layout, config));
  return RepoClient(std::move(conn));
}

}  // namespace zenith::pageserver
