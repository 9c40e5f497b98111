#include "pageserver/client/repo_client.h"

#include <unistd.h>

#include <charconv>
#include <cstring>

#include "common/wal_segment_writer.h"

namespace zenith::pageserver {

namespace {

using Row = std::vector<std::string>;

// Reads one reply row column by column; the first column that does not
// parse fails the row with a kProtocol error naming the command.
class RowReader {
 public:
  RowReader(const std::string& command, const Row& row) : command_(command), row_(row) {}

  std::string Text() { return Next(); }
  uint64_t Number() {
    const std::string s = Next();
    uint64_t v = 0;
    auto [end, err] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (err != std::errc() || end != s.data() + s.size()) Bad("a number", s);
    return v;
  }
  bool Flag() {
    const std::string s = Next();
    if (s != "t" && s != "f") Bad("t or f", s);
    return s == "t";
  }
  Lsn LsnOrInvalid() {  // NULL (read as "") is an invalid LSN
    const std::string s = Next();
    if (s.empty()) return Lsn();
    auto lsn = Lsn::Parse(s);
    if (!lsn) Bad("an LSN", s);
    return lsn.value_or(Lsn());
  }
  TimelineId Id() {
    const std::string s = Next();
    auto id = TimelineId::Parse(s);
    if (!id) Bad("a timeline id", s);
    return id.value_or(TimelineId{});
  }
  std::optional<TimelineId> OptionalId() {
    if (index_ < row_.size() && row_[index_].empty()) {
      ++index_;
      return std::nullopt;
    }
    return Id();
  }

  template <typename T>
  Result<T> Finish(T value) {
    if (!error_.ok()) return error_;
    return value;
  }

 private:
  std::string Next() { return index_ < row_.size() ? row_[index_++] : std::string(); }
  void Bad(const char* what, const std::string& got) {
    if (error_.ok()) {
      error_ = ProtocolError("unexpected reply to " + command_ + ": column " + std::to_string(index_) + " is not " +
                             what + ": '" + got + "'");
    }
  }

  const std::string& command_;
  const Row& row_;
  size_t index_ = 0;
  Status error_;
};

// One field of a BackgroundRun from a `status` row named <run>_<field>.
void ReadBackgroundRun(const std::string& field, RowReader& r, std::optional<BackgroundRun>* run) {
  if (!*run) run->emplace();
  if (field == "last_run") (*run)->last_run = static_cast<int64_t>(r.Number());
  else if (field == "failing_runs") (*run)->failing_runs = r.Number();
  else if (field == "failing_since") (*run)->failing_since = static_cast<int64_t>(r.Number());
  else if (field == "problem") (*run)->problem = r.Text();
}

// The rows of `command`, each with exactly `columns` columns.
Result<std::vector<Row>> QueryRows(PageServerClient& conn, const std::string& command, const std::vector<std::string>& params,
                              size_t columns) {
  ZENITH_ASSIGN_OR_RETURN(auto rows, conn.Query(command, params));
  for (const auto& row : rows) {
    if (row.size() != columns) {
      return ProtocolError("unexpected reply to " + command + ": " + std::to_string(row.size()) + " columns, not " +
                           std::to_string(columns));
    }
  }
  return rows;
}

// Rows parsed one by one with `parse`.
template <typename T, typename Parse>
Result<std::vector<T>> ParseRows(const std::string& name, const std::vector<Row>& rows, Parse parse) {
  std::vector<T> out;
  for (const auto& row : rows) {
    RowReader r(name, row);
    ZENITH_ASSIGN_OR_RETURN(T value, r.Finish(parse(r)));
    out.push_back(std::move(value));
  }
  return out;
}

template <typename T>
Result<T> OnlyRow(const std::string& name, Result<std::vector<T>> rows) {
  ZENITH_RETURN_IF_ERROR(rows.status());
  if (rows->size() != 1) return ProtocolError("unexpected reply to " + name + ": " + std::to_string(rows->size()) + " rows");
  return std::move(rows->front());
}

}  // namespace

Status RepoClient::CheckToken(const std::string& target) {
  // CopyOut takes no parameters: the target goes in the command text, so
  // it must be one token.
  if (target.empty() || target.find_first_of(" \t\n;$") != std::string::npos) {
    return InvalidArgument("'" + target + "' is not a branch name or timeline id");
  }
  return Status::Ok();
}

Result<std::string> RepoClient::CopyOutAll(const std::string& command) {
  std::string out;
  ZENITH_RETURN_IF_ERROR(conn_->CopyOut(command, [&](std::span<const uint8_t> chunk) {
    out.append(reinterpret_cast<const char*>(chunk.data()), chunk.size());
    return Status::Ok();
  }));
  return out;
}

Result<RepoClient> RepoClient::Connect(const std::string& conninfo) {
  ZENITH_ASSIGN_OR_RETURN(auto conn, PageServerClient::Connect(conninfo));
  return RepoClient(std::move(conn));
}

Result<ServerStatus> RepoClient::DescribeServer() {
  ZENITH_ASSIGN_OR_RETURN(auto rows, QueryRows(*conn_, "status", {}, 2));
  ServerStatus s;
  uint64_t pid = 0;
  for (const auto& row : rows) {
    RowReader r("status", row);
    const std::string name = r.Text();
    if (name == "version") s.version = r.Text();
    else if (name == "repository") s.repository = r.Text();
    else if (name == "system_id") s.system_id = r.Number();
    else if (name == "pid") pid = r.Number();
    else if (name == "timelines_loaded") s.timelines_loaded = r.Number();
    else if (name == "mounts") s.mounts = r.Number();
    else if (name.starts_with("compaction_")) ReadBackgroundRun(name.substr(11), r, &s.compaction);
    else if (name.starts_with("gc_")) ReadBackgroundRun(name.substr(3), r, &s.gc);
    ZENITH_RETURN_IF_ERROR(r.Finish(0).status());
  }
  if (pid == 0) return ProtocolError("unexpected reply to status: no pid");
  s.pid = static_cast<pid_t>(pid);
  return s;
}

Result<std::vector<BranchEntry>> RepoClient::ListBranches() {
  ZENITH_ASSIGN_OR_RETURN(auto rows, QueryRows(*conn_, "branch_list", {}, 4));
  return ParseRows<BranchEntry>("branch_list", rows, [](RowReader& r) {
    BranchEntry b;
    b.name = r.Text();
    b.timeline = r.Id();
    b.ancestor = r.OptionalId();
    b.ancestor_lsn = r.LsnOrInvalid();
    return b;
  });
}

Result<CreatedBranch> RepoClient::CreateBranch(const std::string& name, const std::string& parent) {
  ZENITH_ASSIGN_OR_RETURN(auto rows, QueryRows(*conn_, "branch_create $1 $2", {name, parent}, 4));
  return OnlyRow("branch_create", ParseRows<CreatedBranch>("branch_create", rows, [](RowReader& r) {
                   CreatedBranch c;
                   c.name = r.Text();
                   c.timeline = r.Id();
                   c.lsn = r.LsnOrInvalid();
                   c.at_end_of_wal = r.Flag();
                   return c;
                 }));
}

Result<CreatedBranch> RepoClient::PrepareBranch(const std::string& name, const std::string& parent) {
  ZENITH_ASSIGN_OR_RETURN(auto rows, QueryRows(*conn_, "branch_prepare $1 $2", {name, parent}, 3));
  return OnlyRow("branch_prepare", ParseRows<CreatedBranch>("branch_prepare", rows, [](RowReader& r) {
                   CreatedBranch c;
                   c.name = r.Text();
                   c.timeline = r.Id();
                   c.lsn = r.LsnOrInvalid();
                   return c;
                 }));
}

Result<Lsn> RepoClient::PublishBranch(const std::string& name) {
  ZENITH_ASSIGN_OR_RETURN(auto rows, QueryRows(*conn_, "branch_publish $1", {name}, 3));
  return OnlyRow("branch_publish", ParseRows<Lsn>("branch_publish", rows, [](RowReader& r) {
                   r.Text(), r.Id();
                   return r.LsnOrInvalid();
                 }));
}

Result<DetachedBranch> RepoClient::DetachBranch(const std::string& name) {
  ZENITH_ASSIGN_OR_RETURN(auto rows, QueryRows(*conn_, "branch_detach $1", {name}, 7));
  return OnlyRow("branch_detach", ParseRows<DetachedBranch>("branch_detach", rows, [](RowReader& r) {
                   DetachedBranch d;
                   d.name = r.Text();
                   d.timeline = r.Id();
                   d.parent = r.Text();
                   d.image_lsn = r.LsnOrInvalid();
                   d.image_bytes = r.Number();
                   d.wal_bytes = r.Number();
                   d.seconds = std::strtod(r.Text().c_str(), nullptr);
                   return d;
                 }));
}

Result<ResetBranch> RepoClient::ResetBranchTo(const std::string& name, const std::string& to, const std::string& keep) {
  ZENITH_ASSIGN_OR_RETURN(auto rows, QueryRows(*conn_, "branch_reset $1 $2 $3", {name, to, keep}, 6));
  return OnlyRow("branch_reset", ParseRows<ResetBranch>("branch_reset", rows, [](RowReader& r) {
                   ResetBranch b;
                   b.name = r.Text();
                   b.timeline = r.Id();
                   b.old_timeline = r.Id();
                   b.parent = r.Text();
                   b.lsn = r.LsnOrInvalid();
                   b.at_end_of_wal = r.Flag();
                   return b;
                 }));
}

Status RepoClient::DeleteBranch(const std::string& name) { return conn_->Query("branch_delete $1", {name}).status(); }

Result<std::vector<BranchSizes>> RepoClient::DescribeBranches() {
  ZENITH_ASSIGN_OR_RETURN(auto rows, QueryRows(*conn_, "branch_info", {}, 10));
  return ParseRows<BranchSizes>("branch_info", rows, [](RowReader& r) {
    BranchSizes b;
    b.name = r.Text();
    b.timeline = r.Id();
    b.parent = r.Text();
    b.branch_lsn = r.LsnOrInvalid();
    b.end_of_wal = r.LsnOrInvalid();
    b.oldest_lsn = r.LsnOrInvalid();
    b.logical_size = r.Number();
    b.own_bytes = r.Number();
    b.exclusive_bytes = r.Number();
    b.layers = r.Number();
    return b;
  });
}

Result<TimelineDescription> RepoClient::DescribeTimeline(const std::string& target) {
  ZENITH_ASSIGN_OR_RETURN(auto rows, QueryRows(*conn_, "timeline_describe $1", {target}, 6));
  return OnlyRow("timeline_describe", ParseRows<TimelineDescription>("timeline_describe", rows, [](RowReader& r) {
                   TimelineDescription t;
                   t.timeline = r.Id();
                   t.branch = r.Text();
                   t.ancestor = r.OptionalId();
                   t.ancestor_lsn = r.LsnOrInvalid();
                   t.end_of_wal = r.LsnOrInvalid();
                   t.latest_snapshot = r.LsnOrInvalid();
                   return t;
                 }));
}

Result<std::vector<SnapshotEntry>> RepoClient::ListSnapshots(const std::string& target) {
  ZENITH_ASSIGN_OR_RETURN(auto rows, QueryRows(*conn_, "snapshot_list $1", {target}, 5));
  return ParseRows<SnapshotEntry>("snapshot_list", rows, [](RowReader& r) {
    SnapshotEntry s;
    s.timeline = r.Id();
    s.redo = r.LsnOrInvalid();
    s.checkpoint = r.LsnOrInvalid();
    s.valid = r.LsnOrInvalid();
    s.pages = r.Number();
    return s;
  });
}

Result<std::vector<LayerFileEntry>> RepoClient::LayerFiles(const std::string& target, Lsn lsn) {
  ZENITH_ASSIGN_OR_RETURN(auto rows, QueryRows(*conn_, "layer_files $1 $2", {target, lsn.ToString()}, 3));
  return ParseRows<LayerFileEntry>("layer_files", rows, [](RowReader& r) {
    LayerFileEntry e;
    e.path = r.Text();
    e.timeline = r.Id();
    e.valid = r.LsnOrInvalid();
    return e;
  });
}

Result<std::vector<MountEntry>> RepoClient::Mounts() {
  ZENITH_ASSIGN_OR_RETURN(auto rows, QueryRows(*conn_, "mounts", {}, 7));
  return ParseRows<MountEntry>("mounts", rows, [](RowReader& r) {
    MountEntry m;
    m.timeline = r.Id();
    m.branch = r.Text();
    m.mountpoint = r.Text();
    m.pid = static_cast<pid_t>(r.Number());
    m.pinned = r.Text();
    const std::string mode = r.Text();
    m.read_only = mode == "read-only";
    m.point = r.LsnOrInvalid();
    return m;
  });
}

Result<std::string> RepoClient::Attach(const std::string& target, const std::string& mountpoint, pid_t pid) {
  ZENITH_ASSIGN_OR_RETURN(auto rows, QueryRows(*conn_, "attach $1 $2 $3", {target, mountpoint, std::to_string(pid)}, 1));
  if (rows.size() != 1 || rows[0][0].empty()) return ProtocolError("unexpected reply to attach: no lease token");
  return rows[0][0];
}

std::string RemoteMountpointLabel(const std::string& dir) {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) std::strcpy(host, "unknown-host");
  return std::string(host) + ":" + dir;
}

Result<std::string> RepoClient::WalToken(const std::string& target) {
  ZENITH_ASSIGN_OR_RETURN(auto rows, QueryRows(*conn_, "wal_token $1", {target}, 1));
  if (rows.size() != 1 || rows[0][0].empty()) return ProtocolError("wal_token answered with no token");
  return rows[0][0];
}

Status RepoClient::Pin(const std::string& target, Lsn lsn, bool with_wal) {
  return conn_->Query(with_wal ? "pin $1 $2" : "pin $1 $2 pages", {target, lsn.ToString()}).status();
}

Status RepoClient::Unpin(const std::string& target, Lsn lsn) {
  return conn_->Query("unpin $1 $2", {target, lsn.ToString()}).status();
}

Status RepoClient::ReportMountStats(const MountStats& stats) {
  const std::vector<std::string> args = EncodeMountStats(stats);
  std::string command = "mount_stats";
  for (size_t i = 1; i <= args.size(); ++i) command += " $" + std::to_string(i);
  return conn_->Query(command, args).status();
}

Status RepoClient::PrepareWal(const std::string& target, Lsn redo) {
  return conn_->Query("prepare_wal $1 $2", {target, redo.ToString()}).status();
}

Result<std::string> RepoClient::Basebackup(const std::string& target, bool pin) {
  ZENITH_RETURN_IF_ERROR(CheckToken(target));
  return CopyOutAll("basebackup " + target + (pin ? " pin" : ""));
}

Result<std::string> RepoClient::BasebackupAt(const std::string& target, Lsn lsn) {
  ZENITH_RETURN_IF_ERROR(CheckToken(target));
  return CopyOutAll("basebackup " + target + " " + lsn.ToString() + " pin");
}

Result<ReadPoint> RepoClient::ResolvePoint(const std::string& target, const std::string& spec) {
  std::vector<std::string> params = {target};
  if (!spec.empty()) params.push_back(spec);
  ZENITH_ASSIGN_OR_RETURN(auto rows, QueryRows(*conn_, spec.empty() ? "point $1" : "point $1 $2", params, 2));
  return OnlyRow("point", ParseRows<ReadPoint>("point", rows, [](RowReader& r) {
                   ReadPoint p;
                   p.timeline = r.Id();
                   p.lsn = r.LsnOrInvalid();
                   return p;
                 }));
}

Result<RelationChanges> RepoClient::Changes(const ReadPoint& a, const ReadPoint& b) {
  ZENITH_ASSIGN_OR_RETURN(auto rows, QueryRows(*conn_, "changes $1 $2 $3 $4",
                                               {a.timeline.ToString(), a.lsn.ToString(), b.timeline.ToString(),
                                                b.lsn.ToString()},
                                               7));
  if (rows.empty()) return ProtocolError("unexpected reply to changes: no common point");
  RelationChanges out;
  RowReader first("changes", rows.front());
  out.common.timeline = first.Id();
  out.common.lsn = first.LsnOrInvalid();
  ZENITH_RETURN_IF_ERROR(first.Finish(0).status());
  rows.erase(rows.begin());
  ZENITH_ASSIGN_OR_RETURN(out.forks, ParseRows<RelationChanges::Fork>("changes", rows, [](RowReader& r) {
                            RelationChanges::Fork f;
                            r.Text(), r.Text();  // the common point's columns, empty here
                            f.tablespace = static_cast<uint32_t>(r.Number());
                            f.database = static_cast<uint32_t>(r.Number());
                            f.relfilenode = static_cast<uint32_t>(r.Number());
                            f.fork = static_cast<uint8_t>(r.Number());
                            f.blocks = static_cast<uint32_t>(r.Number());
                            return f;
                          }));
  return out;
}

Result<TimelineId> RepoClient::AttachReadOnly(const std::string& target, Lsn lsn, const std::string& mountpoint,
                                              pid_t pid) {
  ZENITH_ASSIGN_OR_RETURN(auto rows, QueryRows(*conn_, "attach_readonly $1 $2 $3 $4",
                                               {target, lsn.ToString(), mountpoint, std::to_string(pid)}, 1));
  return OnlyRow("attach_readonly", ParseRows<TimelineId>("attach_readonly", rows, [](RowReader& r) { return r.Id(); }));
}

Status RepoClient::FetchWal(const std::string& target, Lsn from, Lsn upto,
                            const std::function<Status(std::span<const uint8_t>)>& sink) {
  ZENITH_RETURN_IF_ERROR(CheckToken(target));
  uint64_t received = 0;
  ZENITH_RETURN_IF_ERROR(conn_->CopyOut("wal " + target + " " + from.ToString() + " " + upto.ToString(),
                                        [&](std::span<const uint8_t> chunk) {
                                          received += chunk.size();
                                          if (received > upto - from) return ProtocolError("wal: more bytes than asked for");
                                          return sink(chunk);
                                        }));
  if (received != upto - from) {
    return ProtocolError("wal: " + std::to_string(received) + " bytes, not " + std::to_string(upto - from));
  }
  return Status::Ok();
}

Result<std::vector<TimelineGc>> RepoClient::CollectGarbage(const std::string& window) {
  std::vector<std::string> params;
  if (!window.empty()) params.push_back(window);
  ZENITH_ASSIGN_OR_RETURN(auto rows, QueryRows(*conn_, window.empty() ? "gc" : "gc $1", params, 16));
  return ParseRows<TimelineGc>("gc", rows, [](RowReader& r) {
    TimelineGc t;
    t.branch = r.Text();
    t.timeline = r.Id();
    t.cutoff = r.LsnOrInvalid();
    t.deleted = r.Flag();
    t.layers_merged = r.Number();
    t.merges = r.Number();
    t.images = r.Number();
    t.compacted_bytes_removed = r.Number();
    t.layers_removed = r.Number();
    t.layer_bytes_removed = r.Number();
    t.wal_removed = r.Number();
    t.wal_bytes_removed = r.Number();
    t.layers_left = r.Number();
    t.layer_bytes_left = r.Number();
    t.wal_left = r.Number();
    t.wal_bytes_left = r.Number();
    return t;
  });
}

Status FetchWalSegments(RepoClient& client, const std::string& timeline, Lsn from, Lsn upto, const std::string& dir) {
  WalSegmentWriter writer(dir, WalSegmentWriter::Existing::kReplace);
  Lsn at = from.segment_start();
  return client.FetchWal(timeline, at, upto, [&](std::span<const uint8_t> chunk) {
    Status s = writer.Write(at, chunk);
    at = at + chunk.size();
    return s;
  });
}

}  // namespace zenith::pageserver
