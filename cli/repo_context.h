// Finding the repository a `zenith` command works on, and reaching its page
// server, starting it when it is not running (so a user never has to).
//
// Thread-safety: one thread.
#pragma once

#include <optional>
#include <string>

#include "common/status.h"
#include "pageserver/api/repo_config.h"
#include "pageserver/api/repo_layout.h"
#include "pageserver/client/repo_client.h"

namespace zenith::cli {

// The repository directory: --repo, else $ZENITH_REPO, else ./.zenith;
// made absolute.
std::string ResolveRepoPath(const std::string& repo_flag);

struct RepoContext {
  pageserver::RepoLayout layout;
  pageserver::RepoConfig config;
};

// NotFound with a hint when there is no repository there.
Result<RepoContext> OpenRepo(const std::string& repo_path);

// The libpq connection string of the repository's page server (its socket).
std::string PageServerConnString(const RepoContext& repo);

// A connection to the repository's page server, starting the server first
// if nobody answers on its socket.
Result<pageserver::RepoClient> ConnectPageServer(const RepoContext& repo);

// Starts the page server unless one runs; returns its pid.
Result<pid_t> StartPageServer(const RepoContext& repo);
// Stops it (SIGTERM, then waits); NotFound if none runs.
Status StopPageServer(const RepoContext& repo);
// What the running page server says of itself (`status`), if one answers.
std::optional<pageserver::ServerStatus> DescribeRunningPageServer(const RepoContext& repo);
// The pid of the running page server, if one answers.
std::optional<pid_t> RunningPageServer(const RepoContext& repo);

}  // namespace zenith::cli
