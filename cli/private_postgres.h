// A private PostgreSQL on a read-only mount of one point of history, for
// commands that read the catalog the way PostgreSQL sees it (`zenith diff`).
//
// Nobody else can reach it: it listens on no TCP port, only on a Unix
// socket in a directory of its own (mode 0700, under $TMPDIR), and trusts
// only connections over that socket (its own pg_hba.conf, not the
// branch's). It connects as the cluster's bootstrap superuser, whose name
// it reads from the mount's pg_authid (common/pg_authid.h). Being a hot
// standby on a read-only mount, it can change nothing in the repository.
//
// Lifetime: Start mounts and starts; the destructor stops PostgreSQL
// (immediate: a standby has nothing to keep), unmounts and removes the
// directory, whatever failed before. A CLI killed in between leaves the
// mount and its PostgreSQL running: `zenith status` lists the mount, and
// `pg_ctl stop` plus `zenith umount` remove it.
//
// Thread-safety: one owner; queries from one thread at a time.
#pragma once

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

 private:
  PrivatePostgres(Session session, std::string root) : session_(std::move(session)), root_(std::move(root)) {}
  Status Boot(const std::string& branch, const pageserver::ReadPoint& point);
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
