#include "cli/repo_context.h"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <thread>

#include "cli/mountpoint.h"
#include "cli/process.h"
#include "common/file_util.h"
#include "pageserver/client/server_launcher.h"

namespace zenith::cli {

namespace {

using pageserver::RepoClient;
using Clock = std::chrono::steady_clock;

}  // namespace

std::string PageServerConnString(const RepoContext& repo) {
  return pageserver::PageServerConnString(repo.layout.socket_dir(), repo.config.port);
}

std::string ResolveRepoPath(const std::string& repo_flag) {
  if (!repo_flag.empty()) return AbsolutePath(repo_flag);
  if (const char* env = std::getenv("ZENITH_REPO"); env && *env) return AbsolutePath(env);
  return AbsolutePath(".zenith");
}

Result<RepoContext> OpenRepo(const std::string& repo_path) {
  pageserver::RepoLayout layout{repo_path};
  if (!PathExists(layout.config())) {
    return NotFound("no zenith repository in " + repo_path + "; create one with `zenith init`");
  }
  ZENITH_ASSIGN_OR_RETURN(auto config, pageserver::RepoConfig::Load(layout.config()));
  return RepoContext{layout, config};
}

Result<pid_t> StartPageServer(const RepoContext& repo) {
  ZENITH_RETURN_IF_ERROR(ConnectPageServer(repo).status());
  auto pid = RunningPageServer(repo);
  if (!pid) return Unavailable("the page server started but does not answer; see " + repo.layout.log_file());
  return *pid;
}

Result<RepoClient> ConnectPageServer(const RepoContext& repo) {
  return pageserver::ConnectOrStartRepo(repo.layout, repo.config);
}

std::optional<pageserver::ServerStatus> DescribeRunningPageServer(const RepoContext& repo) {
  auto client = RepoClient::Connect(PageServerConnString(repo));
  if (!client.ok()) return std::nullopt;
  auto status = client->DescribeServer();
  if (!status.ok()) return std::nullopt;
  return *status;
}

std::optional<pid_t> RunningPageServer(const RepoContext& repo) {
  auto status = DescribeRunningPageServer(repo);
  if (!status) return std::nullopt;
  return status->pid;
}

Status StopPageServer(const RepoContext& repo) {
  auto pid = RunningPageServer(repo);
  if (!pid) return NotFound("no page server is running for " + repo.layout.root);
  if (kill(*pid, SIGTERM) != 0) return ErrnoStatus("signal the page server", errno);
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  while (ProcessAlive(*pid) && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  if (ProcessAlive(*pid)) return Timeout("the page server (pid " + std::to_string(*pid) + ") did not stop within 30 s");
  return Status::Ok();
}

}  // namespace zenith::cli
