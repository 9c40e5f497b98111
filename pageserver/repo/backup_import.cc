#include "pageserver/repo/backup_import.h"

#include <fcntl.h>
#include <libpq-fe.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <ctime>
#include <memory>
#include <optional>
#include <vector>

#include "common/archive_links.h"
#include "common/backup_rules.h"
#include "common/byte_io.h"
#include "common/daemon_process.h"
#include "common/datadir_scan.h"
#include "common/file_util.h"
#include "common/page_header.h"
#include "common/pg_abi.h"
#include "common/pg_control.h"
#include "common/progress.h"
#include "common/relation_path.h"
#include "common/spawn.h"
#include "common/str_format.h"
#include "common/wal_directory.h"
#include "common/wal_reader.h"
#include "pageserver/api/conninfo_password.h"
#include "pageserver/layers/layer_writer.h"
#include "pageserver/repo/new_repository.h"

namespace zenith::pageserver {

namespace {

constexpr size_t kChunk = 128 * kPageSize;  // 1 MB: what is read from the archive at a time

// What backup_label says about the backup (PostgreSQL's do_pg_backup_start).
struct BackupLabel {
  Lsn start;       // START WAL LOCATION: the checkpoint's redo point
  Lsn checkpoint;  // CHECKPOINT LOCATION: where that checkpoint record starts
};

// The value of "KEY: value" in the label, up to the first space.
std::optional<std::string> LabelField(const std::string& label, const std::string& key) {
  const std::string prefix = key + ": ";
  for (size_t at = 0; at < label.size();) {
    size_t eol = label.find('\n', at);
    if (eol == std::string::npos) eol = label.size();
    std::string_view line(label.data() + at, eol - at);
    if (line.starts_with(prefix)) {
      line.remove_prefix(prefix.size());
      return std::string(line.substr(0, line.find(' ')));
    }
    at = eol + 1;
  }
  return std::nullopt;
}

Result<BackupLabel> ParseBackupLabel(const std::string& label) {
  if (LabelField(label, "BACKUP FROM") == "standby") {
    return InvalidArgument("the base backup was taken from a standby; import from its primary");
  }
  if (auto tli = LabelField(label, "START TIMELINE"); tli && *tli != "1") {
    return InvalidArgument("the server is on timeline " + *tli + "; zenith imports clusters on timeline 1");
  }
  auto start = LabelField(label, "START WAL LOCATION");
  auto checkpoint = LabelField(label, "CHECKPOINT LOCATION");
  std::optional<Lsn> start_lsn = start ? Lsn::Parse(*start) : std::nullopt;
  std::optional<Lsn> checkpoint_lsn = checkpoint ? Lsn::Parse(*checkpoint) : std::nullopt;
  if (!start_lsn || !checkpoint_lsn) return Corruption("the base backup's backup_label names no start and checkpoint");
  return BackupLabel{*start_lsn, *checkpoint_lsn};
}

// Reads exactly buf.size() bytes of the current entry.
Status ReadEntryBytes(TarReader& tar, std::span<uint8_t> buf, const std::string& name) {
  for (size_t got = 0; got < buf.size();) {
    ZENITH_ASSIGN_OR_RETURN(size_t n, tar.ReadData(buf.subspan(got)));
    if (n == 0) return Corruption("the base backup ends inside \"" + name + "\"");
    got += n;
  }
  return Status::Ok();
}

// The backup's archive, entry by entry, into a repository under way.
class BackupReceiver {
 public:
  BackupReceiver(const RepoLayout& layout, const TimelineId& main, LayerWriter& layer, UniqueFd spool)
      : layout_(layout), main_(main), layer_(layer), spool_fd_(std::move(spool)),
        spool_([this](std::span<const uint8_t> bytes) { return WriteFull(spool_fd_.get(), bytes, "the file spool"); }) {}

  // Every entry up to the end-of-archive marker.
  Status ReceiveAll(TarReader& tar);
  // Layer 0 from what came: its files, relation sizes and LSNs. Returns the
  // cluster's system identifier.
  Result<uint64_t> Finish();

 private:
  Status Receive(TarReader& tar, const TarEntry& entry);
  Status AddRelationFile(TarReader& tar, const TarEntry& entry, const RelSegment& seg);
  Status AddWalSegment(TarReader& tar, const TarEntry& entry);
  Status SpoolEntry(TarReader& tar, const TarEntry& entry);
  Result<SnapshotLsns> ReplayPoints(uint64_t system_id, const BackupLabel& label, CheckPointData* checkpoint);
  Status StoreFiles(const std::string& pg_control);

  const RepoLayout& layout_;
  const TimelineId main_;
  LayerWriter& layer_;
  UniqueFd spool_fd_;  // the non-relation files' tar body, until the pages are all in
  TarWriter spool_;
  std::vector<uint8_t> buf_ = std::vector<uint8_t>(kChunk);
  std::optional<std::string> label_, control_;
  TarEntry control_entry_;
  ArchiveLinkCheck links_;  // a mount extracts what is kept: no link but pg_tblspc/<oid>, nothing below one
  std::vector<DatadirEntry> relation_files_;
  size_t wal_segments_ = 0;
};

Status BackupReceiver::ReceiveAll(TarReader& tar) {
  for (;;) {
    ZENITH_ASSIGN_OR_RETURN(auto entry, tar.Next());
    if (!entry) return Status::Ok();
    ZENITH_RETURN_IF_ERROR(Receive(tar, *entry));
  }
}

Status BackupReceiver::Receive(TarReader& tar, const TarEntry& entry) {
  const std::string& name = entry.name;
  const bool file = entry.type == TarEntryType::kFile;
  ZENITH_RETURN_IF_ERROR(links_.Check(entry));
  if (name == "backup_label" && file) {
    ZENITH_ASSIGN_OR_RETURN(label_, ReadTarEntryData(tar, entry, 64 * 1024));
    return Status::Ok();
  }
  if (name == kPgControlPath && file) {
    ZENITH_ASSIGN_OR_RETURN(control_, ReadTarEntryData(tar, entry, kZenithPgAbi.control_file_size));
    control_entry_ = entry;
    return Status::Ok();
  }
  if (name.starts_with("pg_wal/") && file) return AddWalSegment(tar, entry);
  if (name == "pg_wal" || name.starts_with("pg_wal/") || name == "backup_manifest" ||
      IsExcludedFromBackup(name, entry.type == TarEntryType::kDirectory)) {
    return Status::Ok();  // zenith's pg_wal is a link to the timeline; the rest is a backup's own
  }
  if (name == "tablespace_map" && entry.size > 0) {
    return InvalidArgument("the server has tablespaces besides the default ones; zenith imports clusters without");
  }
  if (auto seg = ParseRelationPath(name); seg && file) return AddRelationFile(tar, entry, *seg);
  if (name == "PG_VERSION" && file) {
    ZENITH_ASSIGN_OR_RETURN(std::string version, ReadTarEntryData(tar, entry, 64));
    if (version != "15\n") return InvalidArgument("the base backup is not of a PostgreSQL 15 cluster");
    return spool_.AddFile(name, entry.mode, entry.mtime, AsBytes(version));
  }
  return SpoolEntry(tar, entry);
}

// Every non-zero page of one relation segment (zero pages are implied:
// layer 0's floors are 0); a partial trailing page is left out, as md.c
// does not count it.
Status BackupReceiver::AddRelationFile(TarReader& tar, const TarEntry& entry, const RelSegment& seg) {
  const uint32_t first_block = seg.segno * BlocksPerSegment();
  const uint64_t whole = entry.size - entry.size % kPageSize;
  for (uint64_t off = 0; off < whole; off += kChunk) {
    const auto chunk = std::span(buf_).first(static_cast<size_t>(std::min<uint64_t>(kChunk, whole - off)));
    ZENITH_RETURN_IF_ERROR(ReadEntryBytes(tar, chunk, entry.name));
    ZENITH_RETURN_IF_ERROR(layer_.AddNonZeroPages(seg.tag, first_block + static_cast<uint32_t>(off / kPageSize), chunk));
  }
  relation_files_.push_back(DatadirEntry{entry.name, DatadirEntryKind::kFile, entry.mode, entry.size, entry.mtime,
                                         "", seg});
  return Status::Ok();
}

// A WAL segment of timeline 1 into the timeline's wal/, synced.
Status BackupReceiver::AddWalSegment(TarReader& tar, const TarEntry& entry) {
  const std::string base = entry.name.substr(entry.name.rfind('/') + 1);
  const auto seg = ParseWalSegmentFileName(base);
  if (!seg || entry.name != "pg_wal/" + base) return Status::Ok();  // history and status files
  if (seg->tli != kPgTimeLineId) {
    return InvalidArgument("the base backup's WAL is of timeline " + std::to_string(seg->tli) +
                           "; zenith imports clusters on timeline 1");
  }
  if (entry.size != kWalSegmentSize) return Corruption("WAL segment " + base + " in the base backup is not 16 MB");
  const std::string path = layout_.wal_dir(main_) + "/" + base;
  ZENITH_ASSIGN_OR_RETURN(UniqueFd fd, OpenFile(path, O_WRONLY | O_CREAT | O_EXCL, 0600));
  for (uint64_t off = 0; off < entry.size; off += kChunk) {
    ZENITH_RETURN_IF_ERROR(ReadEntryBytes(tar, buf_, entry.name));
    ZENITH_RETURN_IF_ERROR(WriteFull(fd.get(), buf_, path));
  }
  ++wal_segments_;
  return FsyncFd(fd.get(), path);
}

Status BackupReceiver::SpoolEntry(TarReader& tar, const TarEntry& entry) {
  switch (entry.type) {
    case TarEntryType::kDirectory:
      return spool_.AddDirectory(entry.name, entry.mode, entry.mtime);
    case TarEntryType::kSymlink:
      return spool_.AddSymlink(entry.name, entry.link_target, entry.mtime);
    case TarEntryType::kFile:
      break;
  }
  ZENITH_RETURN_IF_ERROR(spool_.BeginFile(entry.name, entry.mode, entry.mtime, entry.size));
  for (;;) {
    ZENITH_ASSIGN_OR_RETURN(size_t n, tar.ReadData(buf_));
    if (n == 0) break;
    ZENITH_RETURN_IF_ERROR(spool_.WriteData(std::span(buf_).first(n)));
  }
  return Status::Ok();
}

// The snapshot's LSNs: redo and the end of the backup's start checkpoint,
// and the end of WAL, reading past the backup's end-of-backup record.
Result<SnapshotLsns> BackupReceiver::ReplayPoints(uint64_t system_id, const BackupLabel& label,
                                                  CheckPointData* checkpoint) {
  if (wal_segments_ == 0) return InvalidArgument("the base backup holds no WAL (take it with its WAL: -X fetch)");
  WalReader reader(MakeWalDirectoryReader(layout_.wal_dir(main_), kPgTimeLineId), system_id, label.checkpoint);
  ZENITH_ASSIGN_OR_RETURN(const WalRecord* record, reader.ReadRecord());
  if (record == nullptr || !record->is_checkpoint()) {
    return InvalidArgument("the base backup's WAL holds no checkpoint record at " + label.checkpoint.ToString() +
                           (record ? "" : " (" + reader.end_reason() + ")"));
  }
  ZENITH_ASSIGN_OR_RETURN(*checkpoint, DecodeCheckPoint(record->main_data()));
  if (checkpoint->redo != label.start) {
    return Corruption("the base backup's checkpoint does not start replay at its START WAL LOCATION");
  }
  const Lsn checkpoint_end = record->end_lsn;
  bool ended = false;
  while (record != nullptr) {
    ended = ended || record->backup_end_of() == label.start;
    ZENITH_ASSIGN_OR_RETURN(record, reader.ReadRecord());
  }
  if (!ended) {
    return InvalidArgument("the base backup's WAL stops at " + reader.position().ToString() +
                           ", before the backup's end: the copy could not be made consistent");
  }
  return SnapshotLsns{checkpoint->redo, checkpoint_end, reader.position()};
}

// The spooled files and the rewritten pg_control into the layer.
Status BackupReceiver::StoreFiles(const std::string& pg_control) {
  ZENITH_RETURN_IF_ERROR(
      spool_.AddFile(kPgControlPath, control_entry_.mode, control_entry_.mtime, AsBytes(pg_control)));
  ZENITH_RETURN_IF_ERROR(spool_.EndBody());
  for (uint64_t off = 0; off < spool_.bytes_written(); off += kChunk) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(kChunk, spool_.bytes_written() - off));
    ZENITH_ASSIGN_OR_RETURN(size_t got, PreadFull(spool_fd_.get(), std::span(buf_).first(want), off, "the file spool"));
    if (got != want) return IoError("the file spool is shorter than what was written to it");
    ZENITH_RETURN_IF_ERROR(layer_.AppendFilesTar(std::span(buf_).first(want)));
  }
  return Status::Ok();
}

Result<uint64_t> BackupReceiver::Finish() {
  if (!label_) return InvalidArgument("the archive is not a base backup (it has no backup_label)");
  if (!control_) return InvalidArgument("the base backup has no global/pg_control");
  ZENITH_ASSIGN_OR_RETURN(BackupLabel label, ParseBackupLabel(*label_));
  auto control = DecodeControlFile(AsBytes(*control_));
  if (!control.ok()) return control.status().WithContext("the base backup's pg_control");
  if (control->xlog_seg_size != kWalSegmentSize) return InvalidArgument("the server must use 16 MB WAL segments");
  CheckPointData checkpoint;
  ZENITH_ASSIGN_OR_RETURN(SnapshotLsns lsns, ReplayPoints(control->system_identifier, label, &checkpoint));
  // What pg_control says after an online checkpoint at the backup's start:
  // PostgreSQL replays from there as after a crash, to the end of the WAL.
  control->state = DbState::kInProduction;
  control->checkpoint = label.checkpoint;
  control->checkpoint_copy = checkpoint;
  control->min_recovery_point = Lsn::Invalid();
  control->min_recovery_point_tli = 0;
  control->backup_start_point = Lsn::Invalid();
  control->backup_end_point = Lsn::Invalid();
  control->backup_end_required = false;
  ZENITH_RETURN_IF_ERROR(StoreFiles(EncodeControlFile(*control)));
  for (const auto& [rel, nblocks] : RelationSizes(relation_files_)) {
    ZENITH_RETURN_IF_ERROR(layer_.SetRelation(rel, RelationInfo{nblocks, 0}));
  }
  // Layer 0 holds every page of the cluster: an image.
  ZENITH_RETURN_IF_ERROR(layer_.Finish(LayerMeta(lsns, Lsn(0), /*image=*/true, std::time(nullptr))).status());
  ZENITH_RETURN_IF_ERROR(FsyncDirectory(layout_.wal_dir(main_)));
  return control->system_identifier;
}

Status BuildFromBackup(const RepoLayout& layout, const TarReader::Source& backup, RepoConfig config) {
  ZENITH_ASSIGN_OR_RETURN(TimelineId main_id, TimelineId::Generate());
  ZENITH_RETURN_IF_ERROR(MakeRepositoryDirectories(layout, main_id));
  ZENITH_ASSIGN_OR_RETURN(auto layer, LayerWriter::Create(layout.layers_dir(main_id), main_id));
  ZENITH_ASSIGN_OR_RETURN(UniqueFd spool, OpenFile(layout.root, O_TMPFILE | O_RDWR, 0600));
  BackupReceiver receiver(layout, main_id, *layer, std::move(spool));
  TarReader tar(backup);
  ZENITH_RETURN_IF_ERROR(receiver.ReceiveAll(tar));
  ZENITH_ASSIGN_OR_RETURN(config.system_id, receiver.Finish());
  return WriteRepositoryFiles(layout, main_id, config);
}

// ---- the running server ----

using Connection = std::unique_ptr<PGconn, decltype(&PQfinish)>;

// The one value a query returns, or an error in the server's words.
Result<std::string> QueryValue(PGconn* conn, const std::string& sql) {
  std::unique_ptr<PGresult, decltype(&PQclear)> r(PQexec(conn, sql.c_str()), &PQclear);
  if (PQresultStatus(r.get()) != PGRES_TUPLES_OK || PQntuples(r.get()) != 1 || PQnfields(r.get()) != 1) {
    return IoError("the server refused \"" + sql + "\": " + WithoutTrailingSpace(PQerrorMessage(conn)));
  }
  return std::string(PQgetvalue(r.get(), 0, 0));
}

// A connection to a PostgreSQL 15 primary. Messages name the server by
// `source.without_password`.
Result<Connection> ConnectToSource(const std::string& conninfo, const ConnInfoParts& source) {
  Connection conn(PQconnectdb(conninfo.c_str()), &PQfinish);
  const std::string& shown = source.without_password;
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    return Unavailable("cannot connect to " + shown + ": " + WithoutTrailingSpace(PQerrorMessage(conn.get())));
  }
  const int version = PQserverVersion(conn.get());
  if (version / 10000 != 15) {
    return InvalidArgument("the server at " + shown + " is PostgreSQL " + std::to_string(version / 10000) +
                           "; zenith needs PostgreSQL 15");
  }
  ZENITH_ASSIGN_OR_RETURN(std::string standby, QueryValue(conn.get(), "select pg_is_in_recovery()"));
  if (standby == "t") return InvalidArgument("the server at " + shown + " is a standby; import from its primary");
  return conn;
}

// pg_basebackup writing the archive into a pipe; killed and reaped if not
// waited for. Its arguments name the server without the password, which
// it gets in its environment (PGPASSWORD).
class BasebackupProcess {
 public:
  static Result<std::unique_ptr<BasebackupProcess>> Start(const std::string& pg_bin_dir, const ConnInfoParts& source,
                                                          const std::string& scratch_dir);
  ~BasebackupProcess() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    IgnoreError(WaitForExit(pid_, "pg_basebackup").status());
  }
  int output() const { return out_.get(); }
  // Reads the rest of the archive (padding after its end) when `drain`,
  // else closes the pipe (pg_basebackup then fails writing to it), and
  // waits. OK if it exited with code 0; IoError with its message otherwise.
  Status Wait(bool drain);

 private:
  pid_t pid_ = -1;
  UniqueFd out_, errors_;  // the archive; its stderr (an unnamed file: it cannot block it)
};

Result<std::unique_ptr<BasebackupProcess>> BasebackupProcess::Start(const std::string& pg_bin_dir,
                                                                    const ConnInfoParts& source,
                                                                    const std::string& scratch_dir) {
  auto p = std::make_unique<BasebackupProcess>();
  ZENITH_ASSIGN_OR_RETURN(p->errors_, OpenFile(scratch_dir, O_TMPFILE | O_RDWR, 0600));
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return ErrnoStatus("create a pipe for pg_basebackup", errno);
  p->out_ = UniqueFd(fds[0]);
  UniqueFd write_end(fds[1]);
  ::fcntl(fds[0], F_SETPIPE_SZ, 1 << 20);  // fewer wakeups; the default 64 kB works too
  SpawnOptions options;
  options.argv = {pg_bin_dir + "/pg_basebackup", "-D", "-", "-F", "t", "-X", "fetch", "-c", "fast",
                  "--no-manifest", "-d", source.without_password};
  if (source.has_password) options.env["PGPASSWORD"] = source.password;
  options.stdin_null = true;
  options.stdout_fd = write_end.get();
  options.stderr_fd = p->errors_.get();
  ZENITH_ASSIGN_OR_RETURN(p->pid_, Spawn(options));
  return p;
}

Status BasebackupProcess::Wait(bool drain) {
  for (std::vector<uint8_t> sink(kChunk); drain;) {
    const ssize_t n = ::read(out_.get(), sink.data(), sink.size());
    if (n == 0 || (n < 0 && errno != EINTR)) break;
  }
  out_.reset();
  auto exited = WaitForExit(pid_, "pg_basebackup");
  pid_ = -1;
  ZENITH_ASSIGN_OR_RETURN(int code, std::move(exited));
  if (code == 0) return Status::Ok();
  std::string errors(4096, '\0');
  auto got = PreadFull(errors_.get(), std::span(reinterpret_cast<uint8_t*>(errors.data()), errors.size()), 0,
                       "pg_basebackup's errors");
  errors = WithoutTrailingSpace(errors.substr(0, got.ok() ? *got : 0));
  return IoError("pg_basebackup failed (exit code " + std::to_string(code) + ")" + (errors.empty() ? "" : ": " + errors));
}

// Reads the pipe, counting what comes; *ended once it is at its end.
TarReader::Source PipeSource(int fd, ProgressLine* progress, bool* ended) {
  return [fd, progress, ended](std::span<uint8_t> buf) -> Result<size_t> {
    for (;;) {
      const ssize_t n = ::read(fd, buf.data(), buf.size());
      if (n >= 0) {
        *ended = *ended || n == 0;
        if (progress) progress->Add(static_cast<uint64_t>(n));
        return static_cast<size_t>(n);
      }
      if (errno != EINTR) return ErrnoStatus("read the base backup from pg_basebackup", errno);
    }
  };
}

}  // namespace

Status CreateRepositoryFromBackup(const std::string& root, const TarReader::Source& backup, RepoConfig config) {
  return CreateRepositoryAtomically(
      root, [&](const RepoLayout& layout) { return BuildFromBackup(layout, backup, std::move(config)); });
}

Status CreateRepositoryFromServer(const std::string& root, const std::string& conninfo, const std::string& pg_bin_dir,
                                  RepoConfig config, std::FILE* progress_stream) {
  if (PathExists(root)) return AlreadyExists("a zenith repository already exists in \"" + root + "\"");
  ZENITH_ASSIGN_OR_RETURN(ConnInfoParts server, SplitPassword(conninfo));
  ZENITH_ASSIGN_OR_RETURN(Connection conn, ConnectToSource(conninfo, server));
  // Held by this connection while it lives: the server keeps the WAL from
  // here on, which the backup fetches at its end. Without one (no free
  // slot, no privilege) a busy server may recycle it first, and
  // pg_basebackup says so.
  IgnoreError(QueryValue(conn.get(),
                         "select pg_create_physical_replication_slot('zenith_import_' || pg_backend_pid(), true, true)")
                  .status());
  auto size = QueryValue(conn.get(), "select sum(pg_database_size(oid))::bigint from pg_database");
  std::unique_ptr<ProgressLine> progress;
  if (progress_stream) {
    const uint64_t total = size.ok() ? std::strtoull(size->c_str(), nullptr, 10) : 0;
    progress = std::make_unique<ProgressLine>("imported", total, progress_stream);
  }
  ZENITH_ASSIGN_OR_RETURN(auto backup, BasebackupProcess::Start(pg_bin_dir, server, DirName(root)));
  bool ended = false;
  const TarReader::Source source = PipeSource(backup->output(), progress.get(), &ended);
  Status s = CreateRepositoryAtomically(root, [&](const RepoLayout& layout) {
    Status built = BuildFromBackup(layout, source, config);
    Status waited = backup->Wait(/*drain=*/built.ok());
    // A failed pg_basebackup cuts the archive off: its word explains that.
    // When the import stopped reading first, the import's error is the cause.
    return built.ok() || ended ? (waited.ok() ? built : waited) : built;
  });
  if (progress) progress->End();
  return s;
}

}  // namespace zenith::pageserver
