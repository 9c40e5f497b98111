// put_snapshot with real snapshots: a branch is restored through the page
// server (basebackup + GetPage), a stock PostgreSQL runs on it with pg_wal
// the branch's wal/, changes data and checkpoints; the snapshot a mount
// would upload is collected and put. The branch sees it, its parent and a
// branch made before it do not, and PostgreSQL recovers from it. Every kind
// of bad stream is refused with a clear error and leaves no layer file.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <thread>

#include "pageserver/client/repo_client.h"
#include "tests/unit/pageserver/repo_test_support.h"

namespace zenith::pageserver::testing {
namespace {

constexpr int kRows = 2000;

class SnapshotPutTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Status s = repo_.Create();
    ASSERT_TRUE(s.ok()) << s.ToString();
    auto server = InProcessServer::Start(repo_.root(), PageServiceOptions{std::chrono::milliseconds(500)});
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(*server);
    ASSERT_TRUE(RunQuery(conninfo(), "branch_create b main").ok());
    auto b = DescribeTimeline(conninfo(), "b");
    ASSERT_TRUE(b.ok());
    b_id_ = b->timeline_id;
    wal_dir_ = repo_.layout().wal_dir(*TimelineId::Parse(b_id_));
    layers_dir_ = repo_.layout().layers_dir(*TimelineId::Parse(b_id_));
    auto main = ListSnapshots(conninfo(), "main");
    ASSERT_TRUE(main.ok() && main->size() == 1);
    layer0_ = (*main)[0].lsns;
  }

  const std::string& conninfo() const { return server_->conninfo(); }

  // Restores branch b into `name`, starts PostgreSQL on it, creates and
  // fills a table, checkpoints, stops it (immediate: nothing is written
  // after the checkpoint's pg_control) and collects the snapshot a mount
  // would upload.
  void RunComputeAndCollect(const std::string& name) {
    compute_ = repo_.dir().Sub(name);
    auto manifest = RestoreDatadir(conninfo(), "b", compute_);
    ASSERT_TRUE(manifest.ok()) << manifest.status().ToString();
    ASSERT_TRUE(LinkTimelineWal(conninfo(), "b", wal_dir_, compute_, manifest->snapshot.redo).ok());
    PgCluster pg(compute_, repo_.dir().path(), 5432);
    Status s = pg.Start(ComputeSettings());
    ASSERT_TRUE(s.ok()) << s.ToString();
    pg.Query("CREATE TABLE branch_only (id int, v text)");
    pg.Query("INSERT INTO branch_only SELECT g, 'row ' || g FROM generate_series(1, " + std::to_string(kRows) + ") g");
    auto path = ParseRelationPath(pg.Query("SELECT pg_relation_filepath('branch_only')"));
    ASSERT_TRUE(path.has_value());
    table_ = path->tag;
    pg.Query("CHECKPOINT");
    auto control = ReadFileToString(compute_ + "/global/pg_control");
    ASSERT_TRUE(control.ok());
    control_ = *control;
    ASSERT_TRUE(pg.Stop("immediate").ok());
    auto stream = CollectSnapshot(conninfo(), "b", manifest->snapshot.valid, compute_, control_, wal_dir_);
    ASSERT_TRUE(stream.ok()) << stream.status().ToString();
    stream_ = std::move(*stream);
  }

  // "exists", "absent", or the error.
  std::string Exists(const std::string& timeline, const RelTag& rel, Lsn lsn) {
    auto stream = PageStream::Open(conninfo(), timeline);
    if (!stream.ok()) return stream.status().ToString();
    auto exists = (*stream)->Exists(rel, lsn);
    if (!exists.ok()) return exists.status().ToString();
    return *exists ? "exists" : "absent";
  }
  std::vector<std::string> LayerNames() {
    auto names = ListDirectory(layers_dir_);
    EXPECT_TRUE(names.ok());
    return names.ok() ? *names : std::vector<std::string>{};
  }

  TestRepo repo_{"snapshot-put"};
  std::unique_ptr<InProcessServer> server_;
  std::string b_id_, wal_dir_, layers_dir_, compute_, control_;
  SnapshotLsns layer0_;
  RelTag table_;
  SnapshotStream stream_;
};

TEST_F(SnapshotPutTest, ASnapshotOnABranchIsVisibleThereAndNotOnItsParent) {
  ASSERT_NO_FATAL_FAILURE(RunComputeAndCollect("compute"));
  Status s = PutSnapshot(conninfo(), "b", stream_);
  ASSERT_TRUE(s.ok()) << s.ToString();
  const SnapshotLsns& lsns = stream_.end.lsns;

  auto on_b = ListSnapshots(conninfo(), "b");
  ASSERT_TRUE(on_b.ok());
  ASSERT_EQ(on_b->size(), 2u);
  EXPECT_EQ((*on_b)[0].timeline_id, b_id_);
  EXPECT_EQ((*on_b)[0].lsns, lsns);
  EXPECT_EQ((*on_b)[0].pages, stream_.end.page_count);
  EXPECT_EQ((*on_b)[1].lsns, layer0_);
  auto on_main = ListSnapshots(conninfo(), "main");
  ASSERT_TRUE(on_main.ok());
  ASSERT_EQ(on_main->size(), 1u);
  EXPECT_EQ((*on_main)[0].lsns, layer0_);

  EXPECT_EQ(Exists("b", table_, lsns.valid), "exists");
  EXPECT_EQ(Exists("b", table_, lsns.valid - 1), "absent") << "at an earlier LSN of b, main's layer 0 is newest";
  EXPECT_EQ(Exists("main", table_, layer0_.valid), "absent");
  auto earlier = FetchBasebackup(conninfo(), "b", (lsns.valid - 1).ToString());
  ASSERT_TRUE(earlier.ok()) << earlier.status().ToString();
  EXPECT_NE(earlier->find("\"valid\":\"" + layer0_.valid.ToString() + "\""), std::string::npos)
      << "the basebackup at an earlier LSN is of main's snapshot";
  auto described = DescribeTimeline(conninfo(), "b");
  ASSERT_TRUE(described.ok());
  EXPECT_EQ(described->latest_snapshot, lsns.valid);

  // The branch's pages are the compute's, the unchanged ones read through
  // to main's layer 0: a restore of the new snapshot is the compute's datadir.
  auto manifest = RestoreDatadir(conninfo(), "b", repo_.dir().Sub("restored"));
  ASSERT_TRUE(manifest.ok()) << manifest.status().ToString();
  EXPECT_EQ(manifest->snapshot, lsns);
  EXPECT_EQ(manifest->snapshot_timeline_id, b_id_);
  auto diffs = CompareDatadirs(compute_, repo_.dir().Sub("restored"));
  ASSERT_TRUE(diffs.ok()) << diffs.status().ToString();
  EXPECT_TRUE(diffs->empty()) << ::testing::PrintToString(*diffs);
  uint64_t total_blocks = 0;
  for (const auto& f : manifest->relations) total_blocks += f.size / kPageSize;
  EXPECT_LT(stream_.end.page_count * 4, total_blocks) << "most pages fall through to main's layer";

  auto main_restored = RestoreDatadir(conninfo(), "main", repo_.dir().Sub("main-restored"));
  ASSERT_TRUE(main_restored.ok());
  auto main_diffs = CompareDatadirs(repo_.initdb_dir(), repo_.dir().Sub("main-restored"));
  ASSERT_TRUE(main_diffs.ok());
  EXPECT_TRUE(main_diffs->empty()) << "main is untouched: " << ::testing::PrintToString(*main_diffs);
}

TEST_F(SnapshotPutTest, BranchesMadeBeforeTheSnapshotDoNotSeeItAndLaterOnesDo) {
  ASSERT_NO_FATAL_FAILURE(RunComputeAndCollect("compute"));
  ASSERT_TRUE(PutSnapshot(conninfo(), "b", stream_).ok());
  const Lsn valid = stream_.end.lsns.valid;
  auto before = RunQuery(conninfo(), "branch_create $1 $2", {"before", "b@" + (valid - 1).ToString()});
  ASSERT_TRUE(before.ok()) << before.status().ToString();
  auto at = RunQuery(conninfo(), "branch_create $1 $2", {"at", "b@" + valid.ToString()});
  ASSERT_TRUE(at.ok()) << at.status().ToString();

  auto snaps = ListSnapshots(conninfo(), "before");
  ASSERT_TRUE(snaps.ok());
  ASSERT_EQ(snaps->size(), 1u);
  EXPECT_EQ((*snaps)[0].lsns, layer0_);
  auto described = DescribeTimeline(conninfo(), "before");
  ASSERT_TRUE(described.ok());
  EXPECT_EQ(Exists("before", table_, described->end_of_wal), "absent");
  auto manifest = RestoreDatadir(conninfo(), "before", repo_.dir().Sub("before"));
  ASSERT_TRUE(manifest.ok());
  EXPECT_EQ(manifest->snapshot, layer0_);

  snaps = ListSnapshots(conninfo(), "at");
  ASSERT_TRUE(snaps.ok());
  ASSERT_EQ(snaps->size(), 2u);
  EXPECT_EQ((*snaps)[0].lsns.valid, valid);
  EXPECT_EQ(Exists("at", table_, valid), "exists");
}

TEST_F(SnapshotPutTest, PostgresRecoversFromThePutSnapshotToTheEndOfWal) {
  ASSERT_NO_FATAL_FAILURE(RunComputeAndCollect("compute"));
  ASSERT_TRUE(PutSnapshot(conninfo(), "b", stream_).ok());
  const std::string again = repo_.dir().Sub("again");
  auto manifest = RestoreDatadir(conninfo(), "b", again);
  ASSERT_TRUE(manifest.ok());
  ASSERT_TRUE(LinkTimelineWal(conninfo(), "b", wal_dir_, again, manifest->snapshot.redo).ok());
  PgCluster pg(again, repo_.dir().path(), 5433);
  Status s = pg.Start(ComputeSettings());
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(pg.Query("SELECT count(*), sum(id) FROM branch_only"),
            std::to_string(kRows) + "|" + std::to_string(kRows * (kRows + 1) / 2));
  EXPECT_NE(pg.Log().find("database system was interrupted"), std::string::npos)
      << "an online checkpoint's snapshot starts with crash recovery";
}

// ---- Bad streams -----------------------------------------------------------------

class BadSnapshotTest : public SnapshotPutTest {
 protected:
  void SetUp() override {
    SnapshotPutTest::SetUp();
    ASSERT_NO_FATAL_FAILURE(RunComputeAndCollect("compute"));
    auto entries = ScanDatadir(compute_);
    ASSERT_TRUE(entries.ok());
    entries_ = *entries;
    for (size_t i = 0; i < stream_.messages.size(); ++i) {
      char tag = stream_.messages[i][0];
      if (tag == 'P') pages_.push_back(i);
      if (tag == 'R') relations_.push_back(i);
      if (tag == 'T') files_.push_back(i);
    }
    ASSERT_FALSE(pages_.empty());
    ASSERT_FALSE(relations_.empty());
    ASSERT_FALSE(files_.empty());
    layers_before_ = LayerNames();
  }

  // The stream's messages with the files replaced by a tar of the compute's
  // files carrying `control` as pg_control.
  std::vector<std::string> WithControl(const std::string& control) {
    std::vector<std::string> out(stream_.messages.begin(), stream_.messages.begin() + files_.front());
    auto tar = NonRelationTar(compute_, entries_, control);
    EXPECT_TRUE(tar.ok());
    for (auto& m : SnapshotFilesMessages(*tar)) out.push_back(std::move(m));
    return out;
  }
  std::string ControlWith(const std::function<void(ControlFile&)>& change) {
    auto control = DecodeControlFile(AsBytes(control_));
    EXPECT_TRUE(control.ok());
    change(*control);
    return EncodeControlFile(*control);
  }
  void ExpectRefused(const std::string& what, const std::vector<std::string>& messages, const SnapshotEnd& end,
                     const std::string& message, const std::string& timeline = "b") {
    Status s = PutSnapshot(conninfo(), timeline, messages, end);
    EXPECT_FALSE(s.ok()) << what;
    EXPECT_NE(s.message().find(message), std::string::npos) << what << ": " << s.ToString();
    EXPECT_EQ(LayerNames(), layers_before_) << what << ": no layer and no temp file is left";
  }

  std::vector<DatadirEntry> entries_;
  std::vector<size_t> pages_, relations_, files_;  // indexes into stream_.messages
  std::vector<std::string> layers_before_;
};

TEST_F(BadSnapshotTest, MalformedStreamsAreRefused) {
  const auto& msgs = stream_.messages;
  SnapshotEnd end = stream_.end;

  {  // CopyDone without the End record
    auto client = PageServerClient::Connect(conninfo());
    ASSERT_TRUE(client.ok());
    ASSERT_TRUE(TakeLease(**client, "b").ok());
  ASSERT_TRUE((*client)->BeginCopyIn("put_snapshot b").ok());
    for (const auto& m : msgs) ASSERT_TRUE((*client)->SendCopyData(AsBytes(m)).ok());
    Status s = (*client)->EndCopyIn();
    EXPECT_NE(s.message().find("ended without its end record"), std::string::npos) << s.ToString();
    EXPECT_EQ(LayerNames(), layers_before_);
  }
  {  // the client gives up (CopyFail)
    auto client = PageServerClient::Connect(conninfo());
    ASSERT_TRUE(client.ok());
    ASSERT_TRUE(TakeLease(**client, "b").ok());
  ASSERT_TRUE((*client)->BeginCopyIn("put_snapshot b").ok());
    for (size_t i = 0; i < msgs.size() / 2; ++i) ASSERT_TRUE((*client)->SendCopyData(AsBytes(msgs[i])).ok());
    (*client)->AbortCopyIn("the compute went away");
    EXPECT_TRUE((*client)->Query("status").ok());
    EXPECT_EQ(LayerNames(), layers_before_);
  }

  auto with_page_moved = msgs;
  std::swap(with_page_moved[pages_.back()], with_page_moved[relations_.front()]);
  ExpectRefused("a page after a relation", with_page_moved, end, "pages must come before relations and files");
  auto page_after_files = msgs;
  page_after_files.push_back(msgs[pages_.front()]);
  ExpectRefused("a page after the files", page_after_files, end, "pages must come before");

  SnapshotEnd more_pages = end;
  ++more_pages.page_count;
  ExpectRefused("one page fewer than announced", msgs, more_pages, "announced");
  SnapshotEnd fewer_relations = end;
  --fewer_relations.relation_count;
  ExpectRefused("one relation more than announced", msgs, fewer_relations, "announced");

  auto duplicate = msgs;
  duplicate.insert(duplicate.begin(), msgs[pages_.front()]);
  SnapshotEnd one_more = end;
  ++one_more.page_count;
  ExpectRefused("the same page twice", duplicate, one_more, "sent twice");

  auto unknown = msgs;
  unknown.insert(unknown.begin() + static_cast<long>(relations_.front()), std::string("Zjunk"));
  ExpectRefused("an unknown record type", unknown, end, "unknown snapshot record type");
  auto short_page = msgs;
  short_page[pages_.front()].resize(100);
  ExpectRefused("a short page record", short_page, end, "malformed snapshot record");
  auto after_end = msgs;
  std::string end_msg;
  AppendSnapshotEnd(&end_msg, end);
  after_end.push_back(end_msg);
  after_end.push_back(msgs[files_.front()]);
  SnapshotEnd unused = end;
  ExpectRefused("data after the end record", after_end, unused, "after its end record");

  auto bad_floor = msgs;
  bad_floor[relations_.front()].clear();
  AppendSnapshotRelation(&bad_floor[relations_.front()], table_, RelationInfo{1, 2});
  ExpectRefused("a floor past the relation's end", bad_floor, end, "floor past its end");

  auto not_tar = std::vector<std::string>(msgs.begin(), msgs.begin() + static_cast<long>(files_.front()));
  for (auto& m : SnapshotFilesMessages(std::string(4096, 'g'))) not_tar.push_back(m);
  ExpectRefused("files that are not a tar", not_tar, end, "the snapshot's non-relation files: tar header");
  auto no_files = std::vector<std::string>(msgs.begin(), msgs.begin() + static_cast<long>(files_.front()));
  ExpectRefused("no files at all", no_files, end, "holds no global/pg_control");

  // Files a basebackup leaves out, or that are relations, are refused.
  for (const std::string& name : {RelationSegmentPath(table_, 0), std::string("base/5/99999_fsm"),
                                  std::string("pg_wal/000000010000000000000001"), std::string("postmaster.pid"),
                                  std::string("pg_replslot/slot/state")}) {
    std::string extra;
    TarWriter tar([&](std::span<const uint8_t> b) {
      extra.append(reinterpret_cast<const char*>(b.data()), b.size());
      return Status::Ok();
    });
    ASSERT_TRUE(tar.AddFile(name, 0600, 0, AsBytes("sneaked in")).ok());
    ASSERT_TRUE(tar.EndBody().ok());
    auto sneaky = msgs;
    for (auto& m : SnapshotFilesMessages(extra)) sneaky.push_back(m);
    ExpectRefused("a snapshot file " + name, sneaky, end, "\"" + name + "\"");
  }

  // After all of that the real stream is accepted.
  Status s = PutSnapshot(conninfo(), "b", stream_);
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(LayerNames().size(), layers_before_.size() + 1);
}

// A tar body of `entries` (name, link target or "" for a file); a name
// TarWriter would refuse ("..", absolute) is patched into the header after.
std::string CraftedTarBody(const std::vector<std::pair<std::string, std::string>>& entries) {
  std::string body;
  for (const auto& [name, target] : entries) {
    std::string one;
    TarWriter tar([&](std::span<const uint8_t> b) {
      one.append(reinterpret_cast<const char*>(b.data()), b.size());
      return Status::Ok();
    });
    const bool patch = ValidateTarEntryName(name).ok() == false;
    const std::string written = patch ? std::string("placeholder") : name;
    EXPECT_TRUE((target.empty() ? tar.AddFile(written, 0600, 0, AsBytes(std::string("ssh-ed25519 AAAA")))
                                : tar.AddSymlink(written, target, 0))
                    .ok());
    EXPECT_TRUE(tar.EndBody().ok());
    if (patch) {
      one.replace(0, 100, name + std::string(100 - name.size(), '\0'));
      std::memset(one.data() + 148, ' ', 8);
      unsigned sum = 0;
      for (size_t i = 0; i < 512; ++i) sum += static_cast<uint8_t>(one[i]);
      char field[8];
      std::snprintf(field, sizeof field, "%06o", sum);
      std::memcpy(one.data() + 148, field, 7);
    }
    body += one;
  }
  return body;
}

TEST_F(BadSnapshotTest, FilesThatCouldWriteOutsideADataDirectoryAreRefused) {
  const auto snapshots_before = ListSnapshots(conninfo(), "b");
  ASSERT_TRUE(snapshots_before.ok());
  const std::string tablespace = "pg_tblspc/16400";
  struct Case {
    std::string what;
    std::vector<std::pair<std::string, std::string>> entries;
    std::string message;
  };
  for (const Case& c : {
           Case{"a link then a file through it", {{"x", "/home/owner/.ssh"}, {"x/authorized_keys", ""}},
                "\"x\" is a symbolic link"},
           Case{"a link alone", {{"pg_hba.conf", "/etc/shadow"}}, "\"pg_hba.conf\" is a symbolic link"},
           Case{"a file below a tablespace link", {{tablespace, "/home/owner"}, {tablespace + "/.bashrc", ""}},
                "lies below the symbolic link \"pg_tblspc/16400\""},
           Case{"a dot-dot name", {{"../outside", ""}}, "escapes the target directory"},
           Case{"an absolute name", {{"/home/owner/.ssh/authorized_keys", ""}}, "is an absolute path"},
       }) {
    auto hostile = stream_.messages;
    for (auto& m : SnapshotFilesMessages(CraftedTarBody(c.entries))) hostile.push_back(m);
    ExpectRefused(c.what, hostile, stream_.end, c.message);
  }
  auto after = ListSnapshots(conninfo(), "b");
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->size(), snapshots_before->size()) << "the repository is unchanged";

  // A tablespace link alone is PostgreSQL's own, and accepted.
  auto with_tablespace = stream_.messages;
  for (auto& m : SnapshotFilesMessages(CraftedTarBody({{tablespace, "/srv/tablespace"}}))) {
    with_tablespace.push_back(m);
  }
  Status s = PutSnapshot(conninfo(), "b", with_tablespace, stream_.end);
  EXPECT_TRUE(s.ok()) << s.ToString();
}

TEST_F(BadSnapshotTest, ControlFilesThatDoNotDescribeTheSnapshotAreRefused) {
  const SnapshotEnd end = stream_.end;
  ExpectRefused("another database system", WithControl(ControlWith([](ControlFile& c) { ++c.system_identifier; })), end,
                "belongs to database system");
  ExpectRefused("a checkpoint pointer to another record",
                WithControl(ControlWith([](ControlFile& c) { c.checkpoint = c.checkpoint_copy.redo - 8; })), end,
                "does not end at " + end.lsns.checkpoint.ToString());
  const Lsn ckpt = DecodeControlFile(AsBytes(control_)).value().checkpoint;
  for (Lsn wild : {Lsn(0), Lsn(1), ckpt + 1, ckpt - 1, ckpt.page_start(), ckpt.page_start() + 4, ckpt.segment_start(),
                   ckpt.segment_start() + 20, Lsn(~uint64_t{0} - 7)}) {
    ExpectRefused("a checkpoint pointer to " + wild.ToString(),
                  WithControl(ControlWith([&](ControlFile& c) { c.checkpoint = wild; })), end, "does not end at");
  }
  ExpectRefused("a checkpoint past the end of WAL",
                WithControl(ControlWith([&](ControlFile& c) { c.checkpoint = end.lsns.valid + 4096; })), end,
                "does not end at");
  ExpectRefused("a checkpoint copy that is not the record's",
                WithControl(ControlWith([](ControlFile& c) { ++c.checkpoint_copy.next_oid; })), end,
                "does not hold a copy of its checkpoint record");
  auto torn = control_;
  torn[100] ^= 1;
  ExpectRefused("a torn pg_control", WithControl(torn), end, "CRC");

  SnapshotEnd other_redo = end;
  other_redo.lsns.redo = layer0_.redo;
  ExpectRefused("a redo other than the pg_control's", stream_.messages, other_redo, "differs from its pg_control's");
  SnapshotEnd other_checkpoint = end;
  other_checkpoint.lsns.checkpoint = end.lsns.checkpoint + 8;
  ExpectRefused("a checkpoint end other than the record's", stream_.messages, other_checkpoint, "does not end at");

  // The checkpoint is in b's WAL, not in main's.
  const auto main_layers = ListDirectory(repo_.layout().layers_dir(*TimelineId::Parse(
      DescribeTimeline(conninfo(), "main").value().timeline_id)));
  Status s = PutSnapshot(conninfo(), "main", stream_);
  EXPECT_NE(s.message().find("in this timeline's WAL"), std::string::npos) << s.ToString();
  EXPECT_EQ(ListDirectory(repo_.layout().layers_dir(*TimelineId::Parse(
                DescribeTimeline(conninfo(), "main").value().timeline_id))).value(),
            main_layers.value());
}

TEST_F(BadSnapshotTest, LsnsOutOfOrderBeyondTheWalOrNotNewerAreRefused) {
  SnapshotEnd end = stream_.end;
  SnapshotEnd backwards = end;
  backwards.lsns.valid = end.lsns.checkpoint - 8;
  ExpectRefused("valid before the checkpoint", stream_.messages, backwards, "out of order");
  SnapshotEnd beyond = end;
  beyond.lsns.valid = Lsn(end.lsns.valid.value + 8192);
  ExpectRefused("valid beyond the end of WAL", stream_.messages, beyond, "beyond the end of WAL");

  ASSERT_TRUE(PutSnapshot(conninfo(), "b", stream_).ok());
  layers_before_ = LayerNames();
  ExpectRefused("the same snapshot again", stream_.messages, end, "is not newer than the latest one");
}

// Only the mount holding a timeline's lease stores snapshots there, whatever
// its role (a local connection here is role zenith): on the lease's own
// connection, or on another giving the token `attach` answered with, as a
// mount's uploader does. Each refusal leaves no layer.
TEST_F(BadSnapshotTest, OnlyTheLeaseHolderPutsSnapshots) {
  // `stream` on a connection of its own, with `token` if not empty.
  auto put = [&](const std::string& token) -> Status {
    ZENITH_ASSIGN_OR_RETURN(auto client, PageServerClient::Connect(conninfo()));
    ZENITH_RETURN_IF_ERROR(token.empty() ? client->BeginCopyIn("put_snapshot b")
                                         : client->BeginCopyIn("put_snapshot $1 $2", {"b", token}));
    for (const auto& m : stream_.messages) ZENITH_RETURN_IF_ERROR(client->SendCopyData(AsBytes(m)));
    std::string end;
    AppendSnapshotEnd(&end, stream_.end);
    ZENITH_RETURN_IF_ERROR(client->SendCopyData(AsBytes(end)));
    return client->EndCopyIn();
  };
  auto expect_refused = [&](const Status& s, const std::string& what) {
    EXPECT_EQ(s.code(), StatusCode::kPermissionDenied) << what << ": " << s.ToString();
    EXPECT_NE(s.message().find("does not hold the mount lease of timeline " + b_id_), std::string::npos) << s.message();
    EXPECT_EQ(LayerNames(), layers_before_) << what;
  };
  expect_refused(put(""), "nobody holds the lease");

  std::optional<RepoClient> holder;
  {
    auto connected = RepoClient::Connect(conninfo());
    ASSERT_TRUE(connected.ok()) << connected.status().ToString();
    holder.emplace(std::move(*connected));
  }
  auto token = holder->Attach("b", "/test/holder", getpid());
  ASSERT_TRUE(token.ok()) << token.status().ToString();
  expect_refused(put(""), "another connection holds the lease");
  std::string wrong = *token;
  wrong[0] = wrong[0] == 'a' ? 'b' : 'a';
  expect_refused(put(wrong), "a wrong token");
  auto other = RepoClient::Connect(conninfo());
  ASSERT_TRUE(other.ok());
  auto main_token = other->Attach("main", "/test/main", getpid());
  ASSERT_TRUE(main_token.ok()) << main_token.status().ToString();
  expect_refused(put(*main_token), "the token of another timeline's lease");

  Status stored = put(*token);
  ASSERT_TRUE(stored.ok()) << stored.ToString();
  EXPECT_EQ(LayerNames().size(), layers_before_.size() + 1);
  layers_before_ = LayerNames();

  // The lease ends with its connection; its token with it.
  holder.reset();
  ASSERT_TRUE(WaitUntil([&] { return server_->repo().Mounts().size() == 1; }, std::chrono::seconds(5)));
  expect_refused(put(*token), "the token of a lease that ended");
}

TEST_F(BadSnapshotTest, AStreamCutOffMidwayLeavesNothingBehind) {
  auto client = PageServerClient::Connect(conninfo());
  ASSERT_TRUE(client.ok());
  ASSERT_TRUE(TakeLease(**client, "b").ok());
  ASSERT_TRUE((*client)->BeginCopyIn("put_snapshot b").ok());
  for (size_t i = 0; i < stream_.messages.size() / 2; ++i) {
    ASSERT_TRUE((*client)->SendCopyData(AsBytes(stream_.messages[i])).ok());
  }
  ASSERT_TRUE((*client)->Flush().ok());
  WaitUntil([&] { return LayerNames() != layers_before_; }, std::chrono::seconds(5));
  EXPECT_EQ(LayerNames().size(), layers_before_.size() + 1) << "the temp file of the layer being received";
  client->reset();  // the compute dies: the connection drops mid-stream
  WaitUntil([&] { return LayerNames() == layers_before_; }, std::chrono::seconds(5));
  EXPECT_EQ(LayerNames(), layers_before_);
  auto snaps = ListSnapshots(conninfo(), "b");
  ASSERT_TRUE(snaps.ok());
  EXPECT_EQ(snaps->size(), 1u);
}

}  // namespace
}  // namespace zenith::pageserver::testing
