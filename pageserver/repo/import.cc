#include "pageserver/repo/import.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <ctime>

#include <spdlog/spdlog.h>

#include "common/archive_links.h"
#include "common/byte_io.h"
#include "common/daemon_process.h"
#include "common/datadir_scan.h"
#include "common/file_util.h"
#include "common/page_header.h"
#include "common/pg_control.h"
#include "common/progress.h"
#include "common/str_format.h"
#include "common/wal_directory.h"
#include "common/wal_reader.h"
#include "pageserver/api/repo_layout.h"
#include "pageserver/layers/layer_writer.h"
#include "pageserver/repo/new_repository.h"
#include "pageserver/repo/timeline.h"

namespace zenith::pageserver {

namespace {

// A stopped PostgreSQL 15 cluster, or a clear error saying what it is.
Status CheckSourceCluster(const std::string& datadir) {
  struct stat st;
  if (::stat(datadir.c_str(), &st) != 0) return ErrnoStatus("read", datadir, errno);
  if (!S_ISDIR(st.st_mode)) return InvalidArgument("\"" + datadir + "\" is not a directory");
  auto version = ReadFileToString(datadir + "/PG_VERSION");
  if (!version.ok()) {
    return InvalidArgument("\"" + datadir + "\" is not a PostgreSQL data directory (it has no readable PG_VERSION)");
  }
  const std::string major = WithoutTrailingSpace(*version);
  if (major != "15") {
    return InvalidArgument("\"" + datadir + "\" is a PostgreSQL " + major + " data directory; zenith needs PostgreSQL 15");
  }
  if (auto pidfile = ReadFileToString(datadir + "/postmaster.pid"); pidfile.ok()) {
    const long pid = std::strtol(pidfile->c_str(), nullptr, 10);
    if (pid > 0 && ProcessAlive(static_cast<pid_t>(pid))) {
      return Busy("PostgreSQL (pid " + std::to_string(pid) + ") is running on \"" + datadir +
                  "\"; stop it first with `pg_ctl -D " + datadir + " stop`");
    }
  }
  return Status::Ok();
}

Result<ControlFile> ReadControlFile(const std::string& datadir) {
  ZENITH_RETURN_IF_ERROR(CheckSourceCluster(datadir));
  ZENITH_ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(datadir + "/global/pg_control"));
  auto control = DecodeControlFile(AsBytes(bytes));
  if (!control.ok()) return control.status().WithContext(datadir + "/global/pg_control");
  if (control->state != DbState::kShutdowned) {
    return InvalidArgument("the cluster in \"" + datadir + "\" was not shut down cleanly (state: " +
                           std::string(DbStateName(control->state)) +
                           "); start it with pg_ctl and stop it with `pg_ctl stop -m fast`, then import it");
  }
  if (control->xlog_seg_size != kWalSegmentSize || control->checkpoint_copy.this_timeline_id != kPgTimeLineId) {
    return InvalidArgument("the cluster in \"" + datadir + "\" must use 16 MB WAL segments on timeline 1");
  }
  return control;
}

// The three LSNs of the imported snapshot: the shutdown checkpoint is the
// last record, so redo, checkpoint end and valid describe one point.
Result<SnapshotLsns> ImportLsns(const std::string& wal_dir, const ControlFile& control) {
  const WalReadFn wal = MakeWalDirectoryReader(wal_dir, kPgTimeLineId);
  auto checkpoint_end = CheckpointRecordEnd(wal, control.system_identifier, control.checkpoint);
  if (!checkpoint_end.ok()) return Corruption(checkpoint_end.status().message());
  ZENITH_ASSIGN_OR_RETURN(Lsn end, FindEndOfWal(wal, *checkpoint_end, control.system_identifier));
  return SnapshotLsns{control.checkpoint_copy.redo, *checkpoint_end, end};
}

// Adds every non-zero page of one relation segment file (zero pages are
// implied: layer 0's floors are 0). Reads 1 MB at a time.
Status AddRelationPages(const std::string& path, const RelSegment& seg, uint64_t size, LayerWriter& writer,
                        ProgressLine* progress) {
  constexpr size_t kPagesPerRead = 128;
  ZENITH_ASSIGN_OR_RETURN(UniqueFd fd, OpenFile(path, O_RDONLY));
  const uint64_t whole = size - size % kPageSize;
  // Most of a cluster's relation files are a page or two: a buffer of their
  // size, not 1 MB zeroed for each of a thousand files.
  std::vector<uint8_t> buf(static_cast<size_t>(std::min<uint64_t>(kPagesPerRead * kPageSize, whole)));
  const uint32_t first_block = seg.segno * BlocksPerSegment();
  for (uint64_t off = 0; off < whole; off += buf.size()) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), whole - off));
    ZENITH_ASSIGN_OR_RETURN(size_t got, PreadFull(fd.get(), std::span(buf).first(want), off, path));
    if (got != want) return IoError("\"" + path + "\" shrank while it was imported");
    if (progress) progress->Add(want);
    const uint32_t block = first_block + static_cast<uint32_t>(off / kPageSize);
    ZENITH_RETURN_IF_ERROR(writer.AddNonZeroPages(seg.tag, block, std::span<const uint8_t>(buf).first(want)));
  }
  return Status::Ok();
}

// A mount extracts the files kept: links only where PostgreSQL makes them
// (the scan never goes below one).
Status CheckLinks(const std::string& datadir, const std::vector<DatadirEntry>& entries) {
  for (const auto& e : entries) {
    if (e.kind == DatadirEntryKind::kSymlink && !IsTablespaceLinkPath(e.path)) {
      return InvalidArgument("\"" + datadir + "/" + e.path +
                             "\" is a symbolic link; PostgreSQL makes links only at pg_tblspc/<oid>");
    }
  }
  return Status::Ok();
}

Status WriteLayerZero(const std::string& datadir, const RepoLayout& layout, const TimelineId& id,
                      const SnapshotLsns& lsns, ProgressLine* progress) {
  ZENITH_ASSIGN_OR_RETURN(auto entries, ScanDatadir(datadir));
  ZENITH_RETURN_IF_ERROR(CheckLinks(datadir, entries));
  ZENITH_ASSIGN_OR_RETURN(auto writer, LayerWriter::Create(layout.layers_dir(id), id));
  for (const auto& e : entries) {
    if (e.relation) ZENITH_RETURN_IF_ERROR(AddRelationPages(datadir + "/" + e.path, *e.relation, e.size, *writer, progress));
  }
  for (const auto& [rel, nblocks] : RelationSizes(entries)) {
    ZENITH_RETURN_IF_ERROR(writer->SetRelation(rel, RelationInfo{nblocks, 0}));
  }
  TarWriter tar([&](std::span<const uint8_t> bytes) { return writer->AppendFilesTar(bytes); });
  ZENITH_RETURN_IF_ERROR(WriteNonRelationFiles(datadir, entries, {}, tar));
  ZENITH_RETURN_IF_ERROR(tar.EndBody());
  // Layer 0 holds every page of the cluster: an image.
  return writer->Finish(LayerMeta(lsns, Lsn(0), /*image=*/true, std::time(nullptr))).status();
}

// Copies the segments that hold WAL from the snapshot's redo point to the end
// of WAL. Older ones are history no branch, mount or point in time can reach
// (nothing is older than layer 0), and later ones are recycled files
// PostgreSQL has not written yet: a cluster's pg_wal is often mostly both.
Status CopyWalSegments(const std::string& from, const std::string& to, const SnapshotLsns& lsns,
                       ProgressLine* progress) {
  ZENITH_ASSIGN_OR_RETURN(auto names, ListDirectory(from));
  for (const auto& name : names) {
    auto seg = ParseWalSegmentFileName(name);
    if (!seg || seg->tli != kPgTimeLineId || seg->segno < lsns.redo.segment_number() ||
        seg->segno > lsns.valid.segment_number()) {
      continue;
    }
    ZENITH_ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(from + "/" + name));
    ZENITH_RETURN_IF_ERROR(WriteFileDurably(to + "/" + name, bytes, 0600));
    if (progress) progress->Add(bytes.size());
  }
  return Status::Ok();
}

Status BuildRepository(const RepoLayout& layout, const std::string& datadir, RepoConfig config,
                       ProgressLine* progress) {
  ZENITH_ASSIGN_OR_RETURN(ControlFile control, ReadControlFile(datadir));
  ZENITH_ASSIGN_OR_RETURN(SnapshotLsns lsns, ImportLsns(datadir + "/pg_wal", control));
  ZENITH_ASSIGN_OR_RETURN(TimelineId main_id, TimelineId::Generate());
  config.system_id = control.system_identifier;
  ZENITH_RETURN_IF_ERROR(MakeRepositoryDirectories(layout, main_id));
  ZENITH_RETURN_IF_ERROR(CopyWalSegments(datadir + "/pg_wal", layout.wal_dir(main_id), lsns, progress));
  ZENITH_RETURN_IF_ERROR(WriteLayerZero(datadir, layout, main_id, lsns, progress));
  ZENITH_RETURN_IF_ERROR(WriteRepositoryFiles(layout, main_id, config));
  spdlog::info("imported {} as timeline {} of branch main at {}", datadir, main_id.ToString(), lsns.valid.ToString());
  return Status::Ok();
}

}  // namespace

Status CreateRepository(const std::string& root, const std::string& datadir, RepoConfig config,
                        ProgressLine* progress) {
  return CreateRepositoryAtomically(
      root, [&](const RepoLayout& layout) { return BuildRepository(layout, datadir, std::move(config), progress); });
}

}  // namespace zenith::pageserver
