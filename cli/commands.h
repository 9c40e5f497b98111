// The `zenith` subcommands. Each returns the process exit code after
// printing its output; errors are printed as "zenith: <message>".
//
// Thread-safety: one thread.
#pragma once

#include <string>
#include <vector>

namespace zenith::cli {

// Exit codes of `zenith`.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;      // printed as "zenith: <message>"
inline constexpr int kExitNotRunning = 3;   // `zenith pageserver status`: none runs (as LSB's status)

struct GlobalOptions {
  std::string repo;  // --repo (empty: $ZENITH_REPO or ./.zenith)
};

struct InitCmd;
// A fresh initdb, or the import of a stopped data directory or of a running
// server (cli/command_line.h).
int CmdInit(const GlobalOptions& g, const InitCmd& how);
// json: print one document (cli/json_output.h) instead of text.
int CmdBranchList(const GlobalOptions& g, bool json);
int CmdBranchCreate(const GlobalOptions& g, const std::string& name, const std::string& parent);
// A prepared branch: `sql_file` runs on it in a private PostgreSQL before
// it is named (cli/prepared_branch_command.cc).
int CmdBranchPrepare(const GlobalOptions& g, const std::string& name, const std::string& parent,
                     const std::string& sql_file);
int CmdBranchDelete(const GlobalOptions& g, const std::string& name);
int CmdBranchDetach(const GlobalOptions& g, const std::string& name);
// `to` PARENT[@LSN] or "" (its parent's end of WAL); `keep` "" or a new name for the old state.
int CmdBranchReset(const GlobalOptions& g, const std::string& name, const std::string& to, const std::string& keep);
int CmdBranchVerbose(const GlobalOptions& g, bool json);  // zenith branch -v
int CmdBranchTree(const GlobalOptions& g, bool verbose, bool json);  // zenith branch --tree [-v] [--json]
int CmdGc(const GlobalOptions& g, const std::string& window);  // window "" = the configured one
struct PageServerCmd;
// start | stop | status (cli/command_line.h).
int CmdPageServer(const GlobalOptions& g, const PageServerCmd& how);
int CmdMount(const GlobalOptions& g, const std::string& branch, const std::string& dir);
// `target`: BRANCH (its end of WAL), BRANCH@LSN or BRANCH@TIME.
int CmdMountReadOnly(const GlobalOptions& g, const std::string& target, const std::string& dir);
// A page server on another machine: its URL (libpq's), and the CA file its
// TLS certificate is verified with ("" = libpq's ~/.postgresql/root.crt).
struct RemotePageServer {
  std::string url, ca;
};
// --ca when given, else the ca.crt of the repository --repo (or
// $ZENITH_REPO, ./.zenith) names if there is one, else "".
std::string RemoteCa(const GlobalOptions& g, const std::string& given);
// A remote mount (cli/remote_commands.cc): no repository here; `scratch` ""
// is the default place.
int CmdMountRemote(const RemotePageServer& server, const std::string& branch, const std::string& dir,
                   const std::string& scratch);
int CmdStartRemote(const RemotePageServer& server, const std::string& branch, const std::vector<std::string>& pg_ctl_args);
int CmdStopRemote(const RemotePageServer& server, const std::string& branch);
int CmdUmount(const GlobalOptions& g, const std::string& dir);
// `target` as for CmdMountReadOnly; DIR new or empty.
int CmdExport(const GlobalOptions& g, const std::string& target, const std::string& dir);
// What changed from `from` to `to` (each as for CmdMountReadOnly); with
// `schema`, a unified diff of their schemas (cli/diff_command.cc).
int CmdDiff(const GlobalOptions& g, const std::string& from, const std::string& to, bool schema);
int CmdStart(const GlobalOptions& g, const std::string& branch, const std::vector<std::string>& pg_ctl_args);
int CmdStop(const GlobalOptions& g, const std::string& branch);
int CmdStatus(const GlobalOptions& g, bool json);
struct RemoteCmd;
// status | sync (cli/remote_storage_commands.cc).
int CmdRemote(const GlobalOptions& g, const RemoteCmd& how);
// zenith attach s3://BUCKET/PREFIX: the repository rebuilt here from its
// bucket (pageserver/repo/attach.h); refused if one exists here.
int CmdAttach(const GlobalOptions& g, const std::string& url);

// Prints "zenith: <message>" to stderr and returns kExitFailure.
int Fail(const std::string& message);

}  // namespace zenith::cli
