// zenith branch NEW PARENT[@POINT] --sql FILE: a prepared branch. NEW's
// timeline is made with no name (branch_prepare, held by this connection),
// mounted read-write in private, FILE runs on it with psql in a PostgreSQL
// nobody else can reach (cli/private_postgres.h), PostgreSQL stops with a
// checkpoint (the mount stores a snapshot), and only then is NEW named
// (branch_publish), readable from that snapshot on. Whatever fails, or if
// this process is killed, the connection closes unpublished and the page
// server removes the timeline: no branch NEW exists.
#include <cstdio>

#include "cli/commands.h"
#include "cli/mounting.h"
#include "cli/mountpoint.h"
#include "cli/private_postgres.h"
#include "common/file_util.h"

namespace zenith::cli {

namespace {

// Runs the script on the prepared timeline and stores its result.
Status RunOnTimeline(const GlobalOptions& g, const pageserver::TimelineId& timeline, const std::string& script) {
  ZENITH_ASSIGN_OR_RETURN(auto pg, PrivatePostgres::StartReadWrite(g, timeline));
  if (Status ran = pg->RunScript(script); !ran.ok()) return ran.WithContext("the script failed");
  return pg->StopAndUnmount();
}

}  // namespace

int CmdBranchPrepare(const GlobalOptions& g, const std::string& name, const std::string& parent,
                     const std::string& sql_file) {
  const std::string script = AbsolutePath(sql_file);
  if (auto readable = ReadFileToString(script); !readable.ok()) {
    return Fail("cannot read the SQL file: " + readable.status().message());
  }
  auto s = Connect(g);
  if (!s.ok()) return Fail(s.status().message());
  auto prepared = s->client.PrepareBranch(name, parent);
  if (!prepared.ok()) return Fail(prepared.status().message());
  // On any failure below, `s` closes unpublished: the page server abandons the timeline.
  if (Status done = RunOnTimeline(g, prepared->timeline, script); !done.ok()) {
    return Fail("branch '" + name + "' was not created: " + done.message());
  }
  auto readable = s->client.PublishBranch(name);
  if (!readable.ok()) return Fail("branch '" + name + "' was not created: " + readable.status().message());
  std::printf("branching at %s, prepared with %s: readable from %s\n", prepared->lsn.ToString().c_str(),
              sql_file.c_str(), readable->ToString().c_str());
  return kExitOk;
}

}  // namespace zenith::cli
