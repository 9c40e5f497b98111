// Repository: branch names, refs and metadata on disk, loading timelines
// on first use, damaged metadata, and concurrent branch creation.
#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "tests/unit/pageserver/repo_test_support.h"

namespace zenith::pageserver::testing {
namespace {

TEST(BranchNameTest, OnlyTheDocumentedCharactersAreAllowed) {
  for (const std::string& good : std::vector<std::string>{"main", "a", "A-b_c.1", "0", std::string(64, 'x'), "x..y", "-dash"}) {
    EXPECT_TRUE(ValidateBranchName(good).ok()) << good;
  }
  for (const std::string& bad : std::vector<std::string>{"", ".", "..", ".hidden", "a/b", "../x", "a b", "tab\t", "new\nline", "x@y", "q'",
                                 "caf\xc3\xa9", std::string(65, 'x'), std::string("nul\0x", 5)}) {
    Status s = ValidateBranchName(bad);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(s.message().find("A-Z a-z 0-9 . _ -"), std::string::npos) << s.message();
  }
  // A name FindTimeline would take for a timeline id could never be reached.
  for (const char* id_like : {"0123456789abcdef0123456789abcdef", "0123456789ABCDEF0123456789ABCDEF"}) {
    Status s = ValidateBranchName(id_like);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << id_like;
    EXPECT_NE(s.message().find("reads as a timeline id"), std::string::npos) << s.message();
  }
  EXPECT_TRUE(ValidateBranchName("0123456789abcdef0123456789abcde").ok()) << "31 hex digits are a name";
  EXPECT_TRUE(ValidateBranchName("0123456789abcdef0123456789abcdeg").ok());
}

TEST(TimelineMetadataTest, RoundTripsWithAndWithoutAnAncestor) {
  TimelineMetadata main{*TimelineId::Parse("0123456789abcdef0123456789abcdef"), std::nullopt, Lsn()};
  auto parsed = TimelineMetadata::FromJson(main.ToJson());
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->id, main.id);
  EXPECT_FALSE(parsed->ancestor.has_value());
  TimelineMetadata branch{*TimelineId::Parse("ffffffffffffffffffffffffffffffff"), main.id, Lsn(0x16B3748)};
  parsed = TimelineMetadata::FromJson(branch.ToJson());
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->ancestor, main.id);
  EXPECT_EQ(parsed->ancestor_lsn, Lsn(0x16B3748));
  EXPECT_NE(branch.ToJson().find("\"0/16B3748\""), std::string::npos) << "LSNs are stored as PostgreSQL prints them";
}

TEST(TimelineMetadataTest, MalformedMetadataIsCorruption) {
  for (const char* text : {"", "{", "[]", "{}", R"({"timeline_id": 5})", R"({"timeline_id": "xyz"})",
                           R"({"timeline_id": "0123456789abcdef0123456789abcdef", "ancestor_timeline_id": "zz",
                               "ancestor_lsn": "0/1"})",
                           R"({"timeline_id": "0123456789abcdef0123456789abcdef",
                               "ancestor_timeline_id": "0123456789abcdef0123456789abcdee"})",
                           R"({"timeline_id": "0123456789abcdef0123456789abcdef",
                               "ancestor_timeline_id": "0123456789abcdef0123456789abcdee", "ancestor_lsn": "0/x"})"}) {
    EXPECT_EQ(TimelineMetadata::FromJson(text).status().code(), StatusCode::kCorruption) << text;
  }
}

class RepositoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Status s = repo_.Create();
    ASSERT_TRUE(s.ok()) << s.ToString();
    Open();
  }
  void Open() {
    auto repo = Repository::Open(repo_.root());
    ASSERT_TRUE(repo.ok()) << repo.status().ToString();
    repo_obj_ = std::move(*repo);
  }
  std::vector<std::string> Timelines() {
    auto names = ListDirectory(repo_.layout().timelines_dir());
    EXPECT_TRUE(names.ok());
    return names.ok() ? *names : std::vector<std::string>{};
  }
  TimelineId MainId() { return BranchTimeline(repo_.layout(), "main").value(); }

  TestRepo repo_{"repository"};
  std::unique_ptr<Repository> repo_obj_;
};

TEST_F(RepositoryTest, OpenNeedsAConfigAndSaysHowToMakeOne) {
  auto missing = Repository::Open(repo_.dir().Sub("nowhere"));
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("zenith init"), std::string::npos) << missing.status().message();
  ASSERT_TRUE(WriteFileDurably(repo_.layout().config(), "{\"format\": 1").ok());
  auto broken = Repository::Open(repo_.root());
  EXPECT_EQ(broken.status().code(), StatusCode::kCorruption);
  EXPECT_NE(broken.status().message().find(repo_.layout().config()), std::string::npos) << broken.status().message();
}

TEST_F(RepositoryTest, TimelinesAreLoadedOnFirstUseByBranchOrId) {
  EXPECT_EQ(repo_obj_->loaded_timelines(), 0u);
  auto by_name = repo_obj_->FindTimeline("main");
  ASSERT_TRUE(by_name.ok());
  EXPECT_EQ(repo_obj_->loaded_timelines(), 1u);
  auto by_id = repo_obj_->FindTimeline(MainId().ToString());
  ASSERT_TRUE(by_id.ok());
  EXPECT_EQ(by_id->get(), by_name->get()) << "one Timeline object per timeline";
  EXPECT_EQ(repo_obj_->BranchOf(MainId()), "main");
  EXPECT_EQ(repo_obj_->BranchOf(*TimelineId::Parse("0123456789abcdef0123456789abcdef")), "");

  for (const char* unknown : {"nosuch", "../main", "refs/branches/main", ""}) {
    auto missing = repo_obj_->FindTimeline(unknown);
    EXPECT_EQ(missing.status().code(), StatusCode::kNotFound) << unknown;
    EXPECT_NE(missing.status().message().find("`zenith branch` lists branches"), std::string::npos)
        << missing.status().message();
  }
  EXPECT_EQ(repo_obj_->FindTimeline("0123456789abcdef0123456789abcdef").status().code(), StatusCode::kNotFound);
}

TEST_F(RepositoryTest, BranchesAreListedSortedAndHalfWrittenRefsAreIgnored) {
  for (const char* name : {"zeta", "Alpha", "beta", "_u", "9"}) ASSERT_TRUE(repo_obj_->CreateBranch(name, "main").ok());
  ASSERT_TRUE(WriteFileDurably(repo_.layout().branch_ref(".gamma.tmp.123"), "garbage").ok());
  auto branches = repo_obj_->ListBranches();
  ASSERT_TRUE(branches.ok());
  std::vector<std::string> names;
  for (const auto& b : *branches) names.push_back(b.name);
  EXPECT_EQ(names, (std::vector<std::string>{"9", "Alpha", "_u", "beta", "main", "zeta"}));
}

TEST_F(RepositoryTest, DamagedRefsAndMetadataAreCorruptionNamingTheFile) {
  ASSERT_TRUE(WriteFileDurably(repo_.layout().branch_ref("bad"), "not a timeline id\n").ok());
  auto bad_ref = repo_obj_->FindTimeline("bad");
  EXPECT_EQ(bad_ref.status().code(), StatusCode::kCorruption);
  EXPECT_NE(bad_ref.status().message().find(repo_.layout().branch_ref("bad")), std::string::npos);
  EXPECT_EQ(repo_obj_->ListBranches().status().code(), StatusCode::kCorruption);
  ASSERT_EQ(::unlink(repo_.layout().branch_ref("bad").c_str()), 0);

  ASSERT_TRUE(repo_obj_->CreateBranch("dev", "main").ok());
  const TimelineId dev = BranchTimeline(repo_.layout(), "dev").value();
  const std::string meta = repo_.layout().metadata(dev);
  auto good = ReadFileToString(meta);
  ASSERT_TRUE(good.ok());

  ASSERT_TRUE(WriteFileDurably(meta, "{ torn").ok());
  Open();
  auto torn = repo_obj_->FindTimeline("dev");
  EXPECT_EQ(torn.status().code(), StatusCode::kCorruption);
  EXPECT_NE(torn.status().message().find(meta), std::string::npos) << torn.status().message();

  TimelineMetadata other{MainId(), std::nullopt, Lsn()};
  ASSERT_TRUE(WriteFileDurably(meta, other.ToJson()).ok());
  Open();
  auto wrong = repo_obj_->FindTimeline("dev");
  EXPECT_NE(wrong.status().message().find("names another timeline"), std::string::npos) << wrong.status().message();

  // dev's ancestor is itself: a cycle, refused rather than followed forever.
  TimelineMetadata cyclic{dev, dev, Lsn(0x1000000)};
  ASSERT_TRUE(WriteFileDurably(meta, cyclic.ToJson()).ok());
  Open();
  auto cycle = repo_obj_->FindTimeline("dev");
  EXPECT_EQ(cycle.status().code(), StatusCode::kCorruption);
  EXPECT_NE(cycle.status().message().find("cyclic"), std::string::npos) << cycle.status().message();

  TimelineMetadata orphan{dev, *TimelineId::Parse("0123456789abcdef0123456789abcdef"), Lsn(0x1000000)};
  ASSERT_TRUE(WriteFileDurably(meta, orphan.ToJson()).ok());
  Open();
  EXPECT_EQ(repo_obj_->FindTimeline("dev").status().code(), StatusCode::kNotFound);

  ASSERT_TRUE(WriteFileDurably(meta, *good).ok());
  Open();
  EXPECT_TRUE(repo_obj_->FindTimeline("dev").ok());
}

TEST_F(RepositoryTest, ConcurrentBranchCreationLeavesAConsistentRepository) {
  constexpr int kDistinct = 12, kRacers = 8;
  std::vector<Status> distinct(kDistinct), racers(kRacers);
  std::vector<std::thread> threads;
  for (int i = 0; i < kDistinct; ++i) {
    threads.emplace_back([&, i] { distinct[i] = repo_obj_->CreateBranch("b" + std::to_string(i), "main").status(); });
  }
  for (int i = 0; i < kRacers; ++i) {
    threads.emplace_back([&, i] { racers[i] = repo_obj_->CreateBranch("same", i % 2 ? "main" : "b0").status(); });
  }
  for (auto& t : threads) t.join();
  for (const Status& s : distinct) EXPECT_TRUE(s.ok()) << s.ToString();
  int won = 0;
  for (const Status& s : racers) {
    if (s.ok()) {
      ++won;
    } else if (s.code() != StatusCode::kNotFound) {  // "b0" may not exist yet
      EXPECT_EQ(s.code(), StatusCode::kAlreadyExists) << s.ToString();
    }
  }
  EXPECT_EQ(won, 1) << "exactly one creator of 'same' wins";

  auto branches = repo_obj_->ListBranches();
  ASSERT_TRUE(branches.ok());
  EXPECT_EQ(branches->size(), 1u + kDistinct + 1u);
  std::set<std::string> ids;
  for (const auto& b : *branches) ids.insert(b.timeline.ToString());
  EXPECT_EQ(ids.size(), branches->size()) << "every branch has its own timeline";
  auto on_disk = Timelines();
  EXPECT_EQ(std::set<std::string>(on_disk.begin(), on_disk.end()), ids) << "no timeline without a ref";
  Open();
  for (const auto& b : *branches) EXPECT_TRUE(repo_obj_->FindTimeline(b.name).ok()) << b.name;
}

TEST_F(RepositoryTest, RefusedBranchCreationWritesNothing) {
  const auto before = Timelines();
  EXPECT_FALSE(repo_obj_->CreateBranch("x", "nosuch").ok());
  EXPECT_FALSE(repo_obj_->CreateBranch("main", "main").ok());
  EXPECT_FALSE(repo_obj_->CreateBranch("bad name", "main").ok());
  EXPECT_FALSE(repo_obj_->CreateBranch("x", "main@nonsense").ok());
  EXPECT_FALSE(repo_obj_->CreateBranch("x", "main@FFFFFFFF/FFFFFFFF").ok());
  EXPECT_FALSE(repo_obj_->CreateBranch("x", "main@0/10").ok());
  EXPECT_EQ(Timelines(), before);
  auto names = ListDirectory(repo_.layout().branches_dir());
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(*names, std::vector<std::string>{"main"});
}

}  // namespace
}  // namespace zenith::pageserver::testing
