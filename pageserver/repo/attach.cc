#include "pageserver/repo/attach.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <vector>

#include "common/file_util.h"
#include "common/lsn.h"
#include "pageserver/layers/layer_writer.h"
#include "pageserver/repo/new_repository.h"
#include "pageserver/repo/remote_layers.h"
#include "pageserver/repo/repository.h"
#include "pageserver/repo/timeline.h"
#include "pageserver/s3/remote_repository.h"
#include "pageserver/s3/timeline_index.h"

namespace zenith::pageserver {

namespace {

std::string ObjectName(const s3::S3Url& url, const std::string& key) { return "s3://" + url.bucket + "/" + key; }

// What the bucket says, checked before anything is written: names that
// become paths (branch names, timeline ids, layer names) must be what this
// program would have written, so a damaged or hostile index cannot make us
// write outside the repository.
struct RemoteState {
  s3::Refs refs;
  std::vector<s3::TimelineIndex> timelines;  // ancestors before descendants
};

Status CheckIndexNames(const s3::TimelineIndex& index) {
  if (!TimelineId::Parse(index.timeline)) return Corruption("an index names timeline \"" + index.timeline + "\"");
  if (index.ancestor && !TimelineId::Parse(*index.ancestor)) {
    return Corruption("the index of timeline " + index.timeline + " names ancestor \"" + *index.ancestor + "\"");
  }
  for (const auto& layer : index.layers) {
    if (!IsLayerFileName(layer.name)) {
      return Corruption("the index of timeline " + index.timeline + " names layer \"" + layer.name + "\"");
    }
  }
  return Status::Ok();
}

// The newest index of every timeline the refs reach, ancestors included,
// that a generation below `generation` wrote.
Result<std::vector<s3::TimelineIndex>> ReadIndexes(s3::ObjectStore& store, const s3::S3Url& url, const s3::Refs& refs,
                                                   uint64_t generation) {
  std::map<std::string, s3::TimelineIndex> found;
  std::vector<std::string> todo;
  for (const auto& [name, id] : refs.branches) todo.push_back(id);
  while (!todo.empty()) {
    const std::string id = todo.back();
    todo.pop_back();
    if (found.count(id) != 0) continue;
    if (!TimelineId::Parse(id)) return Corruption("the refs name timeline \"" + id + "\"");
    ZENITH_ASSIGN_OR_RETURN(auto newest, s3::ReadNewestIndex(store, url, id, generation - 1));
    if (!newest) return Corruption(url.ToString() + " holds no index of timeline " + id + ", which its refs reach");
    ZENITH_RETURN_IF_ERROR(CheckIndexNames(newest->index));
    if (newest->index.ancestor) todo.push_back(*newest->index.ancestor);
    found.emplace(id, std::move(newest->index));
  }
  // Ancestors first: take, again and again, every timeline whose ancestor is taken.
  std::vector<s3::TimelineIndex> ordered;
  while (!found.empty()) {
    const size_t before = found.size();
    for (auto it = found.begin(); it != found.end();) {
      const auto& a = it->second.ancestor;
      const bool ready = !a || std::any_of(ordered.begin(), ordered.end(), [&](const auto& t) { return t.timeline == *a; });
      if (ready) {
        ordered.push_back(std::move(it->second));
        it = found.erase(it);
      } else {
        ++it;
      }
    }
    if (found.size() == before) return Corruption(url.ToString() + ": the timelines' ancestry has a cycle");
  }
  return ordered;
}

Result<RemoteState> ReadRemoteState(s3::ObjectStore& store, const s3::S3Url& url, uint64_t generation) {
  ZENITH_ASSIGN_OR_RETURN(auto refs, s3::ReadNewestRefs(store, url, generation - 1));
  if (!refs || refs->refs.branches.empty()) {
    return NotFound(url.ToString() + " holds no branches yet: its page server has not published them (`zenith "
                    "remote sync` there makes it)");
  }
  for (const auto& [name, id] : refs->refs.branches) {
    if (Status st = ValidateBranchName(name); !st.ok()) return Corruption("the refs name a branch: " + st.message());
  }
  ZENITH_ASSIGN_OR_RETURN(auto timelines, ReadIndexes(store, url, refs->refs, generation));
  return RemoteState{std::move(refs->refs), std::move(timelines)};
}

// A branch's first segment begins with its ancestor's WAL below the branch
// point. Page servers before 2026-12-06 could upload a branch's first piece
// from the branch point on, leaving that head out of the bucket, and
// PostgreSQL reads a segment's first page before any record in it: the head
// comes from the ancestor's copy of the segment, downloaded before this
// timeline's (ancestors first). Without that copy the head stays zero.
Status FillSegmentHeadFromAncestor(const s3::TimelineIndex& index, const std::string& wal_dir,
                                   const std::string& ancestor_wal_dir, int segment_fd) {
  const s3::IndexWalPiece& first = index.wal.front();
  const uint64_t head = first.start.segment_offset();
  if (!index.ancestor || head == 0 || first.segno != index.ancestor_lsn.segment_number()) return Status::Ok();
  const std::string name = WalSegmentFileName(kPgTimeLineId, first.segno);
  auto source = OpenFile(ancestor_wal_dir + "/" + name, O_RDONLY);
  if (!source.ok()) return Status::Ok();
  std::vector<uint8_t> bytes(head);
  ZENITH_ASSIGN_OR_RETURN(size_t got, PreadFull(source->get(), bytes, 0, ancestor_wal_dir + "/" + name));
  if (got != head) return Status::Ok();
  return PwriteFull(segment_fd, bytes, 0, wal_dir + "/" + name);
}

// The timeline's WAL segments, each piece written where it lies in its
// segment; the rest of a segment stays zero, as WAL past its end is.
Result<uint64_t> DownloadWal(s3::ObjectStore& store, const s3::S3Url& url, const s3::TimelineIndex& index,
                             const std::string& wal_dir, const std::string& ancestor_wal_dir) {
  std::map<uint64_t, UniqueFd> segments;
  uint64_t bytes_total = 0;
  for (const auto& piece : index.wal) {
    const std::string key = s3::WalPieceKey(url, index.timeline, piece);
    if (piece.end <= piece.start || piece.start.segment_number() != piece.segno ||
        piece.end - piece.start > kWalSegmentSize - piece.start.segment_offset()) {
      return Corruption("the index of timeline " + index.timeline + " names a WAL piece outside its segment: " + key);
    }
    ZENITH_ASSIGN_OR_RETURN(std::string bytes, store.Get(key));
    if (bytes.size() != piece.end - piece.start) {
      return Corruption(ObjectName(url, key) + " holds " + std::to_string(bytes.size()) + " bytes; its index says " +
                        std::to_string(piece.end - piece.start));
    }
    const std::string path = wal_dir + "/" + WalSegmentFileName(kPgTimeLineId, piece.segno);
    auto it = segments.find(piece.segno);
    if (it == segments.end()) {
      ZENITH_ASSIGN_OR_RETURN(UniqueFd fd, OpenFile(path, O_RDWR | O_CREAT | O_EXCL, 0600));
      if (ftruncate(fd.get(), kWalSegmentSize) != 0) return ErrnoStatus("size", path, errno);
      it = segments.emplace(piece.segno, std::move(fd)).first;
    }
    ZENITH_RETURN_IF_ERROR(PwriteFull(it->second.get(), {reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()},
                                      piece.start.segment_offset(), path));
    bytes_total += bytes.size();
  }
  if (!segments.empty()) {
    ZENITH_RETURN_IF_ERROR(
        FillSegmentHeadFromAncestor(index, wal_dir, ancestor_wal_dir, segments.begin()->second.get()));
  }
  for (const auto& [segno, fd] : segments) {
    ZENITH_RETURN_IF_ERROR(FsyncFd(fd.get(), wal_dir + "/" + WalSegmentFileName(kPgTimeLineId, segno)));
  }
  return bytes_total;
}

Status BuildTimeline(s3::ObjectStore& store, const s3::S3Url& url, const RepoLayout& layout,
                     const s3::TimelineIndex& index, AttachSummary& summary) {
  const TimelineId id = *TimelineId::Parse(index.timeline);
  for (const std::string& dir : {layout.timeline_dir(id), layout.wal_dir(id), layout.layers_dir(id)}) {
    ZENITH_RETURN_IF_ERROR(MakeDirectoryDurably(dir, 0700));
  }
  // Layers stay in the bucket: each gets a stub (remote_layers.h), and its
  // pages come when read.
  for (const auto& layer : index.layers) {
    ZENITH_RETURN_IF_ERROR(
        WriteRemoteLayerStub(layout.layers_dir(id) + "/" + layer.name, RemoteLayerStub{layer.generation, layer.size}));
    ++summary.layers;
    summary.layer_bytes += layer.size;
  }
  ZENITH_RETURN_IF_ERROR(FsyncDirectory(layout.layers_dir(id)));
  const std::string ancestor_wal_dir = index.ancestor ? layout.wal_dir(*TimelineId::Parse(*index.ancestor)) : "";
  ZENITH_ASSIGN_OR_RETURN(uint64_t wal, DownloadWal(store, url, index, layout.wal_dir(id), ancestor_wal_dir));
  summary.wal_bytes += wal;
  ZENITH_RETURN_IF_ERROR(FsyncDirectory(layout.wal_dir(id)));
  if (index.gc_cutoff.valid() && index.gc_cutoff.value > 0) {
    ZENITH_RETURN_IF_ERROR(WriteFileDurably(layout.timeline_dir(id) + "/gc_cutoff", index.gc_cutoff.ToString() + "\n"));
  }
  if (index.readable_from) {
    ZENITH_RETURN_IF_ERROR(WriteFileDurably(layout.readable_from(id), index.readable_from->ToString() + "\n", 0644));
  }
  TimelineMetadata meta{id, {}, {}};
  if (index.ancestor) {
    meta.ancestor = TimelineId::Parse(*index.ancestor);
    meta.ancestor_lsn = index.ancestor_lsn;
  }
  ZENITH_RETURN_IF_ERROR(WriteFileDurably(layout.metadata(id), meta.ToJson()));
  ++summary.timelines;
  return Status::Ok();
}

Status BuildRepository(s3::ObjectStore& store, const s3::S3Url& url, const RepoLayout& layout,
                       const RemoteState& state, const RepoConfig& config, AttachSummary& summary) {
  for (const std::string& dir : {layout.root, layout.root + "/refs", layout.branches_dir(), layout.timelines_dir(),
                                 layout.datadirs_dir()}) {
    ZENITH_RETURN_IF_ERROR(MakeDirectoryDurably(dir, 0700));
  }
  for (const auto& index : state.timelines) ZENITH_RETURN_IF_ERROR(BuildTimeline(store, url, layout, index, summary));
  for (const auto& [name, id] : state.refs.branches) {
    ZENITH_RETURN_IF_ERROR(WriteFileDurably(layout.branch_ref(name), id + "\n", 0644));
    ++summary.branches;
  }
  ZENITH_RETURN_IF_ERROR(WriteFileDurably(layout.generation_file(), std::to_string(summary.generation) + "\n", 0644));
  return WriteRepositoryConfig(layout, config);
}

}  // namespace

Result<AttachSummary> AttachRepository(const std::string& root, s3::ObjectStore& store, const s3::S3Url& url,
                                       RepoConfig config) {
  if (PathExists(root)) return AlreadyExists("a zenith repository already exists in \"" + root + "\"");
  ZENITH_ASSIGN_OR_RETURN(s3::RemoteRepositoryInfo info, s3::ReadRepositoryInfo(store, url));
  if (info.format != config.format || info.pg_version != config.pg_version) {
    return InvalidArgument(url.ToString() + " holds a repository of format " + std::to_string(info.format) +
                           " for PostgreSQL " + std::to_string(info.pg_version) + "; this zenith makes format " +
                           std::to_string(config.format) + " for PostgreSQL " + std::to_string(config.pg_version));
  }
  config.system_id = info.system_id;
  AttachSummary summary;
  ZENITH_ASSIGN_OR_RETURN(summary.generation, s3::ClaimNextGeneration(store, url));
  ZENITH_ASSIGN_OR_RETURN(RemoteState state, ReadRemoteState(store, url, summary.generation));
  ZENITH_RETURN_IF_ERROR(CreateRepositoryAtomically(
      root, [&](const RepoLayout& layout) { return BuildRepository(store, url, layout, state, config, summary); }));
  return summary;
}

}  // namespace zenith::pageserver
