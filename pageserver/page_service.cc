#include "pageserver/page_service.h"

#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <array>
#include <charconv>
#include <cstdio>
#include <filesystem>

#include "common/byte_io.h"
#include "common/duration.h"
#include "pageserver/api/page_protocol.h"
#include "pageserver/api/wal_stream_protocol.h"
#include "pageserver/metrics/server_metrics.h"
#include "pageserver/repo/basebackup.h"
#include "pageserver/repo/changed_blocks.h"
#include "pageserver/repo/snapshot_put.h"
#include "pageserver/repo/wal_receiver.h"

namespace zenith::pageserver {

namespace {

using Row = CommandContext::Row;

Result<Lsn> ParseLsnArg(const std::string& text) {
  auto lsn = Lsn::Parse(text);
  if (!lsn) return InvalidArgument("'" + text + "' is not an LSN; LSNs look like 0/16B3748");
  return *lsn;
}

std::string Hex(const TimelineId& id) { return id.ToString(); }

Result<int64_t> ParsePidArg(const std::string& text) {
  int64_t pid = 0;
  auto [end, err] = std::from_chars(text.data(), text.data() + text.size(), pid);
  if (err != std::errc() || end != text.data() + text.size() || pid <= 0) {
    return InvalidArgument("'" + text + "' is not a process id");
  }
  return pid;
}

// WAL sent by `wal` at most per CopyData message.
constexpr size_t kWalChunkBytes = 1 << 20;

Result<std::optional<int64_t>> ParseWindowArg(const CommandContext& ctx) {
  if (ctx.args().empty()) return std::optional<int64_t>();
  auto seconds = ParseDuration(ctx.args()[0]);
  if (!seconds) {
    return InvalidArgument("'" + ctx.args()[0] + "' is not a duration; write it like 7d, 12h, 30m or 45s");
  }
  return std::optional<int64_t>(*seconds);
}

std::string Count(uint64_t n) { return std::to_string(n); }

constexpr std::chrono::milliseconds kRemoteWalWait{30000};

// 128 random bits, hex: a lease's token.
Result<std::string> RandomToken() {
  uint8_t raw[16];
  if (RAND_bytes(raw, sizeof raw) != 1) return Internal("OpenSSL could not make a lease token");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (uint8_t b : raw) out += {kHex[b >> 4], kHex[b & 15]};
  return out;
}

bool SameToken(std::string_view a, std::string_view b) {
  return !a.empty() && a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

// The one place a session's role is checked: before any command runs.
Status CheckRole(const Session& session, RoleSet allowed, const std::string& command) {
  if (RoleIn(session.role(), allowed)) return Status::Ok();
  return PermissionDenied(command + ": permission denied for role " + std::string(RoleName(session.role())) +
                          "; only the repository's owner (role zenith) may run it");
}

// A client on another machine names its directory "HOST:PATH"
// (RemoteMountpointLabel): never a path of this machine, which the owner's
// `zenith status`, `stop` and `umount` would act on.
Status CheckMountpoint(const Session& session, const std::string& mountpoint) {
  const size_t colon = mountpoint.find(':');
  if (session.local() || (colon != std::string::npos && colon > 0 && mountpoint.find('/') > colon)) {
    return Status::Ok();
  }
  return InvalidArgument("a mount over TCP names its directory HOST:PATH, not '" + mountpoint + "'");
}

class PageService {
 public:
  PageService(Repository& repo, PageServiceOptions options)
      : repo_(repo), options_(options), receivers_(std::make_shared<WalReceivers>()) {}

  Status Status_(CommandContext& ctx) {
    std::vector<Row> rows = {
        Row{"version", "zenith 0.1 (PostgreSQL 15)"},
        Row{"repository", repo_.layout().root},
        Row{"system_id", std::to_string(repo_.config().system_id)},
        Row{"pid", std::to_string(getpid())},
        Row{"timelines_loaded", std::to_string(repo_.loaded_timelines())},
        Row{"mounts", std::to_string(repo_.Mounts().size())},
    };
    if (options_.history != nullptr) {
      const HistoryHealth health = options_.history->Health();
      AddRunRows("compaction_", health.compaction, &rows);
      AddRunRows("gc_", health.gc, &rows);
    }
    return ctx.SendRows(rows);
  }

  static void AddRunRows(const std::string& prefix, const HistoryRunHealth& run, std::vector<Row>* rows) {
    rows->push_back(Row{prefix + "last_run", std::to_string(run.last_run)});
    rows->push_back(Row{prefix + "failing_runs", std::to_string(run.failing_runs)});
    rows->push_back(Row{prefix + "failing_since", std::to_string(run.failing_since)});
    rows->push_back(Row{prefix + "problem", run.problem});
  }

  Status BranchList(CommandContext& ctx) {
    ZENITH_ASSIGN_OR_RETURN(auto branches, repo_.ListBranches());
    std::vector<Row> rows;
    for (const auto& b : branches) {
      ZENITH_ASSIGN_OR_RETURN(auto tl, repo_.FindTimeline(Hex(b.timeline)));
      Row row{b.name, Hex(b.timeline), std::nullopt, std::nullopt};
      if (tl->ancestor()) row = Row{b.name, Hex(b.timeline), Hex(tl->ancestor()->id()), tl->ancestor_lsn().ToString()};
      rows.push_back(std::move(row));
    }
    return ctx.SendRows(rows);
  }

  Status BranchCreate(CommandContext& ctx) {
    ZENITH_ASSIGN_OR_RETURN(auto created, repo_.CreateBranch(ctx.args()[0], ctx.args()[1]));
    return ctx.SendRows({Row{created.name, Hex(created.timeline), created.lsn.ToString(),
                             created.at_end_of_wal ? "t" : "f"}});
  }

  // branch_prepare <name> <parent>[@<lsn>]: NEW's timeline, no ref yet,
  // held by this connection until branch_publish (repository.h); abandoned
  // when the connection ends first.
  Status BranchPrepare(CommandContext& ctx) {
    const uint64_t session = ctx.session().id();
    ZENITH_ASSIGN_OR_RETURN(auto created, repo_.PrepareBranch(ctx.args()[0], ctx.args()[1], session));
    Repository* repo = &repo_;
    ctx.session().OnClose([repo, session] { repo->AbandonPrepared(session); });
    return ctx.SendRows({Row{created.name, Hex(created.timeline), created.lsn.ToString()}});
  }

  Status BranchPublish(CommandContext& ctx) {
    ZENITH_ASSIGN_OR_RETURN(auto published, repo_.PublishBranch(ctx.args()[0], ctx.session().id()));
    return ctx.SendRows({Row{published.name, Hex(published.timeline), published.readable_from.ToString()}});
  }

  Status BranchDetach(CommandContext& ctx) {
    ZENITH_ASSIGN_OR_RETURN(auto d, repo_.DetachBranch(ctx.args()[0]));
    char seconds[32];
    std::snprintf(seconds, sizeof seconds, "%.3f", d.seconds);
    return ctx.SendRows({Row{d.name, Hex(d.timeline), d.parent, d.image_lsn.ToString(), std::to_string(d.image_bytes),
                             std::to_string(d.wal_bytes), seconds}});
  }

  // branch_reset <name> <to> <keep>: `to` PARENT[@LSN] or "" (the
  // parent's end of WAL), `keep` a new name for the old state or "".
  Status BranchReset(CommandContext& ctx) {
    const auto& args = ctx.args();
    ZENITH_ASSIGN_OR_RETURN(auto reset, repo_.ResetBranch(args[0], args[1], args[2]));
    return ctx.SendRows({Row{args[0], Hex(reset.new_timeline), Hex(reset.old_timeline), reset.parent,
                             reset.lsn.ToString(), reset.at_end_of_wal ? "t" : "f"}});
  }

  Status TimelineDescribe(CommandContext& ctx) {
    ZENITH_ASSIGN_OR_RETURN(auto tl, repo_.FindTimeline(ctx.args()[0]));
    ZENITH_ASSIGN_OR_RETURN(Lsn end, tl->EndOfWal());
    auto view = tl->ViewAt(end);
    Row row{Hex(tl->id()), repo_.BranchOf(tl->id()), std::nullopt, std::nullopt, end.ToString(), std::nullopt};
    if (tl->ancestor()) {
      row[2] = Hex(tl->ancestor()->id());
      row[3] = tl->ancestor_lsn().ToString();
    }
    if (view->newest()) row[5] = view->newest()->lsns().valid.ToString();
    return ctx.SendRows({row});
  }

  Status SnapshotList(CommandContext& ctx) {
    ZENITH_ASSIGN_OR_RETURN(auto tl, repo_.FindTimeline(ctx.args()[0]));
    ZENITH_ASSIGN_OR_RETURN(Lsn end, tl->EndOfWal());
    std::vector<Row> rows;
    auto view = tl->ViewAt(end);  // owns the layers the loop walks
    for (const auto& layer : view->layers()) {
      const SnapshotLsns& l = layer->lsns();
      rows.push_back(Row{Hex(layer->timeline_id()), l.redo.ToString(), l.checkpoint.ToString(), l.valid.ToString(),
                         std::to_string(layer->page_count())});
    }
    return ctx.SendRows(rows);
  }

  Status Basebackup(CommandContext& ctx) {
    std::vector<std::string> args = ctx.args();
    const bool pin = args.size() > 1 && args.back() == "pin";
    if (pin) args.pop_back();
    if (args.size() > 2) return UsageError(ctx.usage());
    ZENITH_ASSIGN_OR_RETURN(auto tl, repo_.FindTimeline(args[0]));
    Lsn lsn;
    if (args.size() == 2) {
      ZENITH_ASSIGN_OR_RETURN(lsn, ParseLsnArg(args[1]));
      ZENITH_RETURN_IF_ERROR(tl->WaitForWal(lsn, options_.wal_wait_timeout));
    } else {
      ZENITH_ASSIGN_OR_RETURN(lsn, tl->EndOfWal());
    }
    auto view = tl->ViewAt(lsn);
    const LayerFile* layer = view->newest();
    if (layer == nullptr) return NotFound("no snapshot of timeline " + Hex(tl->id()) + " is visible at " + lsn.ToString());
    // Pinned before anything is sent: compaction cannot merge it away
    // between this basebackup and the mount's first GetPage.
    if (pin) ZENITH_RETURN_IF_ERROR(PinFor(ctx, *tl, layer->lsns().valid));
    ZENITH_RETURN_IF_ERROR(ctx.StartCopyOut());
    return WriteBasebackup(MakeManifest(tl->id(), *layer, repo_.config().system_id), *layer, lsn,
                           [&](std::span<const uint8_t> bytes) { return ctx.CopyData(bytes); });
  }

  Status PageStream(CommandContext& ctx) {
    if (ctx.args().size() == 2 && ctx.args()[1] != "exact") return UsageError(ctx.usage());
    ZENITH_ASSIGN_OR_RETURN(auto tl, repo_.FindTimeline(ctx.args()[0]));
    ZENITH_RETURN_IF_ERROR(ctx.StartCopyBoth());
    PageStreamState state{tl};
    state.exact = ctx.args().size() == 2;
    std::string reply;
    for (;;) {
      ZENITH_ASSIGN_OR_RETURN(auto msg, ctx.ReadCopyData());
      if (!msg) return Status::Ok();
      ZENITH_ASSIGN_OR_RETURN(PageRequest req, DecodePageRequest(AsBytes(*msg)));
      const auto started = std::chrono::steady_clock::now();
      reply.clear();
      std::span<const uint8_t> page;
      Status s = ServePageRequest(state, req, &reply, &page);
      if (!s.ok()) {
        reply.clear();
        AppendErrorReply(&reply, s.message());
        page = {};
      }
      ZENITH_RETURN_IF_ERROR(page.empty() ? ctx.CopyData(AsBytes(reply)) : ctx.CopyData({PageReplyHead(), page}));
      CountPageRequest(req.kind, s.ok(), std::chrono::steady_clock::now() - started,
                       page.empty() ? reply.size() : PageReplyHead().size() + page.size());
    }
  }

  // layer_files <branch|timeline> <lsn>: the files a mount reading at that
  // snapshot may open and read itself, as GetPage@LSN would (SnapshotView).
  // Each row names the layer's timeline and valid LSN, which the client
  // checks against the file it opens. The files stay while the snapshot is
  // pinned, or until compaction replaces them by merged ones holding the same
  // pages: a client that finds one gone asks again.
  Status LayerFiles(CommandContext& ctx) {
    if (!ctx.session().local()) {
      return PermissionDenied("layer_files: only for a client on the page server's machine, over its Unix socket");
    }
    ZENITH_ASSIGN_OR_RETURN(auto tl, repo_.FindTimeline(ctx.args()[0]));
    ZENITH_ASSIGN_OR_RETURN(Lsn lsn, ParseLsnArg(ctx.args()[1]));
    auto view = tl->ViewAt(lsn);
    if (view->newest() == nullptr || view->newest()->lsns().valid != lsn) {
      return NotFound("no snapshot of timeline " + Hex(tl->id()) + " is valid at " + lsn.ToString());
    }
    if (view->any_remote()) {
      // The mount reads such a view through GetPage, which fetches from
      // the bucket what no local file holds.
      return NotFound("the snapshot of timeline " + Hex(tl->id()) + " at " + lsn.ToString() +
                      " has layers in the bucket only");
    }
    std::vector<Row> rows;
    for (const auto& layer : view->layers()) {
      layer->Touch();  // the mount reads it from now on, unseen by the cache's clock
      std::error_code ec;
      const std::filesystem::path path = std::filesystem::absolute(layer->path(), ec);
      rows.push_back(Row{ec ? layer->path() : path.string(), Hex(layer->timeline_id()), layer->lsns().valid.ToString()});
    }
    return ctx.SendRows(rows);
  }

  Status PutSnapshot(CommandContext& ctx) {
    ZENITH_ASSIGN_OR_RETURN(auto tl, repo_.FindTimeline(ctx.args()[0]));
    ZENITH_RETURN_IF_ERROR(CheckLease(ctx, tl->id(), ctx.args().size() == 2 ? ctx.args()[1] : ""));
    ZENITH_RETURN_IF_ERROR(ctx.StartCopyIn());
    // A remote compute's snapshot may come before its WAL has.
    const std::chrono::milliseconds wal_wait = receivers_->Receiving(tl->id()) ? kRemoteWalWait : std::chrono::milliseconds(0);
    ZENITH_RETURN_IF_ERROR(
        ReceiveSnapshot(*tl, repo_.config().system_id, [&] { return ctx.ReadCopyData(); }, wal_wait).status());
    if (options_.history != nullptr) options_.history->NotifyNewLayer();
    return Status::Ok();
  }

  Status PrepareWal(CommandContext& ctx) {
    ZENITH_ASSIGN_OR_RETURN(auto tl, repo_.FindTimeline(ctx.args()[0]));
    ZENITH_ASSIGN_OR_RETURN(Lsn from, ParseLsnArg(ctx.args()[1]));
    ZENITH_RETURN_IF_ERROR(tl->PrepareWal(from));
    return ctx.SendOk("PREPARE_WAL");
  }

  Status Attach(CommandContext& ctx) {
    ZENITH_ASSIGN_OR_RETURN(auto tl, repo_.FindTimeline(ctx.args()[0]));
    ZENITH_RETURN_IF_ERROR(CheckMountpoint(ctx.session(), ctx.args()[1]));
    ZENITH_ASSIGN_OR_RETURN(int64_t pid, ParsePidArg(ctx.args()[2]));
    ZENITH_ASSIGN_OR_RETURN(std::string token, RandomToken());
    const uint64_t session = ctx.session().id();
    MountInfo lease{tl->id(), repo_.BranchOf(tl->id()), ctx.args()[1], pid, session};
    lease.lease_token = token;
    ZENITH_RETURN_IF_ERROR(repo_.Attach(lease));
    Repository* repo = &repo_;
    TimelineId id = tl->id();
    // The lease ends: its WAL stream writes nothing more before the next
    // mount may take the lease.
    ctx.session().OnClose([repo, id, session, receivers = receivers_] {
      receivers->EndLease(id, session);
      repo->Detach(id, session);
    });
    return ctx.SendRows({Row{token}});
  }

  // wal_token <branch|timeline>: a secret with which another connection
  // of this mount may stream the timeline's WAL (put_wal) while the lease
  // this connection holds lasts (pageserver/api/wal_stream_protocol.h).
  Status WalToken(CommandContext& ctx) {
    ZENITH_ASSIGN_OR_RETURN(auto tl, repo_.FindTimeline(ctx.args()[0]));
    const uint64_t session = ctx.session().id();
    const std::optional<MountInfo> lease = LeaseOf(tl->id());
    if (!lease || lease->session != session) {
      return Busy("wal_token: this connection does not hold the mount lease of timeline " + tl->id().ToString() +
                  "; attach first");
    }
    const std::string token = receivers_->IssueToken(tl->id(), session);
    if (token.empty()) return Internal("could not make a WAL token");
    return ctx.SendRows({Row{token}});
  }

  // put_wal <branch|timeline> <token>: a remote compute's WAL, forwarded by
  // its mount (wal_receiver.h): each chunk durable before its answer.
  Status PutWal(CommandContext& ctx) {
    ZENITH_ASSIGN_OR_RETURN(auto tl, repo_.FindTimeline(ctx.args()[0]));
    ZENITH_ASSIGN_OR_RETURN(auto stream, receivers_->Open(tl, ctx.args()[1]));
    ZENITH_RETURN_IF_ERROR(ctx.StartCopyBoth());
    std::string reply;
    AppendWalPosition(&reply, stream->start());
    ZENITH_RETURN_IF_ERROR(ctx.CopyData(AsBytes(reply)));
    for (;;) {
      ZENITH_ASSIGN_OR_RETURN(auto msg, ctx.ReadCopyData());  // flushes the answers first
      if (!msg) return Status::Ok();
      ZENITH_ASSIGN_OR_RETURN(WalChunk chunk, DecodeWalChunk(AsBytes(*msg)));
      ZENITH_ASSIGN_OR_RETURN(Lsn flushed, stream->WriteDurably(chunk.at, chunk.bytes));
      reply.clear();
      AppendWalPosition(&reply, flushed);
      ZENITH_RETURN_IF_ERROR(ctx.CopyData(AsBytes(reply)));
    }
  }

  // point <branch|timeline> [<lsn>|<time>]: where a read of that point
  // goes (Repository::ResolvePoint).
  Status Point(CommandContext& ctx) {
    ZENITH_ASSIGN_OR_RETURN(auto point, repo_.ResolvePoint(ctx.args()[0], ctx.args().size() == 2 ? ctx.args()[1] : ""));
    return ctx.SendRows({Row{Hex(point.timeline->id()), point.lsn.ToString()}});
  }

  // attach_readonly <branch|timeline> <lsn> <mountpoint> <pid>: registers
  // a read-only mount of that point for this connection's life; the
  // timeline whose history the point is.
  Status AttachReadOnly(CommandContext& ctx) {
    const auto& args = ctx.args();
    ZENITH_ASSIGN_OR_RETURN(Lsn lsn, ParseLsnArg(args[1]));
    ZENITH_RETURN_IF_ERROR(CheckMountpoint(ctx.session(), args[2]));
    ZENITH_ASSIGN_OR_RETURN(int64_t pid, ParsePidArg(args[3]));
    ZENITH_ASSIGN_OR_RETURN(auto point, repo_.ResolvePoint(args[0], lsn.ToString()));
    if (point.lsn != lsn) return InvalidArgument("LSN " + lsn.ToString() + " is not a record end; `point` gives one");
    std::string branch = repo_.BranchOf(point.timeline->id());
    if (auto named = repo_.FindTimeline(args[0]); named.ok() && !repo_.BranchOf((*named)->id()).empty()) {
      branch = repo_.BranchOf((*named)->id());
    }
    const uint64_t session = ctx.session().id();
    ZENITH_RETURN_IF_ERROR(repo_.AttachReadOnly(MountInfo{point.timeline->id(), branch, args[2], pid, session, true, lsn}));
    Repository* repo = &repo_;
    ctx.session().OnClose([repo, session] { repo->DetachReadOnly(session); });
    return ctx.SendRows({Row{Hex(point.timeline->id())}});
  }

  // changes <a> <lsn> <b> <lsn>: the relation forks whose blocks changed
  // between two points (changed_blocks.h), each point as `point` gives it.
  Status Changes(CommandContext& ctx) {
    const auto& args = ctx.args();
    ZENITH_ASSIGN_OR_RETURN(TimelinePoint a, ExactPoint(args[0], args[1]));
    ZENITH_ASSIGN_OR_RETURN(TimelinePoint b, ExactPoint(args[2], args[3]));
    ZENITH_ASSIGN_OR_RETURN(TimelinePoint common, CommonPoint(a, b));
    ZENITH_ASSIGN_OR_RETURN(auto changed, ChangedBlocks(a, b, repo_.config().system_id));
    std::vector<Row> rows;
    rows.reserve(changed.size() + 1);
    // The first row is the common point itself (no relation).
    rows.push_back(Row{Hex(common.timeline->id()), common.lsn.ToString(), "", "", "", "", ""});
    for (const ChangedRelation& c : changed) {
      rows.push_back(Row{"", "", std::to_string(c.tag.spc), std::to_string(c.tag.db), std::to_string(c.tag.rel),
                         std::to_string(static_cast<int>(c.tag.fork)), std::to_string(c.blocks)});
    }
    return ctx.SendRows(rows);
  }

  // A point of `target`'s history at `lsn_arg`, which must be a record end
  // inside the history kept (as `point` returns them).
  Result<TimelinePoint> ExactPoint(const std::string& target, const std::string& lsn_arg) {
    ZENITH_ASSIGN_OR_RETURN(Lsn lsn, ParseLsnArg(lsn_arg));
    ZENITH_ASSIGN_OR_RETURN(auto point, repo_.ResolvePoint(target, lsn.ToString()));
    if (point.lsn != lsn) return InvalidArgument("LSN " + lsn.ToString() + " is not a record end; `point` gives one");
    return TimelinePoint{point.timeline, point.lsn};
  }

  // wal <branch|timeline> <from> <upto>: the timeline's WAL bytes in
  // [from, upto), as a compute on it reads them (its ancestor's before the
  // branch point), for a mount that keeps its own copy.
  Status Wal(CommandContext& ctx) {
    ZENITH_ASSIGN_OR_RETURN(auto tl, repo_.FindTimeline(ctx.args()[0]));
    ZENITH_ASSIGN_OR_RETURN(Lsn from, ParseLsnArg(ctx.args()[1]));
    ZENITH_ASSIGN_OR_RETURN(Lsn upto, ParseLsnArg(ctx.args()[2]));
    if (upto < from) return InvalidArgument("wal: " + upto.ToString() + " is before " + from.ToString());
    ZENITH_ASSIGN_OR_RETURN(Lsn end, tl->EndOfWal());
    if (upto > end) return InvalidArgument("LSN " + upto.ToString() + " is beyond the end of WAL " + end.ToString());
    const WalReadFn read = tl->MakeWalReader();
    std::vector<uint8_t> buf(kWalChunkBytes);
    ZENITH_RETURN_IF_ERROR(ctx.StartCopyOut());
    for (Lsn pos = from; pos < upto;) {
      const size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), upto - pos));
      ZENITH_ASSIGN_OR_RETURN(size_t got, read(pos, std::span(buf).first(want)));
      if (got == 0) return NotFound("WAL at " + pos.ToString() + " of timeline " + Hex(tl->id()) + " is gone");
      ZENITH_RETURN_IF_ERROR(ctx.CopyData(std::span<const uint8_t>(buf).first(got)));
      pos = pos + got;
    }
    return Status::Ok();
  }

  Status Pin(CommandContext& ctx) {
    if (ctx.args().size() == 3 && ctx.args()[2] != "pages") return UsageError(ctx.usage());
    ZENITH_ASSIGN_OR_RETURN(auto tl, repo_.FindTimeline(ctx.args()[0]));
    ZENITH_ASSIGN_OR_RETURN(Lsn lsn, ParseLsnArg(ctx.args()[1]));
    ZENITH_RETURN_IF_ERROR(PinFor(ctx, *tl, lsn, /*wal=*/ctx.args().size() == 2));
    return ctx.SendOk("PIN");
  }

  Status Unpin(CommandContext& ctx) {
    ZENITH_ASSIGN_OR_RETURN(auto tl, repo_.FindTimeline(ctx.args()[0]));
    ZENITH_ASSIGN_OR_RETURN(Lsn lsn, ParseLsnArg(ctx.args()[1]));
    repo_.Unpin(ctx.session().id(), tl->id(), lsn);
    return ctx.SendOk("UNPIN");
  }

  Status BranchDelete(CommandContext& ctx) {
    ZENITH_RETURN_IF_ERROR(repo_.DeleteBranch(ctx.args()[0]));
    return ctx.SendOk("BRANCH_DELETE");
  }

  Status BranchInfo(CommandContext& ctx) {
    ZENITH_ASSIGN_OR_RETURN(History * history, RequireHistory());
    ZENITH_ASSIGN_OR_RETURN(auto branches, history->DescribeBranches());
    std::vector<Row> rows;
    auto lsn = [](Lsn l) -> std::optional<std::string> { return l.valid() ? std::optional(l.ToString()) : std::nullopt; };
    for (const auto& b : branches) {
      rows.push_back(Row{b.name, Hex(b.timeline), b.parent.empty() ? std::nullopt : std::optional(b.parent),
                         lsn(b.branch_lsn), lsn(b.end_of_wal), lsn(b.oldest_lsn), Count(b.logical_size),
                         Count(b.own_bytes), Count(b.exclusive_bytes), Count(b.layers)});
    }
    return ctx.SendRows(rows);
  }

  Status Compact(CommandContext& ctx) {
    ZENITH_ASSIGN_OR_RETURN(auto window, ParseWindowArg(ctx));
    ZENITH_ASSIGN_OR_RETURN(History * history, RequireHistory());
    ZENITH_ASSIGN_OR_RETURN(CompactionReport r, history->Compact(window));
    const CompactionCounts& c = r.total;
    return ctx.SendRows({Row{Count(c.merges), Count(c.layers_merged), Count(c.images), Count(c.bytes_written),
                             Count(c.bytes_removed)}});
  }

  Status Gc(CommandContext& ctx) {
    ZENITH_ASSIGN_OR_RETURN(auto window, ParseWindowArg(ctx));
    ZENITH_ASSIGN_OR_RETURN(History * history, RequireHistory());
    ZENITH_ASSIGN_OR_RETURN(GcReport r, history->CollectGarbage(window));
    std::vector<Row> rows;
    for (const auto& t : r.timelines) {
      rows.push_back(Row{t.branch, Hex(t.timeline), t.cutoff.valid() ? std::optional(t.cutoff.ToString()) : std::nullopt,
                         t.deleted ? "t" : "f", Count(t.compaction.layers_merged), Count(t.compaction.merges),
                         Count(t.compaction.images), Count(t.compaction.bytes_removed),
                         Count(t.layers_removed), Count(t.layer_bytes_removed),
                         Count(t.wal_removed), Count(t.wal_bytes_removed), Count(t.layers_left), Count(t.layer_bytes_left),
                         Count(t.wal_left), Count(t.wal_bytes_left)});
    }
    return ctx.SendRows(rows);
  }

  // A mount's keepalive: its figures, kept with the mount this session
  // registered (the metrics show them) until the session ends.
  Status MountStats_(CommandContext& ctx) {
    ZENITH_ASSIGN_OR_RETURN(MountStats stats, DecodeMountStats(ctx.args()));
    ZENITH_RETURN_IF_ERROR(repo_.SetMountStats(ctx.session().id(), stats));
    return ctx.SendOk("MOUNT_STATS");
  }

  Status Mounts(CommandContext& ctx) {
    std::vector<Row> rows;
    for (const auto& m : repo_.Mounts()) {
      std::string pinned;
      for (const PinInfo& p : repo_.Pins()) {
        if (p.session == m.session) pinned += (pinned.empty() ? "" : " ") + p.lsn.ToString() + (p.wal ? "+wal" : "");
      }
      rows.push_back(Row{Hex(m.timeline), m.branch, m.mountpoint, std::to_string(m.pid), pinned,
                         m.read_only ? "read-only" : "read-write", m.read_only ? m.point.ToString() : std::string()});
    }
    return ctx.SendRows(rows);
  }

 private:
  std::optional<MountInfo> LeaseOf(const TimelineId& id) const {
    for (const auto& m : repo_.Mounts()) {
      if (m.timeline == id && !m.read_only) return m;
    }
    return std::nullopt;
  }

  // Only the mount holding a timeline's lease writes it, whatever the role:
  // on the lease's own connection, or on another presenting its token (a
  // mount uploads on a connection of its own, docs/design.md §8).
  Status CheckLease(CommandContext& ctx, const TimelineId& id, std::string_view token) const {
    const std::optional<MountInfo> lease = LeaseOf(id);
    if (lease && (lease->session == ctx.session().id() || SameToken(lease->lease_token, token))) return Status::Ok();
    return PermissionDenied("put_snapshot: this connection does not hold the mount lease of timeline " + Hex(id) +
                            "; only the mount holding it stores snapshots there");
  }

  Result<History*> RequireHistory() const {
    if (options_.history == nullptr) return Unavailable("this server does not compact or collect history");
    return options_.history;
  }

  // Pins for the session; released when it ends.
  Status PinFor(CommandContext& ctx, const Timeline& tl, Lsn lsn, bool wal = true) {
    const uint64_t session = ctx.session().id();
    ZENITH_RETURN_IF_ERROR(repo_.Pin(session, tl, lsn, wal));
    Repository* repo = &repo_;
    ctx.session().OnClose([repo, session] { repo->Unpin(session); });
    return Status::Ok();
  }

  // A pagestream's cached view: requests of one mount all carry one LSN.
  struct PageStreamState {
    std::shared_ptr<Timeline> timeline;
    std::shared_ptr<const SnapshotView> view;
    Lsn known_end;  // the end of WAL is at least this
    bool exact = false;  // every LSN must be a snapshot's valid
    std::array<uint8_t, kBlockSize> scratch;  // a page read from the bucket
  };

  // A GetPage's answer is *page (in a layer the view holds); any other
  // answer is appended to *reply.
  Status ServePageRequest(PageStreamState& st, const PageRequest& req, std::string* reply,
                          std::span<const uint8_t>* page) {
    if (req.lsn > st.known_end) {
      ZENITH_RETURN_IF_ERROR(st.timeline->WaitForWal(req.lsn, options_.wal_wait_timeout));
      st.known_end = req.lsn;
    }
    if (!st.view || st.view->lsn() != req.lsn) {
      auto view = st.timeline->ViewAt(req.lsn);
      if (st.exact && (view->newest() == nullptr || view->newest()->lsns().valid != req.lsn)) {
        // A mount reads at its snapshot's valid; any other view would hand
        // it pages of another state.
        return NotFound("no snapshot of timeline " + Hex(st.timeline->id()) + " is valid at " + req.lsn.ToString() +
                        " any more; unmount and mount again");
      }
      st.view = std::move(view);
    }
    switch (req.kind) {
      case PageRequestKind::kGetPage: {
        ZENITH_ASSIGN_OR_RETURN(*page, st.view->GetPage(req.rel, req.block, st.scratch));
        return Status::Ok();
      }
      case PageRequestKind::kNblocks: {
        auto size = st.view->RelationSize(req.rel);
        if (!size) return NotFound("relation " + req.rel.ToString() + " does not exist at " + req.lsn.ToString());
        AppendNblocksReply(reply, *size);
        return Status::Ok();
      }
      case PageRequestKind::kExists:
        AppendExistsReply(reply, st.view->RelationSize(req.rel).has_value());
        return Status::Ok();
    }
    return InvalidArgument("unknown page request");
  }

  Repository& repo_;
  const PageServiceOptions options_;
  const std::shared_ptr<WalReceivers> receivers_;
};

}  // namespace

CommandTable MakePageServiceCommands(Repository& repo, PageServiceOptions options) {
  auto service = std::make_shared<PageService>(repo, options);
  CommandTable table;
  // Each entry names the roles that may run it (role.h): a compute gets
  // what a mount needs, the owner everything.
  auto add = [&](RoleSet roles, std::string name, std::string usage, std::vector<std::string> columns,
                 Status (PageService::*method)(CommandContext&)) {
    table.Add(CommandSpec{name, std::move(usage), std::move(columns),
                          [service, method, roles, name](CommandContext& ctx) {
                            ZENITH_RETURN_IF_ERROR(CheckRole(ctx.session(), roles, name));
                            return (service.get()->*method)(ctx);
                          }});
  };
  constexpr RoleSet kOwner = kOwnerOnly, kMount = kOwnerAndCompute;
  add(kMount, "status", "status", {"name", "value"}, &PageService::Status_);
  add(kOwner, "branch_list", "branch_list", {"name", "timeline_id", "ancestor_timeline_id", "ancestor_lsn"},
      &PageService::BranchList);
  add(kOwner, "branch_create", "branch_create <name> <parent>[@<lsn>]", {"name", "timeline_id", "lsn", "at_end_of_wal"},
      &PageService::BranchCreate);
  add(kOwner, "branch_prepare", "branch_prepare <name> <parent>[@<lsn>]", {"name", "timeline_id", "lsn"},
      &PageService::BranchPrepare);
  add(kOwner, "branch_publish", "branch_publish <name>", {"name", "timeline_id", "readable_from"},
      &PageService::BranchPublish);
  add(kOwner, "branch_detach", "branch_detach <name>",
      {"name", "timeline_id", "parent", "image_lsn", "image_bytes", "wal_bytes", "seconds"}, &PageService::BranchDetach);
  add(kOwner, "branch_reset", "branch_reset <name> <parent>[@<lsn>]|'' <keep>|''",
      {"name", "timeline_id", "old_timeline_id", "parent", "lsn", "at_end_of_wal"}, &PageService::BranchReset);
  add(kMount, "timeline_describe", "timeline_describe <branch|timeline>",
      {"timeline_id", "branch", "ancestor_timeline_id", "ancestor_lsn", "end_of_wal", "latest_snapshot"},
      &PageService::TimelineDescribe);
  add(kOwner, "snapshot_list", "snapshot_list <branch|timeline>", {"timeline_id", "redo", "checkpoint", "valid", "pages"},
      &PageService::SnapshotList);
  add(kMount, "basebackup", "basebackup <branch|timeline> [<lsn>] [pin]", {}, &PageService::Basebackup);
  add(kMount, "pagestream", "pagestream <branch|timeline> [exact]", {}, &PageService::PageStream);
  add(kOwner, "layer_files", "layer_files <branch|timeline> <lsn>", {"path", "timeline_id", "valid"},
      &PageService::LayerFiles);
  add(kMount, "put_snapshot", "put_snapshot <branch|timeline> [<lease token>]", {}, &PageService::PutSnapshot);
  add(kMount, "prepare_wal", "prepare_wal <branch|timeline> <lsn>", {}, &PageService::PrepareWal);
  add(kMount, "attach", "attach <branch|timeline> <mountpoint> <pid>", {"lease_token"}, &PageService::Attach);
  add(kMount, "wal_token", "wal_token <branch|timeline>", {"token"}, &PageService::WalToken);
  add(kMount, "put_wal", "put_wal <branch|timeline> <token>", {}, &PageService::PutWal);
  add(kMount, "mounts", "mounts", {"timeline_id", "branch", "mountpoint", "pid", "pinned", "mode", "point"},
      &PageService::Mounts);
  add(kMount, "mount_stats", "mount_stats [<key>=<value> ...]", {}, &PageService::MountStats_);
  add(kMount, "point", "point <branch|timeline> [<lsn>|<time>]", {"timeline_id", "lsn"}, &PageService::Point);
  add(kMount, "attach_readonly", "attach_readonly <branch|timeline> <lsn> <mountpoint> <pid>", {"timeline_id"},
      &PageService::AttachReadOnly);
  add(kMount, "wal", "wal <branch|timeline> <from> <upto>", {}, &PageService::Wal);
  add(kOwner, "changes", "changes <branch|timeline> <lsn> <branch|timeline> <lsn>",
      {"common_timeline_id", "common_lsn", "tablespace", "database", "relfilenode", "fork", "blocks"},
      &PageService::Changes);
  add(kMount, "pin", "pin <branch|timeline> <lsn> [pages]", {}, &PageService::Pin);
  add(kMount, "unpin", "unpin <branch|timeline> <lsn>", {}, &PageService::Unpin);
  add(kOwner, "branch_delete", "branch_delete <name>", {}, &PageService::BranchDelete);
  add(kOwner, "branch_info", "branch_info",
      {"name", "timeline_id", "parent", "branch_lsn", "end_of_wal", "oldest_lsn", "logical_size", "own_bytes",
       "exclusive_bytes", "layers"},
      &PageService::BranchInfo);
  add(kOwner, "compact", "compact [<window>]", {"merges", "layers_merged", "images", "bytes_written", "bytes_removed"},
      &PageService::Compact);
  add(kOwner, "gc", "gc [<window>]",
      {"branch", "timeline_id", "cutoff", "deleted", "layers_merged", "merges", "images", "compacted_bytes_removed",
       "layers_removed", "layer_bytes_removed", "wal_removed",
       "wal_bytes_removed", "layers_left", "layer_bytes_left", "wal_left", "wal_bytes_left"},
      &PageService::Gc);
  return table;
}

}  // namespace zenith::pageserver
