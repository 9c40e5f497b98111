#include "cli/server_copy.h"

#include <libpq-fe.h>
#include <unistd.h>

#include <memory>

#include "cli/process.h"
#include "common/file_util.h"

namespace zenith::cli {

Result<int> ServerVersion(const std::string& conninfo) {
  std::unique_ptr<PGconn, decltype(&PQfinish)> conn(PQconnectdb(conninfo.c_str()), &PQfinish);
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    std::string why = PQerrorMessage(conn.get());
    while (!why.empty() && why.back() == '\n') why.pop_back();
    return Unavailable("cannot connect to " + conninfo + ": " + why);
  }
  return PQserverVersion(conn.get());
}

Status CopyRunningServer(const std::string& conninfo, const std::string& pg_bin_dir, const std::string& dest) {
  ZENITH_ASSIGN_OR_RETURN(int version, ServerVersion(conninfo));
  if (version / 10000 != 15) {
    return InvalidArgument("the server at " + conninfo + " is PostgreSQL " + std::to_string(version / 10000) +
                           "; zenith needs PostgreSQL 15");
  }
  std::vector<std::string> backup = {pg_bin_dir + "/pg_basebackup", "-D", dest, "-d", conninfo, "-X", "stream",
                                     "-c", "fast", "--no-sync"};
  if (isatty(STDERR_FILENO) == 1) backup.push_back("-P");
  ZENITH_ASSIGN_OR_RETURN(int copied, RunForeground(backup));  // its progress and errors are the user's
  if (copied != 0) return IoError("pg_basebackup failed with exit code " + std::to_string(copied));
  // Replay the streamed WAL once, reachable by nobody, then stop cleanly.
  // Without fsync: the copy is only read by the import, from the page cache,
  // and goes afterwards (the import syncs what it writes); with fsync on,
  // recovery first synced the whole copy, and each checkpoint what it wrote.
  const std::string log = dest + ".log";
  const std::string opts = "-c listen_addresses='' -c unix_socket_directories='" + dest +
                           "' -c archive_mode=off -c max_wal_senders=0 -c wal_level=replica -c fsync=off";
  ZENITH_ASSIGN_OR_RETURN(Outcome started, RunCollectingErrors({pg_bin_dir + "/pg_ctl", "-D", dest, "-l", log, "-w", "-s",
                                                                 "-t", "3600", "-o", opts, "start"}));
  if (started.exit_code != 0) {
    auto text = ReadFileToString(log);
    return IoError("PostgreSQL could not recover the copy: " + (text.ok() ? *text : started.errors));
  }
  ZENITH_ASSIGN_OR_RETURN(Outcome stopped,
                          RunCollectingErrors({pg_bin_dir + "/pg_ctl", "-D", dest, "-m", "fast", "-w", "-s", "stop"}));
  ::unlink(log.c_str());
  if (stopped.exit_code != 0) return IoError("PostgreSQL did not stop on the copy: " + stopped.errors);
  return Status::Ok();
}

}  // namespace zenith::cli
