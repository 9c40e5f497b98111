// A compute for integration tests: stock PostgreSQL on a zenith mount,
// listening only on a Unix socket in the test's directory; and a libpq
// connection for loops of statements (one psql per statement is too slow
// for a thousand rounds).
//
// Thread-safety: one owner per object.
#pragma once

#include <libpq-fe.h>

#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "tests/harness/pg_cluster.h"
#include "tests/harness/zenith_env.h"

namespace zenith::testing {

class Compute {
 public:
  // The data directory is env.dir()/name (mount it there first).
  Compute(const ZenithEnv& env, const std::string& name, int port);
  const std::string& dir() const { return dir_; }
  PgCluster& pg() { return pg_; }
  // Starts PostgreSQL; a test failure (with its log) if it does not start.
  void Start();
  std::string Query(const std::string& sql) { return pg_.Query(sql); }
  // kill -9 the postmaster and every backend.
  void Crash();
  // -h, -p, -U for pgbench, pg_amcheck and friends.
  std::vector<std::string> ConnArgs() const;

 private:
  std::string dir_, socket_dir_;
  PgCluster pg_;
};

// pgbench with `args` against the compute's database "postgres".
RunResult Pgbench(const Compute& compute, const std::vector<std::string>& args);

// `pg_amcheck --install-missing --heapallindexed` on the compute's
// database: empty output and exit 0 when every table and index is sound.
RunResult Amcheck(const Compute& compute, const std::string& db = "postgres");

// pg_dump of `db` (connection arguments as ConnArgs() gives them), without
// the random key of its \restrict lines, so that dumps of the same data
// compare equal; a test failure if pg_dump fails.
std::string PgDump(const std::vector<std::string>& conn_args, const std::string& db = "postgres");

// pg_dump of `branch` at `point` ("" = its end of WAL) through a read-only
// mount at env.dir()/dump-<port>, unmounted afterwards; "" (and a test
// failure) if it cannot be mounted.
std::string DumpAt(const ZenithEnv& env, const std::string& branch, const std::string& point, int port);

class PgConnection {
 public:
  using Rows = std::vector<std::vector<std::string>>;
  // Unavailable with libpq's message.
  static Result<std::unique_ptr<PgConnection>> Open(const std::string& conninfo);
  ~PgConnection();
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;
  // Runs one or more statements (simple protocol); the last result's rows.
  Result<Rows> Query(const std::string& sql);

 private:
  explicit PgConnection(PGconn* conn) : conn_(conn) {}
  PGconn* conn_;
};

// The page server's pid, from `zenith pageserver status` (0 if none runs).
pid_t PageServerPid(const ZenithEnv& env);

}  // namespace zenith::testing
