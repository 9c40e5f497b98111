// zenith branch delete, detach and reset, zenith branch -v and --tree, zenith gc: the commands about how
// much history the repository keeps and what it costs.
#include <cstdio>
#include <string>
#include <vector>

#include "cli/branch_tree.h"
#include "cli/commands.h"
#include "cli/format.h"
#include "cli/gc_summary.h"
#include "cli/json_output.h"
#include "cli/repo_context.h"
#include "common/duration.h"

namespace zenith::cli {

namespace {

using pageserver::RepoClient;

Result<RepoClient> ConnectToRepo(const GlobalOptions& g) {
  ZENITH_ASSIGN_OR_RETURN(RepoContext repo, OpenRepo(ResolveRepoPath(g.repo)));
  return ConnectPageServer(repo);
}

std::string LsnOrDash(Lsn lsn) { return lsn.valid() ? lsn.ToString() : "-"; }

}  // namespace

int CmdBranchDelete(const GlobalOptions& g, const std::string& name) {
  auto client = ConnectToRepo(g);
  if (!client.ok()) return Fail(client.status().message());
  if (Status s = client->DeleteBranch(name); !s.ok()) return Fail(s.message());
  std::printf("deleted branch '%s'; the next `zenith gc` frees its space\n", name.c_str());
  return kExitOk;
}

int CmdBranchDetach(const GlobalOptions& g, const std::string& name) {
  auto client = ConnectToRepo(g);
  if (!client.ok()) return Fail(client.status().message());
  auto d = client->DetachBranch(name);
  if (!d.ok()) return Fail(d.status().message());
  std::printf("detached branch '%s' from '%s' in %.2f s: an image of %s at %s and %s of WAL are its own now\n",
              name.c_str(), d->parent.c_str(), d->seconds, FormatBytes(d->image_bytes).c_str(),
              d->image_lsn.ToString().c_str(), FormatBytes(d->wal_bytes).c_str());
  return kExitOk;
}

int CmdBranchReset(const GlobalOptions& g, const std::string& name, const std::string& to, const std::string& keep) {
  auto client = ConnectToRepo(g);
  if (!client.ok()) return Fail(client.status().message());
  auto reset = client->ResetBranchTo(name, to, keep);
  if (!reset.ok()) return Fail(reset.status().message());
  std::printf("branch '%s' now shows %s at %s%s\n", name.c_str(), reset->parent.c_str(), reset->lsn.ToString().c_str(),
              reset->at_end_of_wal ? " (its end of WAL)" : "");
  if (!keep.empty()) std::printf("its old state is branch '%s'\n", keep.c_str());
  return kExitOk;
}

int CmdBranchVerbose(const GlobalOptions& g, bool json) {
  auto client = ConnectToRepo(g);
  if (!client.ok()) return Fail(client.status().message());
  auto branches = client->DescribeBranches();
  if (!branches.ok()) return Fail(branches.status().message());
  if (json) {
    PrintJson(BranchSizesJson(*branches));
    return kExitOk;
  }
  std::vector<std::vector<std::string>> table = {
      {"BRANCH", "PARENT", "END OF WAL", "HISTORY FROM", "LOGICAL SIZE", "OWN SIZE", "ONLY ITS OWN", "LAYERS"}};
  for (const auto& b : *branches) {
    table.push_back({b.name, b.parent.empty() ? "-" : b.parent + "@" + b.branch_lsn.ToString(), LsnOrDash(b.end_of_wal),
                     LsnOrDash(b.oldest_lsn), FormatBytes(b.logical_size), FormatBytes(b.own_bytes),
                     FormatBytes(b.exclusive_bytes), std::to_string(b.layers)});
  }
  std::fputs(RenderTable(table).c_str(), stdout);
  return kExitOk;
}

int CmdBranchTree(const GlobalOptions& g, bool verbose, bool json) {
  auto client = ConnectToRepo(g);
  if (!client.ok()) return Fail(client.status().message());
  auto branches = client->DescribeBranches();
  if (!branches.ok()) return Fail(branches.status().message());
  if (json) {
    PrintJson(BranchTreeJson(*branches));
    return kExitOk;
  }
  std::fputs(RenderTable(BranchTreeRows(*branches, verbose)).c_str(), stdout);
  return kExitOk;
}

int CmdGc(const GlobalOptions& g, const std::string& window) {
  if (!window.empty() && !ParseDuration(window)) {
    return Fail("'" + window + "' is not a duration; write it like 7d, 12h, 30m or 45s");
  }
  auto client = ConnectToRepo(g);
  if (!client.ok()) return Fail(client.status().message());
  auto report = client->CollectGarbage(window);
  if (!report.ok()) return Fail(report.status().message());
  uint64_t freed = 0;
  for (const auto& timeline : *report) {
    std::printf("%s\n", DescribeGc(timeline).c_str());
    freed += FreedBytes(timeline);
  }
  std::printf("gc: freed %s\n", FormatBytes(freed).c_str());
  return kExitOk;
}

}  // namespace zenith::cli
