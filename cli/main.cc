// zenith: the user's command (docs/design.md §1).
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>

#include "cli/commands.h"

int main(int argc, char** argv) {
  using namespace zenith::cli;
  CLI::App app{"zenith: branchable storage for PostgreSQL 15"};
  app.require_subcommand(1);
  GlobalOptions g;
  app.add_option("--repo", g.repo, "the repository directory (default: $ZENITH_REPO, else ./.zenith)");

  auto* init = app.add_subcommand("init", "create a repository: initdb, imported as branch \"main\"");

  auto* branch = app.add_subcommand(
      "branch", "list branches (-v: with sizes), create NEW from PARENT[@LSN], or `delete` NAME");
  std::string branch_name, branch_parent;
  bool branch_verbose = false;
  branch->add_option("name", branch_name, "the new branch (or `delete`)");
  branch->add_option("parent", branch_parent, "the branch to fork, optionally @LSN (default: its end of WAL)");
  branch->add_flag("-v,--verbose", branch_verbose, "with parent, branch LSN, end of WAL and sizes");

  auto* gc = app.add_subcommand("gc", "compact and remove history outside the window now, printing what was freed");
  std::string gc_window;
  gc->add_option("--window", gc_window, "keep this much history instead of the configured window (e.g. 7d, 12h, 30m)");

  auto* mount = app.add_subcommand("mount", "mount a data directory for BRANCH at DIR");
  std::string mount_branch, mount_dir;
  mount->add_option("branch", mount_branch)->required();
  mount->add_option("dir", mount_dir)->required();

  auto* umount = app.add_subcommand("umount", "unmount DIR and stop its daemon");
  std::string umount_dir;
  umount->add_option("dir", umount_dir)->required();

  auto* start = app.add_subcommand("start", "mount BRANCH in .zenith/datadirs and start PostgreSQL on it");
  std::string start_branch;
  std::vector<std::string> pg_ctl_args;
  start->add_option("branch", start_branch)->required();
  start->add_option("pg_ctl_args", pg_ctl_args, "arguments for pg_ctl, after --");
  start->allow_extras(false);

  auto* stop = app.add_subcommand("stop", "stop PostgreSQL on BRANCH and unmount it");
  std::string stop_branch;
  stop->add_option("branch", stop_branch)->required();

  auto* status = app.add_subcommand("status", "list mounts");

  auto* ps = app.add_subcommand("pageserver", "manage the page server");
  std::string ps_action;
  ps->add_option("action", ps_action)->required()->check(CLI::IsMember({"start", "stop", "status"}));

  CLI11_PARSE(app, argc, argv);
  // The CLI talks to the user through its own messages; library logging is
  // for the daemons' logs.
  spdlog::set_level(spdlog::level::warn);

  if (init->parsed()) return CmdInit(g);
  if (branch->parsed()) {
    if (branch_name.empty()) return branch_verbose ? CmdBranchVerbose(g) : CmdBranchList(g);
    if (branch_name == "delete") {
      if (branch_parent.empty()) return Fail("usage: zenith branch delete NAME");
      return CmdBranchDelete(g, branch_parent);
    }
    if (branch_parent.empty()) return Fail("usage: zenith branch NEW PARENT[@LSN], or zenith branch delete NAME");
    return CmdBranchCreate(g, branch_name, branch_parent);
  }
  if (gc->parsed()) return CmdGc(g, gc_window);
  if (mount->parsed()) return CmdMount(g, mount_branch, mount_dir);
  if (umount->parsed()) return CmdUmount(g, umount_dir);
  if (start->parsed()) return CmdStart(g, start_branch, pg_ctl_args);
  if (stop->parsed()) return CmdStop(g, stop_branch);
  if (status->parsed()) return CmdStatus(g);
  if (ps->parsed()) return CmdPageServer(g, ps_action);
  return 1;
}
