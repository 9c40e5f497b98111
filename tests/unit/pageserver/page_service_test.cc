// The page service's commands over a repository imported from a real
// initdb, served in process by a PqServer: GetPage@LSN and basebackup
// reproduce the initdb cluster exactly, psql can run `status`, the branch
// and timeline commands, and every kind of bad request gets an error (or a
// closed connection) while other connections go on being served.
#include <gtest/gtest.h>

#include <atomic>
#include <iostream>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "common/file_util.h"
#include "pageserver/client/repo_client.h"
#include "pageserver/page_service.h"
#include "pageserver/layers/layer_file.h"
#include "pageserver/pq/tcp_users.h"
#include "tests/harness/fault_file_io.h"
#include "tests/harness/test_env.h"
#include "tests/unit/pageserver/pq_test_support.h"
#include "tests/unit/pageserver/repo_test_support.h"

namespace zenith::pageserver::testing {
namespace {

// Every relation fork of a stopped data directory and its pages.
struct LocalPages {
  std::map<RelTag, uint32_t> sizes;

  static Result<LocalPages> Scan(const std::string& datadir) {
    ZENITH_ASSIGN_OR_RETURN(auto entries, ScanDatadir(datadir));
    return LocalPages{RelationSizes(entries)};
  }
  static Result<std::string> Read(const std::string& datadir, const RelTag& rel, uint32_t block) {
    BlockLocation at = LocateBlock(block);
    std::string path = datadir + "/" + RelationSegmentPath(rel, at.segno);
    ZENITH_ASSIGN_OR_RETURN(UniqueFd fd, OpenFile(path, O_RDONLY));
    std::string page(kPageSize, '\0');
    ZENITH_ASSIGN_OR_RETURN(size_t n, PreadFull(fd.get(), std::span(reinterpret_cast<uint8_t*>(page.data()), kPageSize),
                                                at.offset, path));
    if (n != kPageSize) return NotFound("short read of " + path);
    return page;
  }
};

class PageServiceTest : public ::testing::Test {
 protected:
  void SetUp() override { StartWith(PageServiceOptions{std::chrono::milliseconds(300)}); }

  void StartWith(PageServiceOptions options) {
    Status s = repo_.Create();
    ASSERT_TRUE(s.ok()) << s.ToString();
    auto server = InProcessServer::Start(repo_.root(), options);
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(*server);
    auto snapshots = ListSnapshots(conninfo(), "main");
    ASSERT_TRUE(snapshots.ok() && snapshots->size() == 1) << snapshots.status().ToString();
    layer0_ = (*snapshots)[0].lsns;
  }

  const std::string& conninfo() const { return server_->conninfo(); }
  std::unique_ptr<PageServerClient> Client() {
    auto c = server_->Client();
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? std::move(*c) : nullptr;
  }
  std::unique_ptr<PageStream> Stream(const std::string& timeline = "main") {
    auto s = PageStream::Open(conninfo(), timeline);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(*s) : nullptr;
  }
  Status Query(const std::string& command, const std::vector<std::string>& params = {}) {
    return RunQuery(conninfo(), command, params).status();
  }
  // The names under timelines/ and refs/branches/: what a refused command must not change.
  std::vector<std::string> RepoNames() {
    std::vector<std::string> out;
    for (const std::string& dir : {repo_.layout().timelines_dir(), repo_.layout().branches_dir()}) {
      auto names = ListDirectory(dir);
      EXPECT_TRUE(names.ok());
      if (names.ok()) out.insert(out.end(), names->begin(), names->end());
    }
    return out;
  }

  TestRepo repo_{"page-service"};
  std::unique_ptr<InProcessServer> server_;
  SnapshotLsns layer0_;
};

TEST_F(PageServiceTest, EveryBlockOfEveryRelationReadsBackAsInitdbWroteIt) {
  auto local = LocalPages::Scan(repo_.initdb_dir());
  ASSERT_TRUE(local.ok());
  auto stream = Stream();
  ASSERT_NE(stream, nullptr);
  uint64_t blocks_checked = 0;
  for (const auto& [rel, nblocks] : local->sizes) {
    auto exists = stream->Exists(rel, layer0_.valid);
    ASSERT_TRUE(exists.ok() && *exists) << rel;
    auto size = stream->Nblocks(rel, layer0_.valid);
    ASSERT_TRUE(size.ok()) << size.status().ToString();
    ASSERT_EQ(*size, nblocks) << rel;
    for (uint32_t first = 0; first < nblocks; first += kBatchBlocks) {
      std::vector<uint32_t> blocks;
      for (uint32_t b = first; b < std::min<uint32_t>(nblocks, first + kBatchBlocks); ++b) blocks.push_back(b);
      std::string pages(blocks.size() * kPageSize, '\0');
      Status s = stream->GetPages(rel, blocks, layer0_.valid, std::span(reinterpret_cast<uint8_t*>(pages.data()), pages.size()));
      ASSERT_TRUE(s.ok()) << s.ToString();
      for (size_t i = 0; i < blocks.size(); ++i) {
        auto want = LocalPages::Read(repo_.initdb_dir(), rel, blocks[i]);
        ASSERT_TRUE(want.ok());
        ASSERT_EQ(pages.substr(i * kPageSize, kPageSize), *want) << "block " << blocks[i] << " of " << rel;
        ++blocks_checked;
      }
    }
  }
  EXPECT_GT(local->sizes.size(), 500u) << "an initdb cluster has hundreds of relation forks";
  EXPECT_GT(blocks_checked, 1000u);
}

TEST_F(PageServiceTest, BasebackupPlusGetPageRebuildsTheInitdbDataDirectory) {
  auto manifest = RestoreDatadir(conninfo(), "main", repo_.dir().Sub("restored"));
  ASSERT_TRUE(manifest.ok()) << manifest.status().ToString();
  auto diffs = CompareDatadirs(repo_.initdb_dir(), repo_.dir().Sub("restored"));
  ASSERT_TRUE(diffs.ok()) << diffs.status().ToString();
  EXPECT_TRUE(diffs->empty()) << ::testing::PrintToString(*diffs);

  auto main = DescribeTimeline(conninfo(), "main");
  ASSERT_TRUE(main.ok());
  EXPECT_EQ(manifest->timeline_id, main->timeline_id);
  EXPECT_EQ(manifest->snapshot_timeline_id, main->timeline_id);
  EXPECT_EQ(manifest->snapshot, layer0_);
  EXPECT_EQ(manifest->system_id, server_->repo().config().system_id);
}

TEST_F(PageServiceTest, ImportedSnapshotIsTheShutdownCheckpointAtTheEndOfWal) {
  auto control_bytes = ReadFileToString(repo_.initdb_dir() + "/global/pg_control");
  ASSERT_TRUE(control_bytes.ok());
  auto control = DecodeControlFile(AsBytes(*control_bytes));
  ASSERT_TRUE(control.ok());
  EXPECT_EQ(server_->repo().config().system_id, control->system_identifier);
  EXPECT_EQ(layer0_.redo, control->checkpoint_copy.redo);
  EXPECT_GT(layer0_.checkpoint, control->checkpoint) << "checkpoint is the end of the record pg_control points at";
  EXPECT_EQ(layer0_.valid, layer0_.checkpoint) << "nothing follows a shutdown checkpoint";
  auto main = DescribeTimeline(conninfo(), "main");
  ASSERT_TRUE(main.ok());
  EXPECT_EQ(main->end_of_wal, layer0_.valid);
  EXPECT_EQ(main->latest_snapshot, layer0_.valid);
}

TEST_F(PageServiceTest, PsqlRunsTheStatusCommandOnTheSocket) {
  RunResult r = RunCommand({PgBin("psql"), "-X", "-A", "-t", "-h", repo_.root(), "-p", std::to_string(kServerPort),
                            "-d", "zenith", "-c", "status"});
  ASSERT_TRUE(r.ok()) << r.Describe();
  EXPECT_NE(r.out.find("version|zenith"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("repository|" + repo_.root() + "\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("system_id|" + std::to_string(server_->repo().config().system_id) + "\n"), std::string::npos);
  EXPECT_NE(r.out.find("pid|" + std::to_string(getpid()) + "\n"), std::string::npos) << r.out;
}

TEST_F(PageServiceTest, BranchCreateListAndDescribe) {
  auto created = RunQuery(conninfo(), "branch_create $1 $2", {"dev", "main"});
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  ASSERT_EQ(created->size(), 1u);
  const auto& row = (*created)[0];
  EXPECT_EQ(row[0], "dev");
  EXPECT_EQ(row[2], layer0_.valid.ToString());
  EXPECT_EQ(row[3], "t");
  auto at = RunQuery(conninfo(), "branch_create $1 $2", {"Alpha", "dev@" + layer0_.valid.ToString()});
  ASSERT_TRUE(at.ok()) << at.status().ToString();
  EXPECT_EQ((*at)[0][3], "f");

  auto list = RunQuery(conninfo(), "branch_list");
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 3u);
  auto main = DescribeTimeline(conninfo(), "main");
  ASSERT_TRUE(main.ok());
  EXPECT_EQ((*list)[0], (std::vector<std::string>{"Alpha", (*at)[0][1], row[1], layer0_.valid.ToString()}));
  EXPECT_EQ((*list)[1], (std::vector<std::string>{"dev", row[1], main->timeline_id, layer0_.valid.ToString()}));
  EXPECT_EQ((*list)[2], (std::vector<std::string>{"main", main->timeline_id, "", ""}));

  auto dev = DescribeTimeline(conninfo(), row[1]);  // by timeline id
  ASSERT_TRUE(dev.ok());
  EXPECT_EQ(dev->branch, "dev");
  EXPECT_EQ(dev->ancestor_timeline_id, main->timeline_id);
  EXPECT_EQ(dev->ancestor_lsn, layer0_.valid);
  EXPECT_EQ(dev->end_of_wal, layer0_.valid);
  EXPECT_EQ(dev->latest_snapshot, layer0_.valid) << "main's snapshot is visible on the branch";
  auto snaps = ListSnapshots(conninfo(), "Alpha");
  ASSERT_TRUE(snaps.ok());
  ASSERT_EQ(snaps->size(), 1u);
  EXPECT_EQ((*snaps)[0].timeline_id, main->timeline_id);
}

TEST_F(PageServiceTest, BadBranchCreateIsRefusedAndChangesNothing) {
  ASSERT_TRUE(Query("branch_create $1 $2", {"taken", "main"}).ok());
  const auto before = RepoNames();
  struct Case {
    std::string name, parent;
    StatusCode code;
    std::string message;
  };
  const Lsn beyond = layer0_.valid + 8;
  const std::vector<Case> cases = {
      {"x", "nosuch", StatusCode::kNotFound, "branch 'nosuch' does not exist"},
      {"x", "0123456789abcdef0123456789abcdef", StatusCode::kNotFound, "does not exist"},
      {"taken", "main", StatusCode::kAlreadyExists, "branch 'taken' already exists"},
      {"main", "main", StatusCode::kAlreadyExists, "already exists"},
      {"a/b", "main", StatusCode::kInvalidArgument, "is not a valid branch name"},
      {"..", "main", StatusCode::kInvalidArgument, "is not a valid branch name"},
      {".hidden", "main", StatusCode::kInvalidArgument, "is not a valid branch name"},
      {"sp ace", "main", StatusCode::kInvalidArgument, "is not a valid branch name"},
      {"", "main", StatusCode::kInvalidArgument, "is not a valid branch name"},
      {std::string(65, 'n'), "main", StatusCode::kInvalidArgument, "is not a valid branch name"},
      {"00112233445566778899aabbccddeeff", "main", StatusCode::kInvalidArgument, "reads as a timeline id"},
      {"x", "main@", StatusCode::kInvalidArgument, "is not an LSN"},
      {"x", "main@zz", StatusCode::kInvalidArgument, "'zz' is not an LSN"},
      {"x", "main@1/2/3", StatusCode::kInvalidArgument, "is not an LSN"},
      {"x", "main@100000000/0", StatusCode::kInvalidArgument, "is not an LSN"},
      {"x", "main@" + beyond.ToString(), StatusCode::kInvalidArgument, "beyond the end of WAL"},
      {"x", "main@0/1", StatusCode::kInvalidArgument,
       "before the oldest snapshot of branch 'main'; the oldest LSN still available is " + layer0_.valid.ToString()},
      {"x", "main@" + (layer0_.valid - 8).ToString(), StatusCode::kInvalidArgument, "before the oldest snapshot"},
  };
  for (const auto& c : cases) {
    Status s = Query("branch_create $1 $2", {c.name, c.parent});
    EXPECT_EQ(s.code(), c.code) << c.name << " " << c.parent << ": " << s.ToString();
    EXPECT_NE(s.message().find(c.message), std::string::npos) << s.message();
  }
  EXPECT_EQ(RepoNames(), before);
}

TEST_F(PageServiceTest, UnknownTimelineIsNotFoundForEveryCommand) {
  const std::string unknown_id = "0123456789abcdef0123456789abcdef";
  for (const std::string& name : {std::string("nosuch"), unknown_id}) {
    for (std::string command : {"timeline_describe ", "snapshot_list ", "prepare_wal "}) {
      std::string line = command + name + (command == std::string("prepare_wal ") ? " 0/1" : "");
      Status s = Query(line);
      EXPECT_EQ(s.code(), StatusCode::kNotFound) << line << ": " << s.ToString();
      EXPECT_NE(s.message().find("does not exist"), std::string::npos) << s.message();
    }
    auto client = Client();
    ASSERT_NE(client, nullptr);
    EXPECT_EQ(client->CopyOut("basebackup " + name, [](auto) { return Status::Ok(); }).code(), StatusCode::kNotFound);
    EXPECT_EQ(client->BeginCopyBoth("pagestream " + name).code(), StatusCode::kNotFound);
    EXPECT_EQ(client->BeginCopyIn("put_snapshot " + name).code(), StatusCode::kNotFound);
    EXPECT_TRUE(client->Query("status").ok()) << "the connection goes on after each error";
  }
  EXPECT_FALSE(PageStream::Open(conninfo(), "nosuch").ok());
}

// page_service.h lists every command with the usage its table entry has,
// marked `*` where role compute may run it, and nothing the table lacks.
TEST_F(PageServiceTest, TheHeaderListsEveryCommandWithItsTablesUsage) {
  auto header = ReadFileToString(SourceDir() + "/pageserver/page_service.h");
  ASSERT_TRUE(header.ok()) << header.status().ToString();
  CommandTable table = MakePageServiceCommands(server_->repo());
  std::set<std::string> listed;
  std::istringstream lines(*header);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("//  *", 0) != 0 && line.rfind("//   ", 0) != 0) continue;
    std::string entry = line.substr(5);
    if (entry.empty() || entry[0] == ' ') continue;  // a description's next line
    const std::string name = entry.substr(0, entry.find(' '));
    const CommandSpec* spec = table.Find(name);
    ASSERT_NE(spec, nullptr) << "page_service.h lists \"" << name << "\", which the table does not have";
    EXPECT_EQ(entry.substr(0, spec->usage.size()), spec->usage) << "the table's usage differs";
    listed.insert(name);
  }
  for (const std::string& name : table.Names()) EXPECT_TRUE(listed.count(name)) << name << " is not in page_service.h";
}

TEST_F(PageServiceTest, WrongArgumentCountsAreSyntaxErrorsWithTheUsage) {
  const CommandTable table = MakePageServiceCommands(server_->repo());
  for (std::string line : {"status extra", "branch_list x", "branch_create onlyname", "timeline_describe",
                            "snapshot_list a b", "basebackup", "basebackup main 0/1 extra", "pagestream",
                            "pagestream main nope", "put_snapshot", "prepare_wal main", "attach main /m", "mounts x",
                            "branch_reset a b", "wal main 0/1", "pin main", "pin main 0/1 nope", "unpin main",
                            "point", "attach_readonly main 0/1 /m", "compact 1s 2s", "gc 1s 2s", "branch_delete"}) {
    auto client = Client();
    ASSERT_NE(client, nullptr);
    Status s = client->Query(line).status();
    EXPECT_EQ(s.code(), StatusCode::kSyntax) << line;
    // The usage is the table's, which starts with the command's name.
    const std::string name = line.substr(0, line.find(' '));
    const CommandSpec* spec = table.Find(name);
    ASSERT_NE(spec, nullptr) << name;
    EXPECT_EQ(s.message(), "syntax error: usage: " + spec->usage) << line;
  }
  auto client = Client();
  ASSERT_NE(client, nullptr);
  Status s = client->Query("no_such_command").status();
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(client->Query("status").ok());
}

TEST_F(PageServiceTest, BadPageRequestsGetErrorRepliesAndTheStreamGoesOn) {
  auto stream = Stream();
  ASSERT_NE(stream, nullptr);
  const RelTag pg_class{1663, 1, 1259, ForkNumber::kMain};  // pg_class of template1
  const RelTag missing{1663, 1, 999999, ForkNumber::kMain};
  auto size = stream->Nblocks(pg_class, layer0_.valid);
  ASSERT_TRUE(size.ok()) << size.status().ToString();
  std::vector<uint8_t> page(kPageSize);
  uint32_t past_end[1] = {*size};
  Status s = stream->GetPages(pg_class, past_end, layer0_.valid, page);
  EXPECT_NE(s.message().find("past the end of relation"), std::string::npos) << s.ToString();
  uint32_t zero[1] = {0};
  s = stream->GetPages(missing, zero, layer0_.valid, page);
  EXPECT_NE(s.message().find("does not exist"), std::string::npos) << s.ToString();
  EXPECT_EQ(stream->Nblocks(missing, layer0_.valid).status().code(), StatusCode::kNotFound);
  auto exists = stream->Exists(missing, layer0_.valid);
  ASSERT_TRUE(exists.ok());
  EXPECT_FALSE(*exists);
  s = stream->GetPages(pg_class, zero, Lsn(1), page);
  EXPECT_NE(s.message().find("does not exist at 0/1"), std::string::npos) << "nothing is visible before layer 0: " << s.ToString();

  // After all of that the same stream still serves pages.
  s = stream->GetPages(pg_class, zero, layer0_.valid, page);
  ASSERT_TRUE(s.ok()) << s.ToString();
  auto want = LocalPages::Read(repo_.initdb_dir(), pg_class, 0);
  ASSERT_TRUE(want.ok());
  EXPECT_EQ(std::string(page.begin(), page.end()), *want);
}

TEST_F(PageServiceTest, RequestBeyondTheEndOfWalWaitsABoundedTimeThenFails) {
  auto stream = Stream();
  ASSERT_NE(stream, nullptr);
  const RelTag pg_class{1663, 1, 1259, ForkNumber::kMain};
  std::vector<uint8_t> page(kPageSize);
  uint32_t zero[1] = {0};
  // The server says how long it waited: the configured 300 ms, no more
  // (no clock here: timing is the benchmarks' business).
  Status s = stream->GetPages(pg_class, zero, layer0_.valid + 8, page);
  EXPECT_NE(s.message().find("beyond the end of WAL " + layer0_.valid.ToString()), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find("(waited 300 ms)"), std::string::npos) << s.ToString();

  auto client = Client();
  ASSERT_NE(client, nullptr);
  s = client->CopyOut("basebackup main " + (layer0_.valid + 8).ToString(), [](auto) { return Status::Ok(); });
  EXPECT_EQ(s.code(), StatusCode::kTimeout) << s.ToString();
  EXPECT_NE(s.message().find("(waited 300 ms)"), std::string::npos) << s.ToString();
  EXPECT_TRUE(stream->GetPages(pg_class, zero, layer0_.valid, page).ok()) << "the stream survives the timeout";
}

TEST_F(PageServiceTest, AttachLeaseIsExclusiveAndEndsWithItsConnection) {
  auto holder = Client();
  ASSERT_NE(holder, nullptr);
  ASSERT_TRUE(holder->Query("attach main /mnt/one 4242").ok());
  auto other = Client();
  ASSERT_NE(other, nullptr);
  Status s = other->Query("attach main /mnt/two 77").status();
  EXPECT_EQ(s.code(), StatusCode::kBusy);
  EXPECT_NE(s.message().find("already mounted read-write at /mnt/one (zenith-fs pid 4242)"), std::string::npos)
      << s.message();
  EXPECT_EQ(other->Query("attach main /mnt/two 0").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(other->Query("attach nosuch /mnt/two 77").status().code(), StatusCode::kNotFound);
  auto mounts = other->Query("mounts");
  ASSERT_TRUE(mounts.ok());
  ASSERT_EQ(mounts->size(), 1u);
  EXPECT_EQ((*mounts)[0][1], "main");
  EXPECT_EQ((*mounts)[0][2], "/mnt/one");
  EXPECT_EQ((*mounts)[0][4], "") << "nothing pinned yet";

  // The lease's session pins the snapshot the mount reads at.
  const std::string valid = layer0_.valid.ToString();
  auto pinned = [&] { return other->Query("mounts").value().at(0).at(4); };
  ASSERT_TRUE(holder->Query("pin main " + valid).ok());
  EXPECT_EQ(pinned(), valid + "+wal");
  ASSERT_TRUE(holder->Query("pin main " + valid + " pages").ok());
  EXPECT_EQ(pinned(), valid) << "pinned again: the WAL goes free";
  EXPECT_EQ(holder->Query("pin main " + (layer0_.valid + 8).ToString()).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(holder->Query("pin main " + valid + " everything").status().code(), StatusCode::kSyntax);
  ASSERT_TRUE(holder->Query("unpin main " + valid).ok());
  EXPECT_EQ(pinned(), "");
  ASSERT_TRUE(holder->Query("pin main " + valid).ok());

  holder.reset();  // the connection ends: the lease goes with it
  WaitUntil([&] { return server_->repo().Mounts().empty(); }, std::chrono::seconds(5));
  EXPECT_TRUE(other->Query("attach main /mnt/two 77").ok());
}

TEST_F(PageServiceTest, AMountsReportedFiguresAreKeptWithItsMountUntilItsConnectionEnds) {
  auto holder = Client();
  ASSERT_NE(holder, nullptr);
  EXPECT_EQ(holder->Query("mount_stats pages_fetched=3").status().code(), StatusCode::kNotFound)
      << "a connection that registered no mount reports nothing";
  ASSERT_TRUE(holder->Query("attach main /mnt/one 4242").ok());
  ASSERT_TRUE(holder->Query("mount_stats pages_scratch=7 pages_fetched=3 snapshot_upload_micros=1500000 later_key=9").ok())
      << "keys a newer mount sends are ignored";
  auto mounts = server_->repo().Mounts();
  ASSERT_EQ(mounts.size(), 1u);
  EXPECT_EQ(mounts[0].stats.pages_scratch, 7u);
  EXPECT_EQ(mounts[0].stats.pages_fetched, 3u);
  EXPECT_EQ(mounts[0].stats.snapshot_upload_micros, 1500000u);
  for (const char* bad : {"mount_stats pages_fetched=-1", "mount_stats pages_fetched", "mount_stats Pages=1",
                          "mount_stats pages_fetched=1 pages_fetched=2", "mount_stats pages_fetched=99999999999999999999"}) {
    EXPECT_EQ(holder->Query(bad).status().code(), StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_EQ(server_->repo().Mounts().at(0).stats.pages_fetched, 3u) << "a refused report changes nothing";

  auto reader = Client();
  ASSERT_NE(reader, nullptr);
  auto point = reader->Query("point main");
  ASSERT_TRUE(point.ok() && point->size() == 1) << point.status().ToString();
  ASSERT_TRUE(reader->Query("attach_readonly main " + (*point)[0][1] + " /mnt/ro 4343").ok());
  ASSERT_TRUE(reader->Query("mount_stats pages_layers=11").ok());
  holder.reset();
  WaitUntil([&] { return server_->repo().Mounts().size() == 1; }, std::chrono::seconds(5));
  mounts = server_->repo().Mounts();
  ASSERT_EQ(mounts.size(), 1u);
  EXPECT_TRUE(mounts[0].read_only);
  EXPECT_EQ(mounts[0].stats.pages_layers, 11u);
  EXPECT_EQ(mounts[0].stats.pages_fetched, 0u) << "each mount's own figures";
}

TEST_F(PageServiceTest, LayerFilesNameTheViewAtASnapshotToALocalClient) {
  auto client = RepoClient::Connect(conninfo());
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  auto files = client->LayerFiles("main", layer0_.valid);
  ASSERT_TRUE(files.ok()) << files.status().ToString();
  ASSERT_EQ(files->size(), 1u);
  const LayerFileEntry& f = (*files)[0];
  EXPECT_EQ(f.path.front(), '/') << f.path;
  EXPECT_EQ(f.valid, layer0_.valid);
  auto layer = LayerFile::Open(f.path);
  ASSERT_TRUE(layer.ok()) << layer.status().ToString();
  EXPECT_EQ((*layer)->timeline_id(), f.timeline);
  EXPECT_EQ((*layer)->lsns().valid, f.valid);

  // Only at an LSN a snapshot is valid at: a mount never reads elsewhere.
  auto between = client->LayerFiles("main", Lsn(layer0_.valid.value + 8));
  EXPECT_EQ(between.status().code(), StatusCode::kNotFound) << between.status().ToString();
  EXPECT_EQ(client->LayerFiles("nosuchbranch", layer0_.valid).status().code(), StatusCode::kNotFound);
}

// `status` carries how compaction and GC fare (zenith pageserver status and
// zenith status show it): a collection that cannot write its cutoff fails,
// is counted, named, and forgotten once one succeeds.
TEST_F(PageServiceTest, StatusSaysWhenGarbageCollectionFailsAndWhenItRecovers) {
  using ::zenith::testing::FaultFileIo;
  using ::zenith::testing::FaultRule;
  server_.reset();
  auto server = InProcessServer::Start(repo_.root(), {}, /*owner_only=*/true, /*with_history=*/true);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  server_ = std::move(*server);
  auto client = RepoClient::Connect(conninfo());
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  auto status = client->DescribeServer();
  ASSERT_TRUE(status.ok()) << status.status().ToString();
  ASSERT_TRUE(status->gc && status->compaction) << "a server with history says how it fares";
  EXPECT_EQ(status->gc->last_run, 0);
  {
    FaultFileIo io;
    io.AddRule({::zenith::testing::FileOp::kRename, "gc_cutoff", 1, FaultRule::kForever,
                ::zenith::testing::Fault::kEio});
    ScopedFileIo scope(io);
    auto gc = client->CollectGarbage("0s");
    EXPECT_FALSE(gc.ok()) << "the cutoff could not be made durable";
    EXPECT_GT(io.faults_injected(), 0);
  }
  status = client->DescribeServer();
  ASSERT_TRUE(status.ok()) << status.status().ToString();
  EXPECT_EQ(status->gc->failing_runs, 1u);
  EXPECT_GT(status->gc->failing_since, 0);
  EXPECT_NE(status->gc->problem.find("gc_cutoff"), std::string::npos) << status->gc->problem;
  EXPECT_GT(status->compaction->last_run, 0) << "gc compacts first";
  EXPECT_EQ(status->compaction->failing_runs, 0u) << status->compaction->problem;

  auto gc = client->CollectGarbage("0s");
  ASSERT_TRUE(gc.ok()) << gc.status().ToString();
  status = client->DescribeServer();
  ASSERT_TRUE(status.ok()) << status.status().ToString();
  EXPECT_EQ(status->gc->failing_runs, 0u) << status->gc->problem;
  EXPECT_EQ(status->gc->problem, "");
  EXPECT_GE(status->gc->last_run, status->compaction->last_run);

  server_.reset();
  server = InProcessServer::Start(repo_.root());
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  server_ = std::move(*server);
  client = RepoClient::Connect(conninfo());
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  status = client->DescribeServer();
  ASSERT_TRUE(status.ok()) << status.status().ToString();
  EXPECT_FALSE(status->gc || status->compaction) << "nothing to say for a server without history";
}

TEST_F(PageServiceTest, LayerFilesAreNotToldToAClientThatMayNotOpenThem) {
  server_.reset();
  auto server = InProcessServer::Start(repo_.root(), {}, /*owner_only=*/false);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  server_ = std::move(*server);
  auto client = RepoClient::Connect(conninfo());
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  auto files = client->LayerFiles("main", layer0_.valid);
  ASSERT_FALSE(files.ok());
  EXPECT_NE(files.status().message().find("only for a client on the page server's machine"), std::string::npos)
      << files.status().ToString();
}

// The roles on the TCP endpoint (pageserver/pq/role.h): a compute machine holds
// .zenith/compute-password, with which it may do what a mount needs and
// nothing that removes or changes the repository's branches and history.
class PageServiceRolesTest : public PageServiceTest {
 protected:
  void SetUp() override {
    PageServiceTest::SetUp();
    server_.reset();
    auto server = InProcessServer::StartWithTcp(repo_.root());
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(*server);
  }
  std::string Password(Role role) {
    auto password = ReadPasswordFile(PasswordFile(repo_.layout(), role));
    EXPECT_TRUE(password.ok()) << password.status().ToString();
    return password.value_or("");
  }
  std::string TcpAs(Role role) { return server_->TcpConnInfo(std::string(RoleName(role)), Password(role)); }
  Result<RepoClient> ClientAs(Role role) { return RepoClient::Connect(TcpAs(role)); }
};

TEST_F(PageServiceRolesTest, AComputeIsRefusedTheOwnersCommandsWith42501AndNothingChanges) {
  PgConn compute = Connect(TcpAs(Role::kCompute));
  ASSERT_EQ(PQstatus(compute.get()), CONNECTION_OK) << PQerrorMessage(compute.get());
  const std::vector<std::string> names = RepoNames();
  for (const std::string& command : std::vector<std::string>{"branch_delete main", "gc 0s", "gc", "compact 0s", "branch_create evil main", "branch_list", "branch_info",
        "snapshot_list main", "layer_files main " + layer0_.valid.ToString()}) {
    for (bool extended : {false, true}) {
      PgResult res = extended ? ExecParams(compute.get(), command, {}) : Exec(compute.get(), command);
      EXPECT_EQ(SqlState(res.get()), "42501") << command << ": " << PQresultErrorMessage(res.get());
      EXPECT_NE(ErrorMessage(res.get()).find("permission denied for role compute"), std::string::npos)
          << ErrorMessage(res.get());
    }
  }
  EXPECT_EQ(RepoNames(), names) << "no branch made or removed";
  auto local = RepoClient::Connect(conninfo());
  ASSERT_TRUE(local.ok()) << local.status().ToString();
  auto status = local->DescribeServer();
  ASSERT_TRUE(status.ok() && status->gc && status->compaction) << status.status().ToString();
  EXPECT_EQ(status->gc->last_run, 0) << "no garbage collection ran";
  EXPECT_EQ(status->compaction->last_run, 0) << "no compaction ran";

  // Through RepoClient, as the CLI sees it: permission denied, said clearly.
  auto client = ClientAs(Role::kCompute);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  Status deleted = client->DeleteBranch("main");
  EXPECT_EQ(deleted.code(), StatusCode::kPermissionDenied) << deleted.ToString();
  EXPECT_NE(deleted.message().find("branch_delete: permission denied for role compute"), std::string::npos)
      << deleted.message();
  EXPECT_EQ(client->CollectGarbage("0s").status().code(), StatusCode::kPermissionDenied);

  // The owner's password may, on the same endpoint.
  auto owner = ClientAs(Role::kZenith);
  ASSERT_TRUE(owner.ok()) << owner.status().ToString();
  EXPECT_TRUE(owner->CreateBranch("dev", "main").ok());
  EXPECT_TRUE(owner->DeleteBranch("dev").ok());
}

TEST_F(PageServiceRolesTest, AComputeMayDoWhatAMountNeeds) {
  auto client = ClientAs(Role::kCompute);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  EXPECT_TRUE(client->DescribeServer().ok());
  auto described = client->DescribeTimeline("main");
  ASSERT_TRUE(described.ok()) << described.status().ToString();
  // A path of this machine is the owner's to name: `zenith stop` and
  // `zenith umount` act on what the mount table says.
  Status local_path = client->Attach("main", "/home/owner/pgdata", 4242).status();
  EXPECT_EQ(local_path.code(), StatusCode::kInvalidArgument) << local_path.ToString();
  auto token = client->Attach("main", "computehost:/srv/pgdata", 4242);
  ASSERT_TRUE(token.ok()) << token.status().ToString();
  EXPECT_EQ(token->size(), 32u);
  auto tar = client->Basebackup("main", /*pin=*/true);
  EXPECT_TRUE(tar.ok()) << tar.status().ToString();
  EXPECT_TRUE(client->PrepareWal("main", layer0_.redo).ok());
  std::string wal;
  EXPECT_TRUE(client->FetchWal("main", layer0_.redo, described->end_of_wal, [&](std::span<const uint8_t> b) {
    wal.append(reinterpret_cast<const char*>(b.data()), b.size());
    return Status::Ok();
  }).ok());
  EXPECT_EQ(wal.size(), described->end_of_wal - layer0_.redo);
  auto mounts = client->Mounts();
  ASSERT_TRUE(mounts.ok() && mounts->size() == 1) << mounts.status().ToString();
  EXPECT_EQ((*mounts)[0].mountpoint, "computehost:/srv/pgdata");
  auto point = client->ResolvePoint("main", "");
  ASSERT_TRUE(point.ok()) << point.status().ToString();
  auto stream = PageStream::Open(TcpAs(Role::kCompute), "main");
  ASSERT_TRUE(stream.ok()) << stream.status().ToString();
  EXPECT_TRUE((*stream)->Nblocks({1663, 1, 1259, ForkNumber::kMain}, layer0_.valid).ok());
}

// An unknown user is answered as a known one is (PostgreSQL's mock
// authentication): a SCRAM exchange with a salt of its own, the same at
// every attempt, and the same iterations; only its proof can never match.
// Nothing in the exchange tells which users exist.
TEST_F(PageServiceRolesTest, AnUnknownUserIsAskedForAPasswordAsAKnownOneIs) {
  // The server-first message's "s=<salt>,i=<iterations>" for `user`.
  auto salt_of = [&](const std::string& user) -> std::string {
    RawClient c(server_->server().tcp_port().value_or(0));
    EXPECT_TRUE(c.connected());
    c.Send(StartupPacket({{"user", user}, {"database", "zenith"}}));
    std::vector<BackendMessage> ms = c.ReadUntil('R');
    const BackendMessage* sasl = FindMessage(ms, 'R');
    if (sasl == nullptr || sasl->body.size() < 4 || LoadBe32Test(sasl->body.data()) != 10) {
      return "no SASL request for " + user;
    }
    const std::string client_first = "n,,n=,r=clientnonce";
    c.Send(Message('p', CStr("SCRAM-SHA-256") + Be32(static_cast<uint32_t>(client_first.size())) + client_first));
    ms = c.ReadUntil('R');
    const BackendMessage* cont = FindMessage(ms, 'R');
    if (cont == nullptr || cont->body.size() < 4 || LoadBe32Test(cont->body.data()) != 11) {
      return "no SASL continue for " + user;
    }
    const std::string server_first = cont->body.substr(4);
    const size_t salt = server_first.find(",s=");
    return salt == std::string::npos ? "no salt in " + server_first : server_first.substr(salt);
  };
  auto iterations = [](const std::string& salt) { return salt.substr(std::min(salt.size(), salt.find(",i="))); };
  const std::string unknown = salt_of("postgres");
  EXPECT_EQ(unknown.rfind(",s=", 0), 0u) << unknown;
  EXPECT_EQ(salt_of("postgres"), unknown) << "the same salt at every attempt, as a real user's";
  const std::string known = salt_of("compute");
  EXPECT_EQ(known.rfind(",s=", 0), 0u) << known;
  EXPECT_NE(known, unknown);
  EXPECT_EQ(known.size(), unknown.size());
  EXPECT_EQ(iterations(known), iterations(unknown));
  EXPECT_EQ(iterations(known), ",i=4096");
}

TEST_F(PageServiceTest, PrepareWalCopiesTheBranchPointSegmentOnce) {
  auto created = RunQuery(conninfo(), "branch_create $1 $2", {"dev", "main"});
  ASSERT_TRUE(created.ok());
  const std::string wal_dir = repo_.layout().wal_dir(*TimelineId::Parse((*created)[0][1]));
  const std::string segment = wal_dir + "/" + WalSegmentFileName(1, layer0_.redo.segment_number());
  EXPECT_FALSE(PathExists(segment)) << "creating a branch copies no WAL";
  ASSERT_TRUE(Query("prepare_wal dev " + layer0_.redo.ToString()).ok());
  ASSERT_TRUE(PathExists(segment));
  auto bytes = ReadFileToString(segment);
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(bytes->size(), kWalSegmentSize);
  ASSERT_TRUE(Query("prepare_wal main " + layer0_.redo.ToString()).ok()) << "nothing to do on main";
  EXPECT_EQ(Query("prepare_wal dev nolsn").code(), StatusCode::kInvalidArgument);
}

// ---- Garbage on the socket ---------------------------------------------------

// A pagestream on a raw socket, for requests no client library would send.
// Reads return as soon as what they wait for has arrived.
class RawPageStream {
 public:
  using Messages = std::vector<BackendMessage>;

  RawPageStream(const std::string& socket_path, const std::string& timeline) {
    fd_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, socket_path.c_str(), sizeof addr.sun_path - 1);
    if (::connect(fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return;
    if (!Send(DefaultStartup()) || !FindMessage(ReadUntil("Z"), 'Z')) return;
    if (!Send(QueryMsg("pagestream " + timeline))) return;
    ok_ = FindMessage(ReadUntil("WE"), 'W') != nullptr;
  }
  bool ok() const { return ok_; }  // the stream is in CopyBoth
  bool closed() const { return closed_; }

  bool Send(std::string_view bytes) {
    for (size_t sent = 0; sent < bytes.size();) {
      ssize_t n = ::send(fd_.get(), bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return false;
      sent += static_cast<size_t>(n);
    }
    return true;
  }
  // Messages until one of `types` arrives, `count` 'd' messages arrived,
  // the server closes, or `timeout` passes.
  Messages ReadUntil(std::string_view types, size_t count = 0,
                     std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    Messages got;
    size_t copy_data = 0;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      for (auto& m : Take()) {
        bool stop = types.find(m.type) != std::string_view::npos;
        copy_data += m.type == 'd';
        got.push_back(std::move(m));
        if (stop || (count > 0 && copy_data >= count)) return got;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (closed_ || left <= std::chrono::milliseconds(0)) return got;
      pollfd pfd = {fd_.get(), POLLIN, 0};
      if (::poll(&pfd, 1, static_cast<int>(left.count())) <= 0) continue;
      char buf[65536];
      ssize_t n = ::recv(fd_.get(), buf, sizeof buf, 0);
      if (n > 0) pending_.append(buf, static_cast<size_t>(n));
      else if (n == 0 || errno != EINTR) closed_ = true;
    }
  }

 private:
  Messages Take() {
    Messages ms = SplitBackend(pending_);
    size_t used = 0;
    for (const auto& m : ms) used += 5 + m.body.size();
    pending_.erase(0, used);
    return ms;
  }

  UniqueFd fd_;
  std::string pending_;
  bool ok_ = false, closed_ = false;
};

std::string RequestBytes(const PageRequest& req) {
  std::string out;
  AppendPageRequest(&out, req);
  return out;
}

TEST_F(PageServiceTest, MalformedPageRequestsEndTheStreamWithAnErrorOnly) {
  const RelTag pg_class{1663, 1, 1259, ForkNumber::kMain};
  std::string good = RequestBytes({PageRequestKind::kGetPage, layer0_.valid, pg_class, 0});
  std::string unknown_kind = good, unknown_fork = good;
  unknown_kind[0] = 9;
  unknown_fork[21] = 7;
  for (const std::string& bad : {std::string(), good.substr(0, 25), good + "x", std::string(100000, 'z'), unknown_kind,
                                 unknown_fork}) {
    RawPageStream stream(server_->socket_path(), "main");
    ASSERT_TRUE(stream.ok());
    ASSERT_TRUE(stream.Send(CopyDataMsg(good) + CopyDataMsg(bad) + CopyDataMsg(good)));
    auto ms = stream.ReadUntil("Z");
    std::string types;
    for (const auto& m : ms) types += m.type;
    EXPECT_EQ(types, "dEZ") << "one page, then the error ends the stream; the request after it is dropped";
    ASSERT_EQ(ms.size(), 3u);
    auto reply = DecodePageReply(AsBytes(ms[0].body));
    ASSERT_TRUE(reply.ok());
    EXPECT_EQ(reply->kind, PageReplyKind::kPage);
    ASSERT_TRUE(stream.Send(QueryMsg("status")));
    EXPECT_TRUE(FindMessage(stream.ReadUntil("Z"), 'D')) << "the connection goes on";
  }
}

TEST_F(PageServiceTest, FramingGarbageInAPageStreamClosesOnlyThatConnection) {
  auto good = Stream();
  ASSERT_NE(good, nullptr);
  for (const std::string& bytes : {"d" + Be32(0x7fffffff), "d" + Be32(2), std::string("\x01\x02\x03garbage", 10),
                                   Message('z', "??")}) {
    RawPageStream stream(server_->socket_path(), "main");
    ASSERT_TRUE(stream.ok());
    ASSERT_TRUE(stream.Send(bytes));
    auto ms = stream.ReadUntil("");
    EXPECT_TRUE(stream.closed());
    ASSERT_FALSE(ms.empty());
    EXPECT_EQ(ErrorField(ms.back(), 'S'), "FATAL");
  }
  auto size = good->Nblocks({1663, 1, 1259, ForkNumber::kMain}, layer0_.valid);
  EXPECT_TRUE(size.ok()) << "a stream opened before the garbage still serves";
}

// Requests beyond the end of WAL wait only briefly here, so that the fuzzer's
// mangled LSNs cost little time.
class PageServiceFuzzTest : public PageServiceTest {
 protected:
  void SetUp() override { StartWith(PageServiceOptions{std::chrono::milliseconds(20)}); }
};

// Hostile clients from a fixed seed while a well-behaved stream reads
// pages and checks every byte: each hostile connection gets replies, an
// error or a close; the good stream never sees a wrong page or an error.
TEST_F(PageServiceFuzzTest, SeededHostileClientsNeverDisturbAGoodOne) {
  auto local = LocalPages::Scan(repo_.initdb_dir());
  ASSERT_TRUE(local.ok());
  std::vector<std::pair<RelTag, uint32_t>> rels(local->sizes.begin(), local->sizes.end());
  std::erase_if(rels, [](const auto& r) { return r.second == 0; });
  ASSERT_FALSE(rels.empty());

  std::atomic<bool> stop{false};
  std::atomic<uint64_t> good_pages{0}, good_failures{0};
  std::thread good([&] {
    auto stream = PageStream::Open(conninfo(), "main");
    if (!stream.ok()) {
      ++good_failures;
      return;
    }
    std::mt19937 pick(7);
    std::vector<uint8_t> page(kPageSize);
    while (!stop) {
      const auto& [rel, nblocks] = rels[pick() % rels.size()];
      uint32_t block[1] = {static_cast<uint32_t>(pick() % nblocks)};
      auto want = LocalPages::Read(repo_.initdb_dir(), rel, block[0]);
      Status s = (*stream)->GetPages(rel, block, layer0_.valid, page);
      if (!s.ok() || !want.ok() || std::string(page.begin(), page.end()) != *want) ++good_failures;
      ++good_pages;
    }
  });

  std::mt19937 rng(20240613);
  auto random_bytes = [&](size_t n) {
    std::string s(n, '\0');
    for (char& c : s) c = static_cast<char>(rng());
    return s;
  };
  auto mutated_request = [&] {
    const auto& [rel, nblocks] = rels[rng() % rels.size()];
    PageRequest req{static_cast<PageRequestKind>(1 + rng() % 3), layer0_.valid, rel, static_cast<uint32_t>(rng() % (2 * nblocks + 1))};
    if (rng() % 8 == 0) req.lsn = Lsn(rng() % layer0_.valid.value);  // before layer 0: nothing visible
    std::string bytes = RequestBytes(req);
    switch (rng() % 10) {
      case 0: bytes[rng() % bytes.size()] = static_cast<char>(rng()); break;
      case 1: bytes.resize(rng() % bytes.size()); break;
      case 2: bytes += random_bytes(1 + rng() % 40); break;
      default: break;  // well-formed
    }
    return bytes;
  };
  int closed = 0, errors = 0, replies = 0;
  for (int round = 0; round < 400; ++round) {
    if (rng() % 4 == 0) {  // bytes that are not the protocol at all
      RawClient raw(server_->socket_path());
      ASSERT_TRUE(raw.connected());
      raw.Send(random_bytes(1 + rng() % 3000));
      raw.Read(std::chrono::milliseconds(20), std::chrono::seconds(1));
      closed += raw.closed();
      continue;
    }
    RawPageStream stream(server_->socket_path(), rng() % 16 == 0 ? "nosuch" : "main");
    if (!stream.ok()) continue;  // the unknown timeline was refused
    std::string batch;
    const int n = 1 + static_cast<int>(rng() % 20);
    for (int i = 0; i < n; ++i) batch += CopyDataMsg(mutated_request());
    const bool garbage = rng() % 5 == 0;
    if (garbage) batch += random_bytes(1 + rng() % 64);  // framing garbage after the requests
    stream.Send(batch);
    // Replies until all n came, an ErrorResponse, or a close; after
    // garbage, until the error or close it causes.
    auto ms = stream.ReadUntil("E", garbage ? 0 : n, std::chrono::seconds(garbage ? 1 : 5));
    bool error = false;
    for (const auto& m : ms) {
      if (m.type == 'd') {
        ASSERT_TRUE(DecodePageReply(AsBytes(m.body)).ok()) << "every reply is well-formed";
        ++replies;
      }
      error |= m.type == 'E';
    }
    errors += error;
    closed += stream.closed();
  }
  stop = true;
  good.join();
  std::cout << "fuzz: " << replies << " replies, " << errors << " errors, " << closed << " closes; good stream read "
            << good_pages << " pages\n";
  EXPECT_EQ(good_failures, 0u);
  EXPECT_GT(good_pages, 100u);
  EXPECT_GT(replies, 100);
  EXPECT_GT(errors, 10);
  EXPECT_GT(closed, 10);
  WaitUntil([&] { return server_->server().active_connections() == 0; }, std::chrono::seconds(10));
  EXPECT_EQ(server_->server().active_connections(), 0) << "every hostile connection ended";
  EXPECT_TRUE(Query("status").ok());
}

}  // namespace
}  // namespace zenith::pageserver::testing
