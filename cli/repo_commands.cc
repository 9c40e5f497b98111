// zenith init, zenith branch, zenith pageserver.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "cli/command_line.h"
#include "cli/commands.h"
#include "cli/format.h"
#include "cli/json_output.h"
#include "cli/mountpoint.h"
#include "cli/object_storage.h"
#include "cli/process.h"
#include "cli/remote_status.h"
#include "cli/repo_context.h"
#include "common/file_util.h"
#include "common/str_format.h"
#include "pageserver/client/server_launcher.h"

namespace zenith::cli {

namespace {

// How to show the repository path to the user: as given when it is the
// default, absolute otherwise.
std::string Display(const GlobalOptions& g, const std::string& path) {
  const char* env = std::getenv("ZENITH_REPO");
  return g.repo.empty() && !(env && *env) ? ".zenith" : path;  // as ResolveRepoPath decides
}

// The page server's program makes the repository (the CLI does not link
// the server) from `source`: {"--create-from", DIR} or
// {"--create-from-server", CONNINFO}. Its one-line error comes back as the
// Status message.
Status CreateWithPageServer(const std::string& repo, const std::vector<std::string>& source) {
  const std::string program = ExecutableDir() + "/zenith-pageserver";
  std::vector<std::string> argv = {program, "--repo", repo, "--pg-bin-dir", PgBinDir()};
  argv.insert(argv.end(), source.begin(), source.end());
  ZENITH_ASSIGN_OR_RETURN(Outcome out, RunCollectingErrors(argv));
  if (out.exit_code == 0) return Status::Ok();
  std::string message = WithoutTrailingSpace(out.errors);
  if (const std::string prefix = "zenith-pageserver: "; message.rfind(prefix, 0) == 0) message.erase(0, prefix.size());
  if (message.empty()) message = program + " exited with code " + std::to_string(out.exit_code);
  return IoError(message);
}

// Keeps the addresses `zenith pageserver start` was given ("" = as before)
// in the config; a running page server that listens elsewhere is stopped,
// to be started again where it was told.
Status KeepAddresses(RepoContext& repo, const std::string& listen, const std::string& metrics) {
  const bool new_listen = !listen.empty() && listen != repo.config.listen;
  const bool new_metrics = !metrics.empty() && metrics != repo.config.metrics_listen;
  if (!new_listen && !new_metrics) return Status::Ok();
  for (const std::string* address : {&listen, &metrics}) {
    if (address->empty()) continue;
    if (auto parsed = pageserver::ParseListenAddress(*address); !parsed.ok()) return parsed.status();
  }
  if (new_listen) repo.config.listen = listen;
  if (new_metrics) repo.config.metrics_listen = metrics;
  ZENITH_RETURN_IF_ERROR(repo.config.Save(repo.layout.config()));
  if (RunningPageServer(repo)) return StopPageServer(repo);
  return Status::Ok();
}

}  // namespace

int Fail(const std::string& message) {
  std::fprintf(stderr, "zenith: %s\n", message.c_str());
  return kExitFailure;
}

namespace {

// `zenith init` without --remote: the local repository.
int InitLocal(const GlobalOptions& g, const InitCmd& how, const std::string& repo) {
  if (!how.from_datadir.empty()) {
    const std::string source = AbsolutePath(how.from_datadir);
    if (Status s = CreateWithPageServer(repo, {"--create-from", source}); !s.ok()) {
      return Fail("could not import " + source + ": " + s.message());
    }
    std::printf("new zenith repository was created in %s from %s\n", Display(g, repo).c_str(), source.c_str());
    return kExitOk;
  }
  if (!how.from_server.empty()) {
    auto conninfo = MovePasswordToEnvironment(how.from_server);
    if (!conninfo.ok()) return Fail("could not import the server: " + conninfo.status().message());
    if (Status s = CreateWithPageServer(repo, {"--create-from-server", *conninfo}); !s.ok()) {
      return Fail("could not import the server: " + s.message());
    }
    std::printf("new zenith repository was created in %s from the server\n", Display(g, repo).c_str());
    return kExitOk;
  }
  const std::string initdb = PgBinDir() + "/initdb";
  if (access(initdb.c_str(), X_OK) != 0) {
    return Fail("PostgreSQL 15's initdb is not at " + initdb + "; install postgresql-15 or set ZENITH_PG_BIN");
  }
  const std::string temp = repo + ".initdb-" + std::to_string(getpid());
  // initdb's own fsyncs are wasted on a directory that is deleted once
  // imported: CreateRepository makes everything it copies durable. Its
  // warning about the skipped sync would only mislead.
  bool after_blank = false;
  // What Debian's pg_createcluster gives a cluster: only the OS user of
  // the same name on the Unix socket, a password over TCP.
  std::vector<std::string> argv = {initdb, "-D", temp, "--no-instructions", "--no-sync"};
  if (how.trust) argv.insert(argv.end(), {"-A", "trust"});
  else argv.insert(argv.end(), {"--auth-local=peer", "--auth-host=scram-sha-256"});
  auto code = RunForegroundFiltered(argv, [&](std::string_view line) {
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
  Status s = CreateWithPageServer(repo, {"--create-from", temp});
  IgnoreError(RemoveTree(temp));
  if (!s.ok()) return Fail("could not create the repository: " + s.message());
  std::printf("new zenith repository was created in %s\n", Display(g, repo).c_str());
  return kExitOk;
}

}  // namespace

int CmdInit(const GlobalOptions& g, const InitCmd& how) {
  if (geteuid() == 0) {
    return Fail("cannot run as root: PostgreSQL refuses to run as root; run zenith as an unprivileged user");
  }
  const std::string repo = ResolveRepoPath(g.repo);
  if (PathExists(repo)) return Fail("a zenith repository already exists in " + Display(g, repo));
  if (how.remote.empty()) return InitLocal(g, how, repo);
  // Everything the bucket can refuse is asked before anything is made here.
  auto remote = PrepareRemote(how.remote);
  if (!remote.ok()) return Fail("cannot use " + how.remote + ": " + remote.status().message());
  if (int code = InitLocal(g, how, repo); code != kExitOk) return code;
  if (Status s = ClaimRemote(repo, *remote); !s.ok()) {
    IgnoreError(RemoveTree(repo));
    return Fail("could not make " + how.remote + " the repository's remote (nothing was kept here): " + s.message());
  }
  std::printf("its remote is %s\n", remote->url.ToString().c_str());
  return kExitOk;
}

int CmdAttach(const GlobalOptions& g, const std::string& url) {
  if (geteuid() == 0) {
    return Fail("cannot run as root: PostgreSQL refuses to run as root; run zenith as an unprivileged user");
  }
  const std::string repo = ResolveRepoPath(g.repo);
  if (PathExists(repo)) return Fail("a zenith repository already exists in " + Display(g, repo));
  // The page server does the work (the CLI never writes a repository's
  // insides); it says what it downloaded.
  if (Status s = CreateWithPageServer(repo, {"--attach", url}); !s.ok()) {
    return Fail("could not attach " + url + " (nothing was kept here): " + s.message());
  }
  std::printf("the repository of %s was attached in %s\n", url.c_str(), Display(g, repo).c_str());
  return kExitOk;
}

int CmdBranchList(const GlobalOptions& g, bool json) {
  auto repo = OpenRepo(ResolveRepoPath(g.repo));
  if (!repo.ok()) return Fail(repo.status().message());
  auto client = ConnectPageServer(*repo);
  if (!client.ok()) return Fail(client.status().message());
  auto branches = client->ListBranches();
  if (!branches.ok()) return Fail(branches.status().message());
  if (json) {
    PrintJson(BranchListJson(*branches));
    return kExitOk;
  }
  for (const auto& b : *branches) std::printf("%s\n", b.name.c_str());
  return kExitOk;
}

int CmdBranchCreate(const GlobalOptions& g, const std::string& name, const std::string& parent) {
  auto repo = OpenRepo(ResolveRepoPath(g.repo));
  if (!repo.ok()) return Fail(repo.status().message());
  auto client = ConnectPageServer(*repo);
  if (!client.ok()) return Fail(client.status().message());
  auto created = client->CreateBranch(name, parent);
  if (!created.ok()) return Fail(created.status().message());
  if (created->at_end_of_wal) std::printf("branching at end of WAL: %s\n", created->lsn.ToString().c_str());
  else std::printf("branching at %s\n", created->lsn.ToString().c_str());
  return kExitOk;
}

int CmdPageServer(const GlobalOptions& g, const PageServerCmd& how) {
  const std::string& action = how.action;
  const std::string& listen = how.listen;
  auto repo = OpenRepo(ResolveRepoPath(g.repo));
  if (!repo.ok()) return Fail(repo.status().message());
  if (action == "start") {
    if (Status s = KeepAddresses(*repo, listen, how.metrics); !s.ok()) return Fail(s.message());
    auto pid = StartPageServer(*repo);
    if (!pid.ok()) return Fail(pid.status().message());
    std::printf("page server running (pid %d), socket %s\n", *pid, repo->layout.socket_path(repo->config.port).c_str());
    if (!repo->config.metrics_listen.empty()) {
      std::printf("metrics at http://%s/metrics\n", repo->config.metrics_listen.c_str());
    }
    if (!repo->config.listen.empty()) {
      std::printf("listening on %s: TLS, user zenith, password in %s; user compute (remote mounts only), password in %s\n",
                  repo->config.listen.c_str(), repo->layout.password_file().c_str(),
                  repo->layout.compute_password_file().c_str());
      if (repo->config.tls_cert.empty()) {
        std::printf("clients verify its certificate with %s (sslmode=verify-full sslrootcert=...)\n",
                    repo->layout.ca_cert().c_str());
      }
    }
    return kExitOk;
  }
  if (action == "stop") {
    Status s = StopPageServer(*repo);
    if (!s.ok()) return Fail(s.message());
    std::printf("page server stopped\n");
    return kExitOk;
  }
  auto status = DescribeRunningPageServer(*repo);
  if (how.json) {
    PrintJson(PageServerStatusJson(status, repo->layout.socket_path(repo->config.port)));
    return status ? kExitOk : kExitNotRunning;
  }
  if (!status) {
    std::printf("page server is not running\n");
    return kExitNotRunning;
  }
  std::printf("page server running (pid %d), socket %s\n", status->pid,
              repo->layout.socket_path(repo->config.port).c_str());
  if (status->compaction) std::printf("compaction: %s\n", DescribeBackgroundRun(*status->compaction).c_str());
  if (status->gc) std::printf("garbage collection: %s\n", DescribeBackgroundRun(*status->gc).c_str());
  if (auto notice = SupersededNotice(*repo)) std::printf("remote: %s\n", notice->c_str());
  return kExitOk;
}

}  // namespace zenith::cli
