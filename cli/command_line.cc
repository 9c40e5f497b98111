#include "cli/command_line.h"

#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>

#include "common/status.h"

namespace zenith::cli {

namespace {

// Every value the subcommands fill in; turned into one Command after parsing.
struct Values {
  std::string branch_name, branch_parent, branch_to, branch_keep, gc_window, mount_branch, mount_dir, umount_dir, export_target, export_dir,
      start_branch, stop_branch, ps_action, ps_listen, ps_metrics, pageserver, mount_scratch, ca;
  std::string init_from_datadir, init_from_server, init_auth = "peer-scram", init_remote;
  bool branch_verbose = false, branch_tree = false, mount_read_only = false, branch_json = false, status_json = false, ps_json = false;
  std::vector<std::string> pg_ctl_args;
  std::string remote_action, attach_url, diff_from, diff_to, branch_sql;
  bool diff_schema = false;
  double remote_timeout = 60;
};

struct Subcommands {
  CLI::App *init, *branch, *gc, *mount, *umount, *exp, *start, *stop, *status, *ps, *remote, *attach, *diff;
};

Subcommands Define(CLI::App& app, GlobalOptions& g, Values& v) {
  app.require_subcommand(1);
  app.add_option("--repo", g.repo, "the repository directory (default: $ZENITH_REPO, else ./.zenith)");
  Subcommands s{};
  s.init = app.add_subcommand("init", "create a repository: initdb (or an existing cluster), imported as branch \"main\"");
  auto* from_datadir = s.init->add_option("--from-datadir", v.init_from_datadir,
                                          "import this stopped PostgreSQL 15 data directory instead (it is only read)");
  auto* from_server =
      s.init->add_option("--from", v.init_from_server,
                         "import a base backup of this running PostgreSQL 15 server instead (a libpq connection string)")
          ->excludes(from_datadir);
  s.init->add_option("--auth", v.init_auth,
                     "the new cluster's pg_hba.conf: peer-scram (the default: peer on the Unix socket, scram-sha-256 "
                     "on TCP) or trust (anyone on this machine is superuser: a throwaway sandbox); imports keep "
                     "their own")
      ->check(CLI::IsMember({"peer-scram", "trust"}))
      ->excludes(from_datadir)
      ->excludes(from_server);
  s.init->add_option("--remote", v.init_remote,
                     "s3://BUCKET/PREFIX: keep the repository in this S3 bucket too (an empty prefix; endpoint, region "
                     "and keys as AWS's tools take them: AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID and "
                     "AWS_SECRET_ACCESS_KEY, or ~/.aws/credentials)");
  s.branch = app.add_subcommand(
      "branch", "list branches (-v: with sizes), create NEW from PARENT[@LSN], `delete` NAME, `reset` NAME, "
      "or `detach` NAME (it stops depending on its parent)");
  s.branch->add_option("name", v.branch_name, "the new branch (or `delete`, `reset`, `detach`)");
  s.branch->add_option("parent", v.branch_parent, "the branch to fork, optionally @LSN (default: its end of WAL)");
  s.branch->add_flag("-v,--verbose", v.branch_verbose, "with parent, branch LSN, end of WAL and sizes");
  s.branch->add_flag("--json", v.branch_json, "the list as one JSON document (see README)");
  s.branch->add_option("--to", v.branch_to,
                       "with reset: PARENT[@LSN] to show again (default: the branch's parent at its end of WAL)");
  s.branch->add_option("--keep", v.branch_keep, "with reset: keep the old state as this new branch");
  s.branch->add_option("--sql", v.branch_sql,
                       "with a new branch: run this SQL file on it privately first (e.g. to mask data); nothing of "
                       "the branch before the script ran is readable, and a failing script leaves no branch");
  s.branch->add_flag("--tree", v.branch_tree, "the list as a tree: each branch under its parent, with its branch point and size");
  s.gc = app.add_subcommand("gc", "compact and remove history outside the window now, printing what was freed");
  s.gc->add_option("--window", v.gc_window, "keep this much history instead of the configured window (e.g. 7d, 12h, 30m)");
  s.mount = app.add_subcommand(
      "mount", "mount a data directory for BRANCH at DIR; --read-only: BRANCH, BRANCH@LSN or 'BRANCH@TIME' as it was");
  s.mount->add_option("branch", v.mount_branch)->required();
  s.mount->add_flag("--read-only", v.mount_read_only,
                    "a hot standby's data directory at that point (default: the end of WAL); no lease, nothing stored");
  s.mount->add_option("dir", v.mount_dir)->required();
  const char* remote_help =
      "a page server on another machine: postgresql://compute@HOST:PORT (the password of its .zenith/compute-password "
      "as libpq takes it: PGPASSWORD, ~/.pgpass); no repository is needed here";
  const char* ca_help =
      "with --pageserver: the CA certificate to verify the page server's TLS certificate with (its repository's "
      ".zenith/ca.crt, copied here; default: a local repository's, else libpq's ~/.postgresql/root.crt)";
  auto* mount_remote = s.mount->add_option("--pageserver", v.pageserver, remote_help);
  s.mount->add_option("--ca", v.ca, ca_help)->needs(mount_remote);
  s.mount->add_option("--scratch", v.mount_scratch,
                      "with --pageserver: the local directory for the mount's own files and WAL (default: under "
                      "$XDG_STATE_HOME/zenith)")
      ->needs(mount_remote);
  s.umount = app.add_subcommand("umount", "unmount DIR and stop its daemon");
  s.umount->add_option("dir", v.umount_dir)->required();
  s.exp = app.add_subcommand("export", "write a standalone data directory of BRANCH, BRANCH@LSN or 'BRANCH@TIME' to DIR");
  s.exp->add_option("target", v.export_target)->required();
  s.exp->add_option("dir", v.export_dir, "a new or empty directory")->required();
  s.diff = app.add_subcommand("diff", "what changed from point A to point B (two points of a branch, or two branches "
                              "since their common point): relations changed, created and dropped, with blocks and sizes");
  s.diff->add_option("from", v.diff_from, "BRANCH, BRANCH@LSN or 'BRANCH@TIME'")->required();
  s.diff->add_option("to", v.diff_to, "BRANCH, BRANCH@LSN or 'BRANCH@TIME'")->required();
  s.diff->add_flag("--schema", v.diff_schema, "a unified diff of the two points' schemas (pg_dumpall --schema-only)");
  s.start = app.add_subcommand("start", "mount BRANCH in .zenith/datadirs and start PostgreSQL on it");
  s.start->add_option("branch", v.start_branch)->required();
  s.start->add_option("pg_ctl_args", v.pg_ctl_args, "arguments for pg_ctl, after --");
  s.start->allow_extras(false);
  s.start->add_option("--ca", v.ca, ca_help)->needs(s.start->add_option("--pageserver", v.pageserver, remote_help));
  s.stop = app.add_subcommand("stop", "stop PostgreSQL on BRANCH and unmount it");
  s.stop->add_option("branch", v.stop_branch)->required();
  s.stop->add_option("--ca", v.ca, ca_help)
      ->needs(s.stop->add_option("--pageserver", v.pageserver, "the page server of a remote mount, as for mount"));
  s.status = app.add_subcommand("status", "list mounts");
  s.status->add_flag("--json", v.status_json, "as one JSON document (see README)");
  s.ps = app.add_subcommand("pageserver", "manage the page server");
  s.ps->add_option("action", v.ps_action)->required()->check(CLI::IsMember({"start", "stop", "status"}));
  s.ps->add_option("--listen", v.ps_listen,
                   "with start: also listen on HOST:PORT (TCP: TLS with a certificate signed by .zenith/ca.crt, "
                   "SCRAM-SHA-256 as user zenith with the password in .zenith/password, or as user compute, for "
                   "remote mounts only, with .zenith/compute-password); kept for later starts");
  s.ps->add_option("--metrics", v.ps_metrics,
                   "with start: serve Prometheus metrics at http://HOST:PORT/metrics (no authentication: use an "
                   "address only your scraper reaches, e.g. 127.0.0.1:9187); kept for later starts");
  s.ps->add_flag("--json", v.ps_json, "with status: as one JSON document (see README)");
  s.remote = app.add_subcommand("remote", "the repository's S3 remote: `status` (what is uploaded, the backlog, the "
                                          "last error) or `sync` (wait until the bucket holds everything durable now)");
  s.remote->add_option("action", v.remote_action)->required()->check(CLI::IsMember({"status", "sync"}));
  s.remote->add_option("--timeout", v.remote_timeout, "with sync: give up after this many seconds (default 60)")
      ->check(CLI::PositiveNumber);
  s.attach = app.add_subcommand("attach", "rebuild the repository from its S3 remote here (after its disk was lost, "
                                          "or to move it); this page server becomes its owner");
  s.attach->add_option("url", v.attach_url, "s3://BUCKET/PREFIX, as given to zenith init --remote")->required();
  return s;
}

// The branch subcommand's forms: list, NEW PARENT, delete NAME.
Result<Command> BranchCommand(const Values& v) {
  const bool create = !v.branch_name.empty() && v.branch_name != "reset" && v.branch_name != "delete" &&
                      v.branch_name != "detach";
  if (!v.branch_sql.empty() && (!create || v.branch_parent.empty())) {
    return InvalidArgument("--sql goes with a new branch: zenith branch NEW PARENT[@LSN] --sql FILE");
  }
  if (v.branch_name.empty()) return Command{BranchListCmd{v.branch_verbose, v.branch_json, v.branch_tree}};
  if (v.branch_json) return InvalidArgument("--json goes with the branch list: zenith branch [-v] [--tree] --json");
  if (v.branch_tree) return InvalidArgument("--tree goes with the branch list: zenith branch --tree [-v] [--json]");
  const bool reset = v.branch_name == "reset";
  if (!reset && (!v.branch_to.empty() || !v.branch_keep.empty())) {
    return InvalidArgument("--to and --keep go with `zenith branch reset NAME [--to PARENT[@LSN]] [--keep OLDNAME]`");
  }
  if (reset) {
    if (v.branch_parent.empty()) return InvalidArgument("usage: zenith branch reset NAME [--to PARENT[@LSN]] [--keep OLDNAME]");
    return Command{BranchResetCmd{v.branch_parent, v.branch_to, v.branch_keep}};
  }
  if (v.branch_name == "detach") {
    if (v.branch_parent.empty()) return InvalidArgument("usage: zenith branch detach NAME");
    return Command{BranchDetachCmd{v.branch_parent}};
  }
  if (v.branch_name == "delete") {
    if (v.branch_parent.empty()) return InvalidArgument("usage: zenith branch delete NAME");
    return Command{BranchDeleteCmd{v.branch_parent}};
  }
  if (v.branch_parent.empty()) return InvalidArgument("usage: zenith branch NEW PARENT[@LSN], or zenith branch delete NAME");
  return Command{BranchCreateCmd{v.branch_name, v.branch_parent, v.branch_sql}};
}

Result<Command> Chosen(const Subcommands& s, const Values& v) {
  if (s.init->parsed()) return Command{InitCmd{v.init_from_datadir, v.init_from_server, v.init_auth == "trust", v.init_remote}};
  if (s.branch->parsed()) return BranchCommand(v);
  if (s.gc->parsed()) return Command{GcCmd{v.gc_window}};
  if (s.mount->parsed()) {
    if (v.mount_read_only && !v.pageserver.empty()) {
      return InvalidArgument("--read-only mounts are local for now; --pageserver goes with read-write mounts");
    }
    return Command{MountCmd{v.mount_branch, v.mount_dir, v.mount_read_only, v.pageserver, v.ca, v.mount_scratch}};
  }
  if (s.umount->parsed()) return Command{UmountCmd{v.umount_dir}};
  if (s.exp->parsed()) return Command{ExportCmd{v.export_target, v.export_dir}};
  if (s.diff->parsed()) return Command{DiffCmd{v.diff_from, v.diff_to, v.diff_schema}};
  if (s.start->parsed()) return Command{StartCmd{v.start_branch, v.pg_ctl_args, v.pageserver, v.ca}};
  if (s.stop->parsed()) return Command{StopCmd{v.stop_branch, v.pageserver, v.ca}};
  if (s.status->parsed()) return Command{StatusCmd{v.status_json}};
  if (s.ps->parsed()) {
    if (!v.ps_listen.empty() && v.ps_action != "start") return InvalidArgument("--listen goes with `zenith pageserver start`");
    if (!v.ps_metrics.empty() && v.ps_action != "start") return InvalidArgument("--metrics goes with `zenith pageserver start`");
    if (v.ps_json && v.ps_action != "status") return InvalidArgument("--json goes with `zenith pageserver status`");
    return Command{PageServerCmd{v.ps_action, v.ps_listen, v.ps_json, v.ps_metrics}};
  }
  if (s.remote->parsed()) return Command{RemoteCmd{v.remote_action, v.remote_timeout}};
  if (s.attach->parsed()) return Command{AttachCmd{v.attach_url}};
  return InvalidArgument("no command given; see zenith --help");
}

template <class... Fs>
struct Overloaded : Fs... {
  using Fs::operator()...;
};
template <class... Fs>
Overloaded(Fs...) -> Overloaded<Fs...>;

}  // namespace

Parsed ParseCommandLine(int argc, const char* const* argv) {
  CLI::App app{"zenith: branchable storage for PostgreSQL 15"};
  app.set_version_flag("--version", "zenith " ZENITH_VERSION);
  GlobalOptions g;
  Values v;
  Subcommands s = Define(app, g, v);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return Parsed{std::nullopt, app.exit(e)};
  }
  auto command = Chosen(s, v);
  if (!command.ok()) return Parsed{std::nullopt, Fail(command.status().message())};
  return Parsed{Invocation{g, std::move(*command)}, kExitOk};
}

int Run(const Invocation& inv) {
  const GlobalOptions& g = inv.global;
  return std::visit(
      Overloaded{
          [&](const InitCmd& c) { return CmdInit(g, c); },
          [&](const BranchListCmd& c) {
            if (c.tree) return CmdBranchTree(g, c.verbose, c.json);
            return c.verbose ? CmdBranchVerbose(g, c.json) : CmdBranchList(g, c.json);
          },
          [&](const BranchCreateCmd& c) {
            return c.sql.empty() ? CmdBranchCreate(g, c.name, c.parent) : CmdBranchPrepare(g, c.name, c.parent, c.sql);
          },
          [&](const BranchDeleteCmd& c) { return CmdBranchDelete(g, c.name); },
          [&](const BranchDetachCmd& c) { return CmdBranchDetach(g, c.name); },
          [&](const BranchResetCmd& c) { return CmdBranchReset(g, c.name, c.to, c.keep); },
          [&](const GcCmd& c) { return CmdGc(g, c.window); },
          [&](const MountCmd& c) {
            if (!c.pageserver.empty()) return CmdMountRemote({c.pageserver, RemoteCa(g, c.ca)}, c.branch, c.dir, c.scratch);
            return c.read_only ? CmdMountReadOnly(g, c.branch, c.dir) : CmdMount(g, c.branch, c.dir);
          },
          [&](const UmountCmd& c) { return CmdUmount(g, c.dir); },
          [&](const ExportCmd& c) { return CmdExport(g, c.target, c.dir); },
          [&](const DiffCmd& c) { return CmdDiff(g, c.from, c.to, c.schema); },
          [&](const StartCmd& c) {
            return c.pageserver.empty() ? CmdStart(g, c.branch, c.pg_ctl_args)
                                        : CmdStartRemote({c.pageserver, RemoteCa(g, c.ca)}, c.branch, c.pg_ctl_args);
          },
          [&](const StopCmd& c) {
            return c.pageserver.empty() ? CmdStop(g, c.branch) : CmdStopRemote({c.pageserver, RemoteCa(g, c.ca)}, c.branch);
          },
          [&](const StatusCmd& c) { return CmdStatus(g, c.json); },
          [&](const PageServerCmd& c) { return CmdPageServer(g, c); },
          [&](const RemoteCmd& c) { return CmdRemote(g, c); },
          [&](const AttachCmd& c) { return CmdAttach(g, c.url); },
      },
      inv.command);
}

int Main(int argc, char** argv) {
  Parsed parsed = ParseCommandLine(argc, argv);
  if (!parsed.invocation) return parsed.exit_code;
  // The CLI talks to the user through its own messages; library logging is
  // for the daemons' logs.
  spdlog::set_level(spdlog::level::warn);
  return Run(*parsed.invocation);
}

}  // namespace zenith::cli
