// Repository::ResetBranch (pageserver/repo/branch_reset.cc): a branch shows its
// parent again under the same name, the old state stays reachable, and a
// process that dies at any step leaves the repository as before the reset
// or, once the page server starts again, as after it: never between.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include "tests/unit/pageserver/repo_test_support.h"

namespace zenith::pageserver::testing {
namespace {

class BranchResetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(repo_.Create().ok());
    auto repo = Repository::Open(repo_.root());
    ASSERT_TRUE(repo.ok());
    ASSERT_TRUE((*repo)->CreateBranch("exp", "main").ok());
    exp_ = BranchTimeline(repo_.layout(), "exp").value();
  }
  std::unique_ptr<Repository> Reopened() {
    auto repo = Repository::Open(repo_.root());
    EXPECT_TRUE(repo.ok());
    Status s = (*repo)->FinishInterruptedReset();
    EXPECT_TRUE(s.ok()) << s.ToString();
    return std::move(*repo);
  }
  // Runs a reset of exp (kept as "old") in a child process that ends
  // itself, as kill -9 would, right after `step` is durable.
  void ResetDyingAt(const std::string& step) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      auto repo = Repository::Open(repo_.root());
      if (!repo.ok()) _exit(2);
      (*repo)->SetResetStepHookForTest([&](std::string_view at) {
        if (at == step) _exit(0);
      });
      auto reset = (*repo)->ResetBranch("exp", "main", "old");
      _exit(reset.ok() ? 3 : 4);
    }
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    ASSERT_EQ(WEXITSTATUS(status), 0) << "the reset did not reach step " << step;
  }
  bool Before(Repository& repo) {
    auto exp = BranchTimeline(repo_.layout(), "exp");
    return exp.ok() && *exp == exp_ && !PathExists(repo_.layout().branch_ref("old")) && repo.BranchOf(exp_) == "exp";
  }
  bool After(Repository&) {
    auto exp = BranchTimeline(repo_.layout(), "exp");
    auto old = BranchTimeline(repo_.layout(), "old");
    return exp.ok() && old.ok() && *old == exp_ && *exp != exp_ && !PathExists(repo_.layout().reset_journal());
  }

  size_t Timelines() { return ListDirectory(repo_.layout().timelines_dir()).value_or(std::vector<std::string>{}).size(); }

  TestRepo repo_{"branch-reset"};
  TimelineId exp_;
};

TEST_F(BranchResetTest, TheBranchShowsItsParentAgainAndTheOldStateIsKept) {
  auto repo = Reopened();
  auto reset = repo->ResetBranch("exp", "", "old");
  ASSERT_TRUE(reset.ok()) << reset.status().ToString();
  EXPECT_EQ(reset->parent, "main");
  EXPECT_TRUE(reset->at_end_of_wal);
  EXPECT_EQ(reset->old_timeline, exp_);
  EXPECT_TRUE(After(*repo));
  auto tl = repo->FindTimeline("exp");
  ASSERT_TRUE(tl.ok());
  ASSERT_TRUE((*tl)->ancestor());
  EXPECT_EQ((*tl)->ancestor()->id(), BranchTimeline(repo_.layout(), "main").value());
  EXPECT_EQ((*tl)->ancestor_lsn(), reset->lsn);
}

TEST_F(BranchResetTest, RefusalsChangeNothing) {
  auto repo = Reopened();
  EXPECT_EQ(repo->ResetBranch("nosuch", "", "").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(repo->ResetBranch("main", "", "").status().code(), StatusCode::kInvalidArgument) << "main has no parent";
  EXPECT_EQ(repo->ResetBranch("exp", "nosuch", "").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(repo->ResetBranch("exp", "main@0/1", "").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(repo->ResetBranch("exp", "main@zz", "").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(repo->ResetBranch("exp", "", "main").status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(repo->ResetBranch("exp", "", "exp").status().code(), StatusCode::kInvalidArgument);
  MountInfo mount{exp_, "exp", "/mnt/exp", 4242, 7};
  ASSERT_TRUE(repo->Attach(mount).ok());
  auto busy = repo->ResetBranch("exp", "", "old");
  EXPECT_EQ(busy.status().code(), StatusCode::kBusy);
  EXPECT_NE(busy.status().message().find("/mnt/exp"), std::string::npos) << busy.status().message();
  repo->Detach(exp_, 7);
  EXPECT_TRUE(Before(*repo));
  EXPECT_EQ(Timelines(), 2u) << "no timeline is left of a refused reset";
}

TEST_F(BranchResetTest, ADeathBeforeTheJournalLeavesTheRepositoryAsBefore) {
  ResetDyingAt("timeline");
  auto repo = Reopened();
  EXPECT_TRUE(Before(*repo));
}

TEST_F(BranchResetTest, ADeathAfterTheJournalIsCompletedAtTheNextStart) {
  for (const std::string step : {"journal", "keep", "ref"}) {
    SCOPED_TRACE(step);
    ResetDyingAt(step);
    EXPECT_TRUE(PathExists(repo_.layout().reset_journal()));
    auto repo = Reopened();
    EXPECT_TRUE(After(*repo));
    // Back to the starting point for the next step: exp at its old timeline.
    ASSERT_TRUE(WriteFileDurably(repo_.layout().branch_ref("exp"), exp_.ToString() + "\n", 0644).ok());
    ASSERT_TRUE(RemoveFile(repo_.layout().branch_ref("old")).ok());
  }
}

}  // namespace
}  // namespace zenith::pageserver::testing
