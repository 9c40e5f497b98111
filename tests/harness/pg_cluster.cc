#include "tests/harness/pg_cluster.h"

#include <gtest/gtest.h>

#include "common/file_util.h"
#include "tests/harness/test_env.h"

namespace zenith::testing {

PgCluster::PgCluster(std::string datadir, std::string socket_dir, int port, std::string user)
    : datadir_(std::move(datadir)), socket_dir_(std::move(socket_dir)), port_(port), user_(std::move(user)) {}

PgCluster::~PgCluster() {
  if (running_) IgnoreError(Stop("immediate"));
}

Status PgCluster::Initdb(const std::vector<std::string>& extra_args) {
  if (RunningAsRoot()) return InvalidArgument("PostgreSQL refuses to run as root: run the tests with tests/run.sh");
  std::vector<std::string> argv = {PgBin("initdb"), "-D", datadir_, "-A", "trust", "-U", "postgres", "--no-sync"};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  RunResult r = RunCommand(argv);
  if (!r.ok()) return Internal("initdb failed: " + r.Describe());
  return Status::Ok();
}

Status PgCluster::Start(const std::vector<std::string>& settings) {
  if (RunningAsRoot()) return InvalidArgument("PostgreSQL refuses to run as root: run the tests with tests/run.sh");
  std::string opts = "-c listen_addresses='' -c unix_socket_directories='" + socket_dir_ + "' -p " + std::to_string(port_);
  for (const auto& s : settings) opts += " -c " + s;
  RunResult r = RunCommand({PgBin("pg_ctl"), "start", "-w", "-t", "120", "-D", datadir_, "-l", log_path(), "-o", opts});
  if (!r.ok()) return Internal("pg_ctl start failed: " + r.Describe() + "\nserver log:\n" + Log());
  running_ = true;
  return Status::Ok();
}

Status PgCluster::Stop(const std::string& mode) {
  RunResult r = RunCommand({PgBin("pg_ctl"), "stop", "-w", "-t", "120", "-D", datadir_, "-m", mode});
  running_ = false;
  if (!r.ok()) return Internal("pg_ctl stop failed: " + r.Describe());
  return Status::Ok();
}

RunResult PgCluster::Psql(const std::string& sql, const std::string& db) const {
  return RunCommand({PgBin("psql"), "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-h", socket_dir_, "-p",
              std::to_string(port_), "-U", user_, "-d", db, "-c", sql});
}

std::string PgCluster::Query(const std::string& sql, const std::string& db) const {
  RunResult r = Psql(sql, db);
  if (!r.ok()) {
    ADD_FAILURE() << "query failed: " << sql << "\n" << r.Describe();
    return "";
  }
  std::string out = r.out;
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

std::string PgCluster::ConnString(const std::string& db) const {
  return "host=" + socket_dir_ + " port=" + std::to_string(port_) + " user=" + user_ + " dbname=" + db;
}

std::string PgCluster::Log() const {
  auto log = ReadFileToString(log_path());
  return log.ok() ? *log : "";
}

}  // namespace zenith::testing
