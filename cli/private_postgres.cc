#include "cli/private_postgres.h"

#include <fcntl.h>
#include <libpq-fe.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "cli/process.h"
#include "common/file_util.h"
#include "common/pg_abi.h"
#include "common/pg_authid.h"
#include "common/unique_fd.h"

namespace zenith::cli {

namespace {

constexpr int kPort = 5432;  // names the socket file only: nothing listens on TCP
constexpr const char* kAuthIdFile = "global/1260";
constexpr size_t kLogTailBytes = 2000;

// A new directory of our own (0700) under $TMPDIR, else /tmp.
Result<std::string> MakePrivateDir() {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/zenith-pg-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) return ErrnoStatus("create a directory like", pattern, errno);
  return pattern;
}

// The bootstrap superuser's name, from the pg_authid file of `datadir`.
Result<std::string> SuperuserOf(const std::string& datadir) {
  const std::string path = datadir + "/" + kAuthIdFile;
  ZENITH_ASSIGN_OR_RETURN(UniqueFd fd, OpenFile(path, O_RDONLY));
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return ErrnoStatus("stat", path, errno);
  const auto blocks = static_cast<uint32_t>(st.st_size / kBlockSize);
  return ReadBootstrapSuperuser(blocks, [&](uint32_t block, std::span<uint8_t> page) {
    ZENITH_ASSIGN_OR_RETURN(size_t got, PreadFull(fd.get(), page, uint64_t{block} * kBlockSize, path));
    if (got != page.size()) return Corruption(path + " ends inside block " + std::to_string(block));
    return Status::Ok();
  });
}

struct PgConnCloser {
  void operator()(PGconn* c) const { PQfinish(c); }
};
struct PgResultClearer {
  void operator()(PGresult* r) const { PQclear(r); }
};

}  // namespace

Result<std::unique_ptr<PrivatePostgres>> PrivatePostgres::Start(const GlobalOptions& g, const std::string& branch,
                                                                const pageserver::ReadPoint& point) {
  ZENITH_ASSIGN_OR_RETURN(Session session, Connect(g));
  ZENITH_ASSIGN_OR_RETURN(std::string root, MakePrivateDir());
  std::unique_ptr<PrivatePostgres> pg(new PrivatePostgres(std::move(session), std::move(root)));
  auto mount = [&](Session& s, const std::string& dir) { return MountReadOnly(s, branch, point, dir); };
  ZENITH_RETURN_IF_ERROR(pg->Boot(mount, "a read-only mount of " + branch + " at " + point.lsn.ToString()));
  return pg;
}

Result<std::unique_ptr<PrivatePostgres>> PrivatePostgres::StartReadWrite(const GlobalOptions& g,
                                                                         const pageserver::TimelineId& timeline) {
  ZENITH_ASSIGN_OR_RETURN(Session session, Connect(g));
  ZENITH_ASSIGN_OR_RETURN(std::string root, MakePrivateDir());
  std::unique_ptr<PrivatePostgres> pg(new PrivatePostgres(std::move(session), std::move(root)));
  auto mount = [&](Session& s, const std::string& dir) { return Mount(s, timeline.ToString(), dir).status(); };
  ZENITH_RETURN_IF_ERROR(pg->Boot(mount, "a mount of timeline " + timeline.ToString()));
  return pg;
}

Status PrivatePostgres::Boot(const std::function<Status(Session&, const std::string&)>& mount, const std::string& what) {
  if (::mkdir(socket_dir().c_str(), 0700) != 0) return ErrnoStatus("create", socket_dir(), errno);
  ZENITH_RETURN_IF_ERROR(mount(session_, datadir()));
  mounted_ = true;
  ZENITH_ASSIGN_OR_RETURN(user_, SuperuserOf(datadir()));
  const std::string hba = root_ + "/pg_hba.conf";
  ZENITH_RETURN_IF_ERROR(WriteFileDurably(hba, "local all all trust\n", 0600));
  // pg_ctl hands -o to a shell: the paths are ours, made above, with no quote in them.
  const std::string options = "-c listen_addresses='' -c unix_socket_directories='" + socket_dir() +
                              "' -c unix_socket_permissions=0700 -c hba_file='" + hba +
                              "' -c port=" + std::to_string(kPort) + " -c hot_standby=on";
  ZENITH_ASSIGN_OR_RETURN(Outcome out, RunQuietly({session_.repo.config.pg_bin_dir + "/pg_ctl", "-D", datadir(), "-w",
                                                   "-t", "300", "-l", log(), "-o", options, "start"}));
  started_ = true;  // a failed start may still have left a postmaster
  if (out.exit_code != 0) return Unavailable("PostgreSQL did not start on " + what + ": " + out.errors + LogTail());
  return Status::Ok();
}

PrivatePostgres::~PrivatePostgres() {
  if (started_) {
    IgnoreError(RunQuietly({session_.repo.config.pg_bin_dir + "/pg_ctl", "-D", datadir(), "-m", "immediate", "-w",
                            "stop"})
                    .status());
  }
  if (mounted_) {
    const std::string dir = datadir();
    if (Unmount(dir, DaemonOf(session_.client, dir)).ok()) IgnoreError(WaitUnlisted(session_.client, dir));
  }
  IgnoreError(RemoveTree(root_));
}

std::string PrivatePostgres::LogTail() const {
  auto text = ReadFileToString(log());
  if (!text.ok() || text->empty()) return "";
  const size_t from = text->size() > kLogTailBytes ? text->size() - kLogTailBytes : 0;
  return "\nits log ends:\n" + text->substr(from);
}

Result<PrivatePostgres::Rows> PrivatePostgres::Query(const std::string& db, const std::string& sql) const {
  const std::string port = std::to_string(kPort), dir = socket_dir();
  const char* keys[] = {"host", "port", "user", "dbname", "application_name", nullptr};
  const char* values[] = {dir.c_str(), port.c_str(), user_.c_str(), db.c_str(), "zenith", nullptr};
  std::unique_ptr<PGconn, PgConnCloser> conn(PQconnectdbParams(keys, values, 0));
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    return Unavailable("could not connect to database " + db + ": " + PQerrorMessage(conn.get()));
  }
  std::unique_ptr<PGresult, PgResultClearer> res(PQexec(conn.get(), sql.c_str()));
  if (PQresultStatus(res.get()) != PGRES_TUPLES_OK) {
    return Internal("a query of database " + db + " failed: " + PQresultErrorMessage(res.get()));
  }
  Rows rows(static_cast<size_t>(PQntuples(res.get())));
  for (int r = 0; r < PQntuples(res.get()); ++r) {
    for (int c = 0; c < PQnfields(res.get()); ++c) rows[r].emplace_back(PQgetvalue(res.get(), r, c));
  }
  return rows;
}

Result<std::string> PrivatePostgres::DumpSchema() const {
  const std::string path = root_ + "/schema.sql", raw = root_ + "/schema.raw";
  ZENITH_ASSIGN_OR_RETURN(Outcome out, RunQuietly({session_.repo.config.pg_bin_dir + "/pg_dumpall", "-h", socket_dir(),
                                                   "-p", std::to_string(kPort), "-U", user_, "--schema-only",
                                                   "--no-role-passwords", "-f", raw}));
  if (out.exit_code != 0) return Internal("pg_dumpall --schema-only failed: " + out.errors);
  std::ifstream in(raw);
  std::ostringstream kept;
  for (std::string line; std::getline(in, line);) {
    if (!line.starts_with("\\restrict ") && !line.starts_with("\\unrestrict ")) kept << line << '\n';
  }
  IgnoreError(RemoveTree(raw));
  ZENITH_RETURN_IF_ERROR(WriteFileDurably(path, kept.str(), 0600));
  return path;
}

Status PrivatePostgres::RunScript(const std::string& file) const {
  ZENITH_ASSIGN_OR_RETURN(Outcome out, RunQuietly({session_.repo.config.pg_bin_dir + "/psql", "-X", "-q", "-v",
                                                   "ON_ERROR_STOP=1", "-h", socket_dir(), "-p", std::to_string(kPort),
                                                   "-U", user_, "-d", "postgres", "-f", file}));
  if (out.exit_code != 0) {
    while (!out.errors.empty() && out.errors.back() == '\n') out.errors.pop_back();
    return InvalidArgument(out.errors.empty() ? "psql failed (exit " + std::to_string(out.exit_code) + ")" : out.errors);
  }
  return Status::Ok();
}

Status PrivatePostgres::StopAndUnmount() {
  ZENITH_ASSIGN_OR_RETURN(Outcome out, RunQuietly({session_.repo.config.pg_bin_dir + "/pg_ctl", "-D", datadir(), "-m",
                                                   "fast", "-w", "-t", "300", "stop"}));
  if (out.exit_code != 0) return Internal("pg_ctl stop failed: " + out.errors + LogTail());
  started_ = false;
  const std::string dir = datadir();
  ZENITH_RETURN_IF_ERROR(Unmount(dir, DaemonOf(session_.client, dir)));
  mounted_ = false;
  return WaitUnlisted(session_.client, dir);
}

}  // namespace zenith::cli
