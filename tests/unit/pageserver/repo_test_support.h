// Test support for the page server's storage and commands: a repository
// imported from a real initdb, an in-process page server over it, the
// restore of a data directory through that server (a basebackup plus the
// relation files rebuilt with GetPage@LSN, as a mount presents them), the
// comparison of two data directories, and a snapshot collected from a
// compute's data directory and uploaded with put_snapshot, as a mount does
// at a checkpoint.
//
// Header-only (tests/CMakeLists.txt builds only *_test.cc files); the
// benchmark includes it too, so nothing here uses gtest: failures are
// Status values the caller asserts on.
// Thread-safety: one owner per object; the free functions are reentrant.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/byte_io.h"
#include "common/datadir_scan.h"
#include "common/file_util.h"
#include "common/page_header.h"
#include "common/pg_control.h"
#include "common/relation_path.h"
#include "common/tar.h"
#include "common/wal_directory.h"
#include "common/wal_reader.h"
#include "pageserver/api/page_protocol.h"
#include "pageserver/client/page_client.h"
#include "pageserver/page_service.h"
#include "pageserver/pq/pq_server.h"
#include "pageserver/pq/pq_transport.h"
#include "pageserver/pq/tcp_users.h"
#include "pageserver/pq/tls_certs.h"
#include "pageserver/repo/import.h"
#include "pageserver/repo/repository.h"
#include "tests/harness/pg_cluster.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/temp_dir.h"
#include "tests/harness/test_env.h"
#include "tests/harness/wait.h"

namespace zenith::pageserver::testing {

using namespace ::zenith::testing;  // the harness: TempDir, RunCommand, PgCluster, PgBin

// Names the in-process server's socket, .s.PGSQL.<port> in the repository.
inline constexpr uint16_t kServerPort = 64000;
// How many GetPage requests the helpers keep in flight on one stream.
inline constexpr size_t kBatchBlocks = 64;

// A fresh initdb (trust auth, user postgres, no fsync), shut down.
inline Status InitdbCluster(const std::string& datadir, const std::vector<std::string>& extra_args = {}) {
  PgCluster cluster(datadir, DirName(datadir), 5432);
  return cluster.Initdb(extra_args);
}

// A repository made by CreateRepository from a fresh initdb, kept in
// initdb_dir() as the reference the repository must reproduce.
class TestRepo {
 public:
  explicit TestRepo(const std::string& name) : dir_(name) {}

  Status Create() {
    ZENITH_RETURN_IF_ERROR(InitdbCluster(initdb_dir()));
    return CreateRepository(root(), initdb_dir(), RepoConfig{});
  }
  const TempDir& dir() const { return dir_; }
  std::string root() const { return dir_.Sub(".zenith"); }
  std::string initdb_dir() const { return dir_.Sub("initdb"); }
  RepoLayout layout() const { return RepoLayout{root()}; }

 private:
  TempDir dir_;
};

// The page server's commands served by a PqServer of this process, on
// .s.PGSQL.<kServerPort> inside the repository, as zenith-pageserver does.
class InProcessServer {
 public:
  // `owner_only`: the socket serves only this process's user, who is then
  // a local client (Session::local), as in zenith-pageserver.
  // `with_history`: it compacts and collects when asked (`gc`), never in
  // the background.
  static Result<std::unique_ptr<InProcessServer>> Start(const std::string& root, PageServiceOptions options = {},
                                                        bool owner_only = true, bool with_history = false) {
    return Launch(root, options, owner_only, with_history, /*tcp=*/false);
  }
  // As Start(root, {}, true, true), and listening on TCP 127.0.0.1 (a free
  // port) as zenith-pageserver does: clients authenticate as the users of
  // the repository's password files (pageserver/pq/tcp_users.h).
  static Result<std::unique_ptr<InProcessServer>> StartWithTcp(const std::string& root) {
    return Launch(root, {}, true, true, /*tcp=*/true);
  }
  ~InProcessServer() { server_.reset(); }  // every connection ends before the repository goes

  Repository& repo() { return *repo_; }
  PqServer& server() { return *server_; }
  const std::string& conninfo() const { return conninfo_; }
  const std::string& socket_path() const { return server_->unix_socket_path(); }
  Result<std::unique_ptr<PageServerClient>> Client() const { return PageServerClient::Connect(conninfo_); }
  // libpq's connection string for TCP as `user` with `password`
  // (StartWithTcp only).
  std::string TcpConnInfo(const std::string& user, const std::string& password) const {
    return "host=127.0.0.1 port=" + std::to_string(server_->tcp_port().value_or(0)) + " user='" + user +
           "' password='" + password + "' dbname=zenith connect_timeout=10 sslmode=verify-full sslrootcert='" +
           RepoLayout{root_}.ca_cert() + "'";
  }

 private:
  InProcessServer() = default;
  static Result<std::unique_ptr<InProcessServer>> Launch(const std::string& root, PageServiceOptions options,
                                                         bool owner_only, bool with_history, bool tcp) {
    std::unique_ptr<InProcessServer> s(new InProcessServer());
    ZENITH_ASSIGN_OR_RETURN(s->repo_, Repository::Open(root));
    if (with_history) {
      HistoryOptions history;
      history.compaction_period = history.gc_period = std::chrono::seconds(0);
      s->history_ = std::make_unique<History>(*s->repo_, history);
      options.history = s->history_.get();
    }
    PqServerOptions pq;
    pq.unix_socket_path = UnixSocketPath(root, kServerPort);
    pq.unix_owner_only = owner_only;
    if (tcp) {
      ZENITH_ASSIGN_OR_RETURN(TcpUsers users, LoadTcpUsers(RepoLayout{root}, /*listening=*/true));
      pq.tcp_port = 0;
      pq.tcp_users = std::make_shared<const TcpUsers>(std::move(users));
      // TLS as `zenith pageserver start --listen` serves it; plain TCP too,
      // for the tests that speak the protocol by hand (RawClient).
      ZENITH_RETURN_IF_ERROR(EnsureRepositoryCertificate(RepoLayout{root}, "127.0.0.1"));
      ZENITH_ASSIGN_OR_RETURN(pq.tcp_tls,
                              TlsServerContext::Load(RepoLayout{root}.server_cert(), RepoLayout{root}.server_key()));
      pq.allow_plain_tcp = true;
    }
    s->server_ = std::make_unique<PqServer>(pq, MakePageServiceCommands(*s->repo_, options));
    ZENITH_RETURN_IF_ERROR(s->server_->Start());
    s->conninfo_ = PageServerConnString(root, kServerPort);
    s->root_ = root;
    return s;
  }

  std::unique_ptr<Repository> repo_;
  std::unique_ptr<History> history_;
  std::unique_ptr<PqServer> server_;
  std::string conninfo_;
  std::string root_;
};

// ---- Commands --------------------------------------------------------------

inline Result<PageServerClient::Rows> RunQuery(const std::string& conninfo, const std::string& command,
                                               const std::vector<std::string>& params = {}) {
  ZENITH_ASSIGN_OR_RETURN(auto client, PageServerClient::Connect(conninfo));
  return client->Query(command, params);
}

// timeline_describe: timeline_id, branch, ancestor_timeline_id, ancestor_lsn,
// end_of_wal, latest_snapshot.
struct TimelineDescription {
  std::string timeline_id, branch, ancestor_timeline_id;
  std::optional<Lsn> ancestor_lsn, latest_snapshot;
  Lsn end_of_wal;
};

inline Result<TimelineDescription> DescribeTimeline(const std::string& conninfo, const std::string& timeline) {
  ZENITH_ASSIGN_OR_RETURN(auto rows, RunQuery(conninfo, "timeline_describe $1", {timeline}));
  if (rows.size() != 1 || rows[0].size() != 6) return Internal("timeline_describe: unexpected reply");
  const auto& r = rows[0];
  TimelineDescription d{r[0], r[1], r[2], Lsn::Parse(r[3]), Lsn::Parse(r[5]), Lsn::Parse(r[4]).value_or(Lsn())};
  return d;
}

// snapshot_list: the visible snapshots, newest first.
struct ListedSnapshot {
  std::string timeline_id;
  SnapshotLsns lsns;
  uint64_t pages = 0;
};

inline Result<std::vector<ListedSnapshot>> ListSnapshots(const std::string& conninfo, const std::string& timeline) {
  ZENITH_ASSIGN_OR_RETURN(auto rows, RunQuery(conninfo, "snapshot_list $1", {timeline}));
  std::vector<ListedSnapshot> out;
  for (const auto& r : rows) {
    auto redo = Lsn::Parse(r[1]), ckpt = Lsn::Parse(r[2]), valid = Lsn::Parse(r[3]);
    if (r.size() != 5 || !redo || !ckpt || !valid) return Internal("snapshot_list: unexpected row");
    out.push_back({r[0], {*redo, *ckpt, *valid}, std::stoull(r[4])});
  }
  return out;
}

// ---- Restoring a data directory through the page server --------------------

// Extracts a tar archive into `dest`; the manifest member (if any) goes to
// *manifest instead of the disk.
inline Status ExtractTar(std::string_view archive, const std::string& dest, std::string* manifest) {
  TarReader reader(MemoryTarSource({AsBytes(archive)}));
  for (;;) {
    ZENITH_ASSIGN_OR_RETURN(auto entry, reader.Next());
    if (!entry) return Status::Ok();
    const std::string path = dest + "/" + entry->name;
    if (entry->type == TarEntryType::kDirectory) {
      ZENITH_RETURN_IF_ERROR(MakeDirectories(path, 0700));
      if (::chmod(path.c_str(), entry->mode) != 0) return ErrnoStatus("chmod", path, errno);
      continue;
    }
    if (entry->type == TarEntryType::kSymlink) {
      if (::symlink(entry->link_target.c_str(), path.c_str()) != 0) return ErrnoStatus("symlink", path, errno);
      continue;
    }
    std::string data(entry->size, '\0');
    ZENITH_ASSIGN_OR_RETURN(size_t got, reader.ReadData(std::span(reinterpret_cast<uint8_t*>(data.data()), data.size())));
    if (got != data.size()) return Corruption("tar member " + entry->name + " is short");
    if (entry->name == kManifestName) {
      *manifest = std::move(data);
      continue;
    }
    ZENITH_ASSIGN_OR_RETURN(UniqueFd fd, OpenFile(path, O_WRONLY | O_CREAT | O_EXCL, 0600));
    ZENITH_RETURN_IF_ERROR(WriteFull(fd.get(), AsBytes(data), path));
    if (::fchmod(fd.get(), entry->mode) != 0) return ErrnoStatus("chmod", path, errno);
  }
}

inline Result<std::string> FetchBasebackup(const std::string& conninfo, const std::string& timeline,
                                           const std::string& lsn = "") {
  ZENITH_ASSIGN_OR_RETURN(auto client, PageServerClient::Connect(conninfo));
  std::string tar;
  Status s = client->CopyOut("basebackup " + timeline + (lsn.empty() ? "" : " " + lsn), [&](std::span<const uint8_t> b) {
    tar.append(reinterpret_cast<const char*>(b.data()), b.size());
    return Status::Ok();
  });
  ZENITH_RETURN_IF_ERROR(s);
  return tar;
}

// Writes one relation segment file of `size` bytes, every block read with
// GetPage@lsn, kBatchBlocks requests in flight.
inline Status RebuildRelationFile(PageStream& stream, const std::string& path, const RelSegment& seg, uint64_t size,
                                  Lsn lsn) {
  ZENITH_ASSIGN_OR_RETURN(UniqueFd fd, OpenFile(path, O_WRONLY | O_CREAT | O_EXCL, 0600));
  const uint32_t first = seg.segno * BlocksPerSegment();
  const uint32_t count = static_cast<uint32_t>(size / kPageSize);
  std::vector<uint8_t> buf(std::min<uint32_t>(kBatchBlocks, count) * size_t{kPageSize});  // most files are small
  for (uint32_t done = 0; done < count;) {
    uint32_t n = std::min<uint32_t>(kBatchBlocks, count - done);
    std::vector<uint32_t> blocks(n);
    for (uint32_t i = 0; i < n; ++i) blocks[i] = first + done + i;
    auto out = std::span(buf).first(n * size_t{kPageSize});
    ZENITH_RETURN_IF_ERROR(stream.GetPages(seg.tag, blocks, lsn, out));
    ZENITH_RETURN_IF_ERROR(PwriteFull(fd.get(), out, uint64_t{done} * kPageSize, path));
    done += n;
  }
  return Status::Ok();
}

// Restores into `dest` (which must not exist) the data directory a mount of
// `timeline` presents: the basebackup's files plus every relation file of
// its manifest, read with GetPage@LSN at the snapshot's valid LSN. No pg_wal.
inline Result<BasebackupManifest> RestoreDatadir(const std::string& conninfo, const std::string& timeline,
                                                 const std::string& dest, const std::string& lsn = "") {
  ZENITH_ASSIGN_OR_RETURN(std::string tar, FetchBasebackup(conninfo, timeline, lsn));
  if (::mkdir(dest.c_str(), 0700) != 0) return ErrnoStatus("create", dest, errno);
  std::string manifest_json;
  ZENITH_RETURN_IF_ERROR(ExtractTar(tar, dest, &manifest_json));
  ZENITH_ASSIGN_OR_RETURN(BasebackupManifest manifest, BasebackupManifest::FromJson(manifest_json));
  ZENITH_ASSIGN_OR_RETURN(auto stream, PageStream::Open(conninfo, timeline));
  for (const auto& file : manifest.relations) {
    auto seg = ParseRelationPath(file.path);
    if (!seg) return Corruption("the manifest names \"" + file.path + "\", which is not a relation file");
    ZENITH_RETURN_IF_ERROR(MakeDirectories(DirName(dest + "/" + file.path), 0700));
    ZENITH_RETURN_IF_ERROR(RebuildRelationFile(*stream, dest + "/" + file.path, *seg, file.size, manifest.snapshot.valid));
  }
  return manifest;
}

// Differences between two data directories as a basebackup sees them
// (ScanDatadir: exclusion rules applied, pg_wal left out): entries present
// in one only, or differing in kind, mode, size, link target or contents.
// Empty when they are equal. At most `limit` lines.
inline Result<std::vector<std::string>> CompareDatadirs(const std::string& expected, const std::string& actual,
                                                        size_t limit = 20) {
  ZENITH_ASSIGN_OR_RETURN(auto want, ScanDatadir(expected));
  ZENITH_ASSIGN_OR_RETURN(auto got, ScanDatadir(actual));
  std::map<std::string, DatadirEntry> got_by_path;
  for (auto& e : got) got_by_path[e.path] = e;
  std::vector<std::string> diffs;
  auto note = [&](std::string what) {
    if (diffs.size() < limit) diffs.push_back(std::move(what));
  };
  for (const auto& w : want) {
    auto it = got_by_path.find(w.path);
    if (it == got_by_path.end()) {
      note("missing: " + w.path);
      continue;
    }
    const DatadirEntry& g = it->second;
    if (g.kind != w.kind || g.mode != w.mode || g.size != w.size || g.link_target != w.link_target) {
      note("differs in kind, mode, size or link: " + w.path);
    } else if (w.kind == DatadirEntryKind::kFile) {
      ZENITH_ASSIGN_OR_RETURN(std::string a, ReadFileToString(expected + "/" + w.path));
      ZENITH_ASSIGN_OR_RETURN(std::string b, ReadFileToString(actual + "/" + w.path));
      if (a != b) note("contents differ: " + w.path);
    }
    got_by_path.erase(it);
  }
  for (const auto& [path, e] : got_by_path) note("unexpected: " + path);
  return diffs;
}

// ---- Snapshots, as a mount uploads them -------------------------------------

// A put_snapshot stream, one CopyData message per element.
struct SnapshotStream {
  std::vector<std::string> messages;
  SnapshotEnd end{};
};

inline std::vector<std::string> SnapshotFilesMessages(std::string_view tar_body, size_t chunk = 64 * 1024) {
  std::vector<std::string> out;
  for (size_t off = 0; off < tar_body.size(); off += chunk) {
    std::string msg;
    AppendSnapshotFiles(&msg, AsBytes(tar_body.substr(off, chunk)));
    out.push_back(std::move(msg));
  }
  return out;
}

// The non-relation files of `datadir` as a tar body, with `control` as its
// global/pg_control (the file as the snapshot's checkpoint wrote it).
inline Result<std::string> NonRelationTar(const std::string& datadir, const std::vector<DatadirEntry>& entries,
                                          const std::string& control) {
  std::string body;
  TarWriter tar([&](std::span<const uint8_t> b) {
    body.append(reinterpret_cast<const char*>(b.data()), b.size());
    return Status::Ok();
  });
  ZENITH_RETURN_IF_ERROR(WriteNonRelationFiles(datadir, entries, {{"global/pg_control", control}}, tar));
  ZENITH_RETURN_IF_ERROR(tar.EndBody());
  return body;
}

// Pages of one relation fork a snapshot must carry: below the floor, those
// that differ from the previous snapshot's; from the floor on, those that
// are not all zeros (the server reads missing ones there as zeros).
inline Status AddChangedPages(PageStream& base, Lsn base_lsn, const std::string& datadir, const RelTag& rel,
                              uint32_t nblocks, uint32_t floor, SnapshotStream* out) {
  std::vector<uint8_t> local(kPageSize), old(kPageSize);
  for (uint32_t block = 0; block < nblocks; ++block) {
    BlockLocation at = LocateBlock(block);
    const std::string path = datadir + "/" + RelationSegmentPath(rel, at.segno);
    ZENITH_ASSIGN_OR_RETURN(UniqueFd fd, OpenFile(path, O_RDONLY));
    ZENITH_ASSIGN_OR_RETURN(size_t got, PreadFull(fd.get(), local, at.offset, path));
    if (got != kPageSize) return IoError("\"" + path + "\" shrank while it was collected");
    bool send = !IsAllZeroPage(local);
    if (block < floor) {
      uint32_t blocks[1] = {block};
      ZENITH_RETURN_IF_ERROR(base.GetPages(rel, blocks, base_lsn, old));
      send = local != old;
    }
    if (!send) continue;
    std::string msg;
    AppendSnapshotPage(&msg, rel, block, local);
    out->messages.push_back(std::move(msg));
    ++out->end.page_count;
  }
  return Status::Ok();
}

// The LSNs of the snapshot `control` describes, reading the WAL in
// `wal_dir`: its redo, the end of its checkpoint record, and the end of WAL
// now (call this after everything else was collected).
inline Result<SnapshotLsns> SnapshotLsnsFor(const std::string& control_bytes, const std::string& wal_dir) {
  ZENITH_ASSIGN_OR_RETURN(ControlFile control, DecodeControlFile(AsBytes(control_bytes)));
  WalReadFn wal = MakeWalDirectoryReader(wal_dir, 1);
  WalReader reader(wal, control.system_identifier, control.checkpoint);
  ZENITH_ASSIGN_OR_RETURN(auto record, reader.Next());
  if (!record) return NotFound("the checkpoint record at " + control.checkpoint.ToString() + " is not in " + wal_dir);
  ZENITH_ASSIGN_OR_RETURN(Lsn valid, FindEndOfWal(wal, record->end_lsn, control.system_identifier));
  return SnapshotLsns{control.checkpoint_copy.redo, record->end_lsn, valid};
}

// Collects the snapshot a mount would upload for the compute whose data
// directory `datadir` was restored from the snapshot at `base_lsn` of
// `timeline` and has since run and checkpointed. `control` is the
// pg_control that checkpoint wrote; `wal_dir` the timeline's wal/.
// REQUIRES: the compute is stopped, or at least idle.
inline Result<SnapshotStream> CollectSnapshot(const std::string& conninfo, const std::string& timeline, Lsn base_lsn,
                                              const std::string& datadir, const std::string& control,
                                              const std::string& wal_dir) {
  SnapshotStream out;
  ZENITH_ASSIGN_OR_RETURN(auto entries, ScanDatadir(datadir));
  ZENITH_ASSIGN_OR_RETURN(auto base, PageStream::Open(conninfo, timeline));
  std::vector<std::string> relation_messages;
  for (const auto& [rel, nblocks] : RelationSizes(entries)) {
    ZENITH_ASSIGN_OR_RETURN(bool existed, base->Exists(rel, base_lsn));
    uint32_t floor = 0;
    if (existed) {
      ZENITH_ASSIGN_OR_RETURN(uint32_t old_size, base->Nblocks(rel, base_lsn));
      floor = std::min(old_size, nblocks);
    }
    ZENITH_RETURN_IF_ERROR(AddChangedPages(*base, base_lsn, datadir, rel, nblocks, floor, &out));
    std::string msg;
    AppendSnapshotRelation(&msg, rel, RelationInfo{nblocks, floor});
    relation_messages.push_back(std::move(msg));
    ++out.end.relation_count;
  }
  out.messages.insert(out.messages.end(), relation_messages.begin(), relation_messages.end());
  ZENITH_ASSIGN_OR_RETURN(std::string tar, NonRelationTar(datadir, entries, control));
  for (auto& msg : SnapshotFilesMessages(tar)) out.messages.push_back(std::move(msg));
  ZENITH_ASSIGN_OR_RETURN(out.end.lsns, SnapshotLsnsFor(control, wal_dir));
  return out;
}

// Takes the mount lease of `timeline` on `client`'s connection, as a mount
// does before it uploads (only the lease holder may put_snapshot). Waits
// while a connection that just closed (a previous call's) still holds it.
inline Status TakeLease(PageServerClient& client, const std::string& timeline) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (;;) {
    Status s = client.Query("attach $1 $2 $3", {timeline, "/test/mount", std::to_string(getpid())}).status();
    if (s.code() != StatusCode::kBusy || std::chrono::steady_clock::now() > deadline) return s;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

// Sends `messages` and then `end` as one put_snapshot of `timeline`, on a
// connection that takes its lease first.
inline Status PutSnapshot(const std::string& conninfo, const std::string& timeline,
                          const std::vector<std::string>& messages, const SnapshotEnd& end) {
  ZENITH_ASSIGN_OR_RETURN(auto client, PageServerClient::Connect(conninfo));
  ZENITH_RETURN_IF_ERROR(TakeLease(*client, timeline));
  ZENITH_RETURN_IF_ERROR(client->BeginCopyIn("put_snapshot " + timeline));
  for (const auto& m : messages) ZENITH_RETURN_IF_ERROR(client->SendCopyData(AsBytes(m)));
  std::string end_msg;
  AppendSnapshotEnd(&end_msg, end);
  ZENITH_RETURN_IF_ERROR(client->SendCopyData(AsBytes(end_msg)));
  return client->EndCopyIn();
}

inline Status PutSnapshot(const std::string& conninfo, const std::string& timeline, const SnapshotStream& s) {
  return PutSnapshot(conninfo, timeline, s.messages, s.end);
}

// ---- A compute on a restored data directory ---------------------------------

inline Result<TimelineId> BranchTimeline(const RepoLayout& layout, const std::string& branch) {
  ZENITH_ASSIGN_OR_RETURN(std::string ref, ReadFileToString(layout.branch_ref(branch)));
  while (!ref.empty() && ref.back() == '\n') ref.pop_back();
  auto id = TimelineId::Parse(ref);
  if (!id) return Corruption("branch ref of " + branch + " holds no timeline id");
  return *id;
}

// What a mount configures (fs/scratch_setup.cc): PostgreSQL keeps every WAL
// segment. fsync and autovacuum off keep tests fast and deterministic.
inline std::vector<std::string> ComputeSettings() {
  return {"wal_keep_size=2147483647", "wal_recycle=off", "archive_mode=off", "fsync=off", "autovacuum=off"};
}

// Makes `datadir`'s pg_wal the timeline's wal/, after prepare_wal from the
// snapshot's redo, as a mount does.
inline Status LinkTimelineWal(const std::string& conninfo, const std::string& timeline, const std::string& wal_dir,
                              const std::string& datadir, Lsn redo) {
  ZENITH_RETURN_IF_ERROR(RunQuery(conninfo, "prepare_wal $1 $2", {timeline, redo.ToString()}).status());
  IgnoreError(RemoveTree(datadir + "/pg_wal"));
  if (::symlink(wal_dir.c_str(), (datadir + "/pg_wal").c_str()) != 0) return ErrnoStatus("symlink", datadir + "/pg_wal", errno);
  return Status::Ok();
}

// Runs `statements` on a PostgreSQL started on a copy of `initdb_dir` (in
// `work_dir`/main-compute) whose pg_wal is main's wal/ in the repository at
// `root`, then stops it (fast): main's WAL then goes on past layer 0, as
// after a mount of main. Call it once per repo.
inline Status RunComputeOnMain(const std::string& root, const std::string& initdb_dir, const std::string& work_dir,
                               const std::vector<std::string>& statements) {
  const std::string compute = work_dir + "/main-compute";
  RunResult copy = RunCommand({"cp", "-a", initdb_dir, compute});
  if (!copy.ok()) return Internal("cp failed: " + copy.Describe());
  const RepoLayout layout{root};
  ZENITH_ASSIGN_OR_RETURN(TimelineId main, BranchTimeline(layout, "main"));
  ZENITH_RETURN_IF_ERROR(RemoveTree(compute + "/pg_wal"));
  if (::symlink(layout.wal_dir(main).c_str(), (compute + "/pg_wal").c_str()) != 0) {
    return ErrnoStatus("symlink", compute + "/pg_wal", errno);
  }
  PgCluster pg(compute, work_dir, 5432);
  ZENITH_RETURN_IF_ERROR(pg.Start(ComputeSettings()));
  for (const auto& sql : statements) {
    RunResult r = pg.Psql(sql);
    if (!r.ok()) return Internal(sql + ": " + r.Describe());
  }
  return pg.Stop("fast");
}

// The same for a TestRepo, in its directory.
inline Status RunComputeOnMain(const TestRepo& repo, const std::vector<std::string>& statements) {
  return RunComputeOnMain(repo.root(), repo.initdb_dir(), repo.dir().path(), statements);
}

}  // namespace zenith::pageserver::testing
