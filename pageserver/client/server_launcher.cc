#include "pageserver/client/server_launcher.h"

#include <chrono>
#include <thread>

#include "common/daemon_process.h"

namespace zenith::pageserver {

namespace {

using Clock = std::chrono::steady_clock;

Result<std::unique_ptr<PageServerClient>> WaitForServer(const RepoLayout& layout, const std::string& conninfo,
                                                        pid_t child) {
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  Status last;
  while (Clock::now() < deadline) {
    auto client = PageServerClient::Connect(conninfo);
    if (client.ok()) return client;
    last = client.status();
    if (auto code = ReapIfExited(child); code && *code != kExitAlreadyRunning) {
      return Unavailable("the page server exited with code " + std::to_string(*code) + "; see " + layout.log_file());
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
  ZENITH_ASSIGN_OR_RETURN(pid_t child, SpawnDaemon({ExecutableDir() + "/zenith-pageserver", "--repo", layout.root},
                                                   layout.log_file()));
  return WaitForServer(layout, conninfo, child);
}

Result<RepoClient> ConnectOrStartRepo(const RepoLayout& layout, const RepoConfig& config) {
  ZENITH_ASSIGN_OR_RETURN(auto conn, ConnectOrStartPageServer(layout, config));
  return RepoClient(std::move(conn));
}

}  // namespace zenith::pageserver
