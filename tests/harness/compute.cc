#include "tests/harness/compute.h"

#include <sstream>

#include <gtest/gtest.h>

#include <cstdlib>

#include "tests/harness/test_env.h"

namespace zenith::testing {

Compute::Compute(const ZenithEnv& env, const std::string& name, int port)
    : dir_(env.dir() + "/" + name), socket_dir_(env.dir()), pg_(dir_, env.dir(), port, CurrentUserName()) {}

void Compute::Start() { ASSERT_TRUE(pg_.Start().ok()) << pg_.Log(); }

void Compute::Crash() {
  if (pid_t pm = PostmasterOf(dir_)) KillTree(pm);
  pg_.Forget();
}

std::vector<std::string> Compute::ConnArgs() const {
  return {"-h", socket_dir_, "-p", std::to_string(pg_.port()), "-U", CurrentUserName()};
}

std::string PgDump(const std::vector<std::string>& conn_args, const std::string& db) {
  std::vector<std::string> argv = {PgBin("pg_dump"), "-d", db};
  argv.insert(argv.end(), conn_args.begin(), conn_args.end());
  RunResult r = RunCommand(argv);
  EXPECT_TRUE(r.ok()) << r.Describe();
  std::istringstream lines(r.out);
  std::string out, line;
  while (std::getline(lines, line)) {
    if (!line.starts_with("\\restrict ") && !line.starts_with("\\unrestrict ")) out += line + "\n";
  }
  return out;
}

RunResult Pgbench(const Compute& compute, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {PgBin("pgbench")};
  argv.insert(argv.end(), args.begin(), args.end());
  for (const auto& a : compute.ConnArgs()) argv.push_back(a);
  argv.push_back("postgres");
  return RunCommand(argv, {.timeout = std::chrono::minutes(10)});
}

RunResult Amcheck(const Compute& compute, const std::string& db) {
  std::vector<std::string> argv = {PgBin("pg_amcheck"), "--install-missing", "--heapallindexed", "-d", db};
  for (const auto& a : compute.ConnArgs()) argv.push_back(a);
  return RunCommand(argv);
}

Result<std::unique_ptr<PgConnection>> PgConnection::Open(const std::string& conninfo) {
  PGconn* conn = PQconnectdb(conninfo.c_str());
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string message = PQerrorMessage(conn);
    PQfinish(conn);
    return Unavailable("could not connect (" + conninfo + "): " + message);
  }
  // Notices ("relation ... already exists, skipping") are not errors and
  // would only fill the test's output.
  PQsetNoticeProcessor(conn, [](void*, const char*) {}, nullptr);
  return std::unique_ptr<PgConnection>(new PgConnection(conn));
}

PgConnection::~PgConnection() { PQfinish(conn_); }

Result<PgConnection::Rows> PgConnection::Query(const std::string& sql) {
  if (!PQsendQuery(conn_, sql.c_str())) return Unavailable(PQerrorMessage(conn_));
  Rows rows;
  Status error;
  while (PGresult* res = PQgetResult(conn_)) {
    const ExecStatusType st = PQresultStatus(res);
    if (st == PGRES_TUPLES_OK) {
      rows.clear();
      for (int r = 0; r < PQntuples(res); ++r) {
        std::vector<std::string> row;
        for (int c = 0; c < PQnfields(res); ++c) row.emplace_back(PQgetvalue(res, r, c));
        rows.push_back(std::move(row));
      }
    } else if (st != PGRES_COMMAND_OK && error.ok()) {
      error = Internal(sql + ": " + PQresultErrorMessage(res));
    }
    PQclear(res);
  }
  if (!error.ok()) return error;
  return rows;
}

pid_t PageServerPid(const ZenithEnv& env) {
  RunResult r = env.Zenith({"pageserver", "status"});
  size_t at = r.out.find("(pid ");
  return at == std::string::npos ? 0 : static_cast<pid_t>(std::atol(r.out.c_str() + at + 5));
}

std::string DumpAt(const ZenithEnv& env, const std::string& branch, const std::string& point, int port) {
  const std::string target = point.empty() ? branch : branch + "@" + point;
  const std::string name = "dump-" + std::to_string(port);
  const std::string mnt = env.dir() + "/" + name;
  if (!env.MustZenith({"mount", "--read-only", target, mnt}).ok()) return "";
  Compute c(env, name, port);
  c.Start();
  std::string dump = PgDump(c.ConnArgs());
  EXPECT_TRUE(c.pg().Stop().ok());
  env.MustZenith({"umount", mnt});
  return dump;
}

}  // namespace zenith::testing
