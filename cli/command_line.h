// The `zenith` command line: what the user asked for, parsed and checked
// before anything runs.
//
// Thread-safety: one thread.
#pragma once

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "cli/commands.h"

namespace zenith::cli {

struct InitCmd {
  std::string from_datadir;  // "" = a fresh initdb
  std::string from_server;   // a running server's connection string, or ""
  bool trust = false;        // a fresh initdb's pg_hba.conf: trust, not peer and scram-sha-256
  std::string remote;        // s3://BUCKET/PREFIX: the repository's durable home, or ""
};
struct BranchListCmd {
  bool verbose = false;
  bool json = false;  // --json: one document (cli/json_output.h)
  bool tree = false;  // --tree: under their parents (cli/branch_tree.h)
};
struct BranchCreateCmd {
  std::string name, parent;  // parent: PARENT or PARENT@LSN
  std::string sql;           // a script that prepares the branch before anyone sees it, or ""
};
struct BranchDeleteCmd {
  std::string name;
};
struct BranchDetachCmd {
  std::string name;
};
struct BranchResetCmd {
  std::string name;
  std::string to;    // PARENT[@LSN]; "" = its parent at its end of WAL
  std::string keep;  // a new branch for the old state, or ""
};
struct GcCmd {
  std::string window;  // "" = the configured one
};
struct MountCmd {
  std::string branch, dir;  // branch: BRANCH, or BRANCH@LSN / BRANCH@TIME with read_only
  bool read_only = false;
  std::string pageserver;  // a remote mount: the page server's postgresql:// URL
  std::string ca;          // with pageserver: --ca, the CA file to trust ("" = the default)
  std::string scratch;     // a remote mount's scratch ("" = the default)
};
struct UmountCmd {
  std::string dir;
};
struct ExportCmd {
  std::string target, dir;  // target: BRANCH, BRANCH@LSN or BRANCH@TIME
};
struct DiffCmd {
  std::string from, to;  // each BRANCH, BRANCH@LSN or BRANCH@TIME
  bool schema = false;
};
struct StartCmd {
  std::string branch;
  std::vector<std::string> pg_ctl_args;
  std::string pageserver, ca;  // as MountCmd's
};
struct StopCmd {
  std::string branch;
  std::string pageserver, ca;  // as MountCmd's
};
struct StatusCmd {
  bool json = false;
};
struct PageServerCmd {
  std::string action;  // start | stop | status
  std::string listen;  // with start: HOST:PORT to listen on (kept in the config)
  bool json = false;   // with status: one document (cli/json_output.h)
  std::string metrics;  // with start: HOST:PORT for Prometheus metrics (kept in the config)
};

// zenith attach s3://BUCKET/PREFIX: the repository rebuilt from its bucket.
struct AttachCmd {
  std::string url;
};
struct RemoteCmd {
  std::string action;      // status | sync
  double timeout_s = 60;   // with sync
};

using Command = std::variant<InitCmd, BranchListCmd, BranchCreateCmd, BranchDeleteCmd, BranchDetachCmd, BranchResetCmd, GcCmd, MountCmd,
                             UmountCmd, ExportCmd, DiffCmd, StartCmd, StopCmd, StatusCmd, PageServerCmd, RemoteCmd,
                             AttachCmd>;

struct Invocation {
  GlobalOptions global;
  Command command;
};

// What parsing came to: an invocation to run, or an exit code (after
// --help, or a usage error, both printed by the parser: help to stdout,
// errors to stderr).
struct Parsed {
  std::optional<Invocation> invocation;
  int exit_code = kExitOk;
};
Parsed ParseCommandLine(int argc, const char* const* argv);

// Runs a parsed invocation; the process exit code.
int Run(const Invocation& invocation);

// The whole of `zenith`: parses, then runs. Its exit code.
int Main(int argc, char** argv);

}  // namespace zenith::cli
