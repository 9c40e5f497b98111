// RepoClient (pageserver/client/repo_client.h): its typed calls against the
// page service of a real repository, errors arriving with the code the
// server gave them, and replies of the wrong shape (from a stand-in server)
// as kProtocol errors naming the command, never a crash or a wrong value.
#include "pageserver/client/repo_client.h"

#include <gtest/gtest.h>

#include "tests/unit/pageserver/pq_test_support.h"
#include "tests/unit/pageserver/repo_test_support.h"

namespace zenith::pageserver::testing {
namespace {

class RepoClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Status s = repo_.Create();
    ASSERT_TRUE(s.ok()) << s.ToString();
    auto server = InProcessServer::Start(repo_.root());
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(*server);
    auto client = RepoClient::Connect(server_->conninfo());
    ASSERT_TRUE(client.ok()) << client.status().ToString();
    client_.emplace(std::move(*client));
  }

  TestRepo repo_{"repo-client"};
  std::unique_ptr<InProcessServer> server_;
  std::optional<RepoClient> client_;
};

TEST_F(RepoClientTest, BranchesAreCreatedListedDescribedAndDeleted) {
  auto main_tl = client_->DescribeTimeline("main");
  ASSERT_TRUE(main_tl.ok()) << main_tl.status().ToString();
  EXPECT_EQ(main_tl->branch, "main");
  EXPECT_FALSE(main_tl->ancestor.has_value());
  EXPECT_TRUE(main_tl->end_of_wal.valid());
  EXPECT_EQ(main_tl->latest_snapshot, main_tl->end_of_wal) << "the import's shutdown checkpoint ends the WAL";

  auto created = client_->CreateBranch("exp", "main");
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_EQ(created->name, "exp");
  EXPECT_TRUE(created->at_end_of_wal);
  EXPECT_EQ(created->lsn, main_tl->end_of_wal);
  auto at_lsn = client_->CreateBranch("old", "main@" + main_tl->end_of_wal.ToString());
  ASSERT_TRUE(at_lsn.ok()) << at_lsn.status().ToString();
  EXPECT_FALSE(at_lsn->at_end_of_wal);

  auto branches = client_->ListBranches();
  ASSERT_TRUE(branches.ok()) << branches.status().ToString();
  std::map<std::string, BranchEntry> by_name;
  for (const auto& b : *branches) by_name[b.name] = b;
  ASSERT_EQ(by_name.size(), 3u);
  EXPECT_EQ(by_name["exp"].timeline, created->timeline);
  EXPECT_EQ(by_name["exp"].ancestor, main_tl->timeline);
  EXPECT_EQ(by_name["exp"].ancestor_lsn, created->lsn);
  EXPECT_FALSE(by_name["main"].ancestor.has_value());
  EXPECT_FALSE(by_name["main"].ancestor_lsn.valid());

  auto exp = client_->DescribeTimeline(created->timeline.ToString());
  ASSERT_TRUE(exp.ok()) << exp.status().ToString();
  EXPECT_EQ(exp->branch, "exp") << "a timeline id names the same timeline as its branch";

  ASSERT_TRUE(client_->DeleteBranch("exp").ok());
  branches = client_->ListBranches();
  ASSERT_TRUE(branches.ok());
  EXPECT_EQ(branches->size(), 2u);
}

TEST_F(RepoClientTest, ErrorsKeepTheServersCodeAndMessage) {
  auto unknown = client_->DescribeTimeline("nosuch");
  EXPECT_EQ(unknown.status().code(), StatusCode::kNotFound) << unknown.status().ToString();
  EXPECT_NE(unknown.status().message().find("nosuch"), std::string::npos) << unknown.status().message();
  ASSERT_TRUE(client_->CreateBranch("exp", "main").ok());
  EXPECT_EQ(client_->CreateBranch("exp", "main").status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(client_->CreateBranch("x", "main@zz").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(client_->DeleteBranch("nosuch").code(), StatusCode::kNotFound);
  EXPECT_EQ(client_->Basebackup("main; status", false).status().code(), StatusCode::kInvalidArgument)
      << "a target that is not one token never reaches the server";
  // The connection is still in step after every error.
  auto status = client_->DescribeServer();
  ASSERT_TRUE(status.ok()) << status.status().ToString();
  EXPECT_EQ(status->pid, getpid()) << "served in this process";
}

TEST_F(RepoClientTest, MountsAndPinsAreSeenAsTheyAreTaken) {
  auto mounts = client_->Mounts();
  ASSERT_TRUE(mounts.ok()) << mounts.status().ToString();
  EXPECT_TRUE(mounts->empty());
  auto snapshots = client_->ListSnapshots("main");
  ASSERT_TRUE(snapshots.ok() && snapshots->size() == 1) << snapshots.status().ToString();
  ASSERT_TRUE(client_->Attach("main", "/mnt/somewhere", 4242).ok());
  Status pinned = client_->Pin("main", (*snapshots)[0].valid, true);
  ASSERT_TRUE(pinned.ok()) << pinned.ToString();
  mounts = client_->Mounts();
  ASSERT_TRUE(mounts.ok() && mounts->size() == 1) << mounts.status().ToString();
  EXPECT_EQ((*mounts)[0].branch, "main");
  EXPECT_EQ((*mounts)[0].mountpoint, "/mnt/somewhere");
  EXPECT_EQ((*mounts)[0].pid, 4242);
  EXPECT_NE((*mounts)[0].pinned.find((*snapshots)[0].valid.ToString()), std::string::npos) << (*mounts)[0].pinned;
  EXPECT_FALSE((*mounts)[0].read_only);

  // A read-only mount on another connection: no lease, listed with its point.
  auto point = client_->ResolvePoint("main", "");
  ASSERT_TRUE(point.ok()) << point.status().ToString();
  auto reader = RepoClient::Connect(server_->conninfo());
  ASSERT_TRUE(reader.ok());
  auto attached = reader->AttachReadOnly("main", point->lsn, "/mnt/past", 4343);
  ASSERT_TRUE(attached.ok()) << attached.status().ToString();
  EXPECT_EQ(*attached, point->timeline);
  mounts = client_->Mounts();
  ASSERT_TRUE(mounts.ok() && mounts->size() == 2) << mounts.status().ToString();
  EXPECT_TRUE((*mounts)[1].read_only);
  EXPECT_EQ((*mounts)[1].point, point->lsn);
  EXPECT_EQ((*mounts)[1].mountpoint, "/mnt/past");
  EXPECT_EQ(client_->DeleteBranch("main").code(), StatusCode::kBusy) << "mounted, if read-only";
}

TEST_F(RepoClientTest, WalIsFetchedExactlyAsAsked) {
  auto end = client_->ResolvePoint("main", "");
  ASSERT_TRUE(end.ok()) << end.status().ToString();
  const Lsn from = end->lsn.segment_start();
  std::string wal;
  Status s = client_->FetchWal("main", from, end->lsn, [&](std::span<const uint8_t> chunk) {
    wal.append(reinterpret_cast<const char*>(chunk.data()), chunk.size());
    return Status::Ok();
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  auto segment = ReadFileToString(repo_.layout().wal_dir(end->timeline) + "/" +
                                  WalSegmentFileName(kPgTimeLineId, from.segment_number()));
  ASSERT_TRUE(segment.ok());
  EXPECT_EQ(wal, segment->substr(0, end->lsn - from));
  EXPECT_EQ(client_->FetchWal("main", from, end->lsn + 8192, [](auto) { return Status::Ok(); }).code(),
            StatusCode::kInvalidArgument)
      << "beyond the end of WAL";
}

// ---- replies of the wrong shape ----------------------------------------------

// A server whose commands have the page service's names but reply with
// whatever `rows` holds, in `columns` columns.
class StandInServer {
 public:
  StandInServer(size_t columns, std::vector<CommandContext::Row> rows) : dir_("stand-in") {
    std::vector<std::string> names;
    for (size_t i = 0; i < columns; ++i) names.push_back("c" + std::to_string(i));
    CommandTable table;
    for (const char* command : {"status", "branch_list", "branch_create", "branch_info", "timeline_describe",
                                "snapshot_list", "mounts", "gc"}) {
      table.Add({command, std::string(command) + " [<args>...]", names, [rows](CommandContext& ctx) { return ctx.SendRows(rows); }});
    }
    PqServerOptions options;
    options.unix_socket_path = UnixSocketPath(dir_.path(), kServerPort);
    server_ = std::make_unique<PqServer>(options, std::move(table));
    started_ = server_->Start();
  }
  Result<RepoClient> Client() {
    ZENITH_RETURN_IF_ERROR(started_);
    return RepoClient::Connect(PageServerConnString(dir_.path(), kServerPort));
  }

 private:
  zenith::testing::TempDir dir_;
  std::unique_ptr<PqServer> server_;
  Status started_;
};

void ExpectProtocolError(const Status& s, const std::string& command) {
  EXPECT_EQ(s.code(), StatusCode::kProtocol) << s.ToString();
  EXPECT_NE(s.message().find(command), std::string::npos) << s.message();
}

TEST(RepoClientReplies, WrongColumnCountsAreProtocolErrors) {
  StandInServer server(3, {{std::string("a"), std::string("b"), std::string("c")}});
  auto client = server.Client();
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  ExpectProtocolError(client->ListBranches().status(), "branch_list");
  ExpectProtocolError(client->DescribeTimeline("main").status(), "timeline_describe");
  ExpectProtocolError(client->DescribeBranches().status(), "branch_info");
  ExpectProtocolError(client->ListSnapshots("main").status(), "snapshot_list");
  ExpectProtocolError(client->Mounts().status(), "mounts");
  ExpectProtocolError(client->CollectGarbage("").status(), "gc");
  ExpectProtocolError(client->DescribeServer().status(), "status");
}

TEST(RepoClientReplies, ValuesThatDoNotParseAreProtocolErrorsNamingTheColumn) {
  const std::string id = "8cc14bd5052e80a1d482dc87f572e926";
  struct Case {
    std::vector<std::optional<std::string>> row;
    const char* why;
  };
  for (const Case& c : std::vector<Case>{
           {{"main", "not-an-id", std::nullopt, std::nullopt}, "timeline id"},
           {{"main", id, "zz", std::nullopt}, "ancestor id"},
           {{"main", id, id, "0/xyz"}, "LSN"},
       }) {
    StandInServer server(4, {c.row});
    auto client = server.Client();
    ASSERT_TRUE(client.ok()) << client.status().ToString();
    auto branches = client->ListBranches();
    ExpectProtocolError(branches.status(), "branch_list");
    EXPECT_NE(branches.status().message().find("column"), std::string::npos) << c.why;
  }
  StandInServer mounts(7, {{id, "main", "/mnt", "-1", "", "read-write", ""}});
  auto client = mounts.Client();
  ASSERT_TRUE(client.ok());
  ExpectProtocolError(client->Mounts().status(), "mounts");  // a pid is a number
  StandInServer created(4, {{"exp", id, "0/16B3A28", "maybe"}});
  client = created.Client();
  ASSERT_TRUE(client.ok());
  ExpectProtocolError(client->CreateBranch("exp", "main").status(), "branch_create");
  StandInServer two(4, {{"exp", id, "0/1", "t"}, {"exp", id, "0/1", "t"}});
  client = two.Client();
  ASSERT_TRUE(client.ok());
  ExpectProtocolError(client->CreateBranch("exp", "main").status(), "branch_create");  // one branch, one row
  StandInServer status(2, {{"version", "15"}});
  client = status.Client();
  ASSERT_TRUE(client.ok());
  ExpectProtocolError(client->DescribeServer().status(), "status");  // no pid
}

}  // namespace
}  // namespace zenith::pageserver::testing
