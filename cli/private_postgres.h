// A private PostgreSQL on a mount, for commands that read the catalog the
// way PostgreSQL sees it (`zenith diff`: a read-only mount of a point) or
// run SQL on a branch nobody else may see yet (a prepared branch, `zenith
// branch NEW PARENT --sql FILE`: a read-write mount of its timeline).
//
// Nobody else can reach it: it listens on no TCP port, only on a Unix
// socket in a directory of its own (mode 0700, under $TMPDIR), and trusts
// only connections over that socket (its own pg_hba.conf, not the
// branch's). It connects as the cluster's bootstrap superuser, whose name
// it reads from the mount's pg_authid (common/pg_authid.h). On a read-only
// mount it is a hot standby and can change nothing in the repository.
//
// Lifetime: Start mounts and starts; the destructor stops PostgreSQL
// (immediate: a standby has nothing to keep), unmounts and removes the
// directory, whatever failed before. A CLI killed in between leaves the
// mount and its PostgreSQL running: `zenith status` lists the mount, and
// `pg_ctl stop` plus `zenith umount` remove it.
//
// Thread-safety: one owner; queries from one thread at a time.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cli/mounting.h"
#include "common/status.h"

namespace zenith::cli {

class PrivatePostgres {
 public:
  // Mounts `branch` read-only at `point` under a new directory and starts
  // PostgreSQL there; errors carry the end of PostgreSQL's log.
  static Result<std::unique_ptr<PrivatePostgres>> Start(const GlobalOptions& g, const std::string& branch,
                                                        const pageserver::ReadPoint& point);
  // Mounts `timeline` (by its id) read-write under a new directory and
  // starts PostgreSQL there.
  static Result<std::unique_ptr<PrivatePostgres>> StartReadWrite(const GlobalOptions& g,
                                                                 const pageserver::TimelineId& timeline);
  ~PrivatePostgres();
  PrivatePostgres(const PrivatePostgres&) = delete;
  PrivatePostgres& operator=(const PrivatePostgres&) = delete;

  using Rows = std::vector<std::vector<std::string>>;
  // The rows of `sql` run in database `db` (NULLs read as "").
  Result<Rows> Query(const std::string& db, const std::string& sql) const;
  // `pg_dumpall --schema-only` (no role passwords) into a file in this
  // object's directory, without the random key of its \restrict lines, so
  // that two dumps of one schema compare equal; its path.
  Result<std::string> DumpSchema() const;
  // Runs the SQL in `file` with psql (-X, ON_ERROR_STOP) in database
  // postgres; on a failure, psql's messages.
  Status RunScript(const std::string& file) const;
  // Stops PostgreSQL with a shutdown checkpoint (on a read-write mount, the
  // mount stores its snapshot), then unmounts and waits until the page
  // server has seen the mount go.
  Status StopAndUnmount();

 private:
  PrivatePostgres(Session session, std::string root) : session_(std::move(session)), root_(std::move(root)) {}
  // Mounts with `mount` (at datadir()), then starts PostgreSQL; `what` names
  // the mount in errors.
  Status Boot(const std::function<Status(Session&, const std::string&)>& mount, const std::string& what);
  std::string datadir() const { return root_ + "/pgdata"; }
  std::string socket_dir() const { return root_ + "/socket"; }
  std::string log() const { return root_ + "/postgresql.log"; }
  std::string LogTail() const;

  Session session_;
  std::string root_;   // ours: removed at the end
  std::string user_;   // the bootstrap superuser
  bool mounted_ = false, started_ = false;
};

}  // namespace zenith::cli
