// PgCluster: a real, stock PostgreSQL 15 for tests, in a directory the test
// owns. It listens only on a Unix socket in its own directory (no TCP), so
// tests never clash on ports or sockets and `ctest -j` is safe. The
// destructor stops a running server with `pg_ctl stop -m immediate`, so a
// failing test leaves no server behind.
//
// PostgreSQL refuses to run as root: tests run as an unprivileged user
// (tests/run.sh arranges it); Start() fails with a clear message otherwise.
//
// Thread-safety: one owner.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "tests/harness/subprocess.h"

namespace zenith::testing {

class PgCluster {
 public:
  // `datadir` need not exist yet; `socket_dir` must exist. `user` is the
  // superuser clients connect as (Initdb creates "postgres"; a cluster made
  // by `zenith init` has the OS user, see CurrentUserName()).
  PgCluster(std::string datadir, std::string socket_dir, int port, std::string user = "postgres");
  PgCluster(const PgCluster&) = delete;
  PgCluster& operator=(const PgCluster&) = delete;
  ~PgCluster();

  // initdb -D datadir -A trust -U postgres --no-sync (plus extra_args).
  Status Initdb(const std::vector<std::string>& extra_args = {});
  // pg_ctl start -w; settings are passed as -c name=value.
  Status Start(const std::vector<std::string>& settings = {});
  // pg_ctl stop -m mode ("smart", "fast", "immediate").
  Status Stop(const std::string& mode = "fast");
  bool running() const { return running_; }
  // Marks the server as not ours to stop (after a test killed it itself).
  void Forget() { running_ = false; }

  // psql -X -A -t -q -v ON_ERROR_STOP=1 -c sql; returns the whole result.
  RunResult Psql(const std::string& sql, const std::string& db = "postgres") const;
  // The output of a query that must succeed, trailing newline removed;
  // records a test failure (and returns "") when it does not.
  std::string Query(const std::string& sql, const std::string& db = "postgres") const;

  // libpq connection string for this server.
  std::string ConnString(const std::string& db = "postgres") const;
  const std::string& datadir() const { return datadir_; }
  const std::string& socket_dir() const { return socket_dir_; }
  int port() const { return port_; }
  std::string log_path() const { return datadir_ + ".log"; }
  // The server log so far (for assertions on recovery messages).
  std::string Log() const;

 private:
  std::string datadir_, socket_dir_;
  int port_;
  std::string user_;
  bool running_ = false;
};

}  // namespace zenith::testing
