// zenith init, zenith branch, zenith pageserver.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "cli/commands.h"
#include "cli/process.h"
#include "cli/repo_context.h"
#include "common/file_util.h"
#include "pageserver/import.h"

namespace zenith::cli {

namespace {

std::string PgBinDir() {
  const char* env = std::getenv("ZENITH_PG_BIN");
  return env && *env ? env : "/usr/lib/postgresql/15/bin";
}

// How to show the repository path to the user: as given when it is the
// default, absolute otherwise.
std::string Display(const GlobalOptions& g, const std::string& path) {
  const char* env = std::getenv("ZENITH_REPO");
  return g.repo.empty() && !(env && *env) ? ".zenith" : path;  // as ResolveRepoPath decides
}

}  // namespace

int Fail(const std::string& message) {
  std::fprintf(stderr, "zenith: %s\n", message.c_str());
  return 1;
}

int CmdInit(const GlobalOptions& g) {
  if (geteuid() == 0) {
    return Fail("cannot run as root: PostgreSQL refuses to run as root; run zenith as an unprivileged user");
  }
  const std::string repo = ResolveRepoPath(g.repo);
  if (PathExists(repo)) return Fail("a zenith repository already exists in " + Display(g, repo));
  const std::string initdb = PgBinDir() + "/initdb";
  if (access(initdb.c_str(), X_OK) != 0) {
    return Fail("PostgreSQL 15's initdb is not at " + initdb + "; install postgresql-15 or set ZENITH_PG_BIN");
  }
  const std::string temp = repo + ".initdb-" + std::to_string(getpid());
  // initdb's own fsyncs are wasted on a directory that is deleted once
  // imported: CreateRepository makes everything it copies durable. Its
  // warning about the skipped sync would only mislead.
  bool after_blank = false;
  auto code = RunForegroundFiltered({initdb, "-D", temp, "--no-instructions", "--no-sync"}, [&](std::string_view line) {
    if (line == "Sync to disk skipped." || line == "The data directory might become corrupt if the operating system crashes.") {
      return false;
    }
    bool keep = !(line.empty() && after_blank);  // the warning's blank line would double one
    after_blank = line.empty();
    return keep;
  });
  if (!code.ok() || *code != 0) {
    IgnoreError(RemoveTree(temp));
    return Fail("initdb failed" + (code.ok() ? " with exit code " + std::to_string(*code) : ": " + code.status().message()));
  }
  pageserver::RepoConfig config;
  config.pg_bin_dir = PgBinDir();
  Status s = pageserver::CreateRepository(repo, temp, config);
  IgnoreError(RemoveTree(temp));
  if (!s.ok()) return Fail("could not create the repository: " + s.message());
  std::printf("new zenith repository was created in %s\n", Display(g, repo).c_str());
  return 0;
}

int CmdBranchList(const GlobalOptions& g) {
  auto repo = OpenRepo(ResolveRepoPath(g.repo));
  if (!repo.ok()) return Fail(repo.status().message());
  auto client = ConnectPageServer(*repo);
  if (!client.ok()) return Fail(client.status().message());
  auto rows = (*client)->Query("branch_list");
  if (!rows.ok()) return Fail(rows.status().message());
  for (const auto& row : *rows) std::printf("%s\n", row[0].c_str());
  return 0;
}

int CmdBranchCreate(const GlobalOptions& g, const std::string& name, const std::string& parent) {
  auto repo = OpenRepo(ResolveRepoPath(g.repo));
  if (!repo.ok()) return Fail(repo.status().message());
  auto client = ConnectPageServer(*repo);
  if (!client.ok()) return Fail(client.status().message());
  auto rows = (*client)->Query("branch_create $1 $2", {name, parent});
  if (!rows.ok()) return Fail(rows.status().message());
  if (rows->size() != 1 || (*rows)[0].size() != 4) return Fail("unexpected reply from the page server");
  const auto& row = (*rows)[0];
  if (row[3] == "t") std::printf("branching at end of WAL: %s\n", row[2].c_str());
  else std::printf("branching at %s\n", row[2].c_str());
  return 0;
}

int CmdPageServer(const GlobalOptions& g, const std::string& action) {
  auto repo = OpenRepo(ResolveRepoPath(g.repo));
  if (!repo.ok()) return Fail(repo.status().message());
  if (action == "start") {
    auto pid = StartPageServer(*repo);
    if (!pid.ok()) return Fail(pid.status().message());
    std::printf("page server running (pid %d), socket %s\n", *pid, repo->layout.socket_path(repo->config.port).c_str());
    return 0;
  }
  if (action == "stop") {
    Status s = StopPageServer(*repo);
    if (!s.ok()) return Fail(s.message());
    std::printf("page server stopped\n");
    return 0;
  }
  auto pid = RunningPageServer(*repo);
  if (!pid) {
    std::printf("page server is not running\n");
    return 3;
  }
  std::printf("page server running (pid %d), socket %s\n", *pid, repo->layout.socket_path(repo->config.port).c_str());
  return 0;
}

}  // namespace zenith::cli
