// fs/mount_plan.h: zenith-fs's command line (with its environment
// fallbacks) and the plan it makes, without mounting anything.
#include "fs/mount_plan.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <vector>

namespace zenith::fs {
namespace {

// Parses `args` as zenith-fs's command line.
Result<MountPlan> Plan(std::vector<std::string> args) {
  CLI::App app;
  MountOptions options;
  AddMountOptions(app, options);
  std::reverse(args.begin(), args.end());  // CLI11 takes them last first
  try {
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    return InvalidArgument(std::string("parse: ") + e.what());
  }
  return PlanMount(options);
}

// Sets an environment variable for one test.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) { setenv(name, value, 1); }
  ~ScopedEnv() { unsetenv(name_); }

 private:
  const char* name_;
};

TEST(MountPlan, ARepoMakesALocalReadWriteMountWithItsDefaults) {
  auto plan = Plan({"--repo", "/r/.zenith", "--branch", "main", "--mountpoint", "/m", "--ready-fd", "3"});
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  EXPECT_EQ(plan->kind, MountKind::kLocal);
  EXPECT_FALSE(plan->remote());
  EXPECT_EQ(plan->repo, "/r/.zenith");
  EXPECT_EQ(plan->branch, "main");
  EXPECT_EQ(plan->mountpoint, "/m");
  EXPECT_EQ(plan->ready_fd, 3);
  EXPECT_EQ(plan->LeaseLabel(), "/m");
  EXPECT_TRUE(plan->local_layers);
  EXPECT_TRUE(plan->prewarm);
  EXPECT_EQ(plan->readahead_pages, 0u) << "read-ahead is off by default";
  EXPECT_EQ(plan->fuse_device, "/dev/fuse");
}

TEST(MountPlan, APointMakesAReadOnlyMount) {
  auto plan = Plan({"--repo", "/r", "--branch", "main", "--mountpoint", "/m", "--read-only-at", "0/16B3748"});
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  EXPECT_EQ(plan->kind, MountKind::kReadOnly);
  EXPECT_EQ(plan->read_only_at, *Lsn::Parse("0/16B3748"));

  auto bad = Plan({"--repo", "/r", "--branch", "main", "--mountpoint", "/m", "--read-only-at", "xyz"});
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message(), "'xyz' is not an LSN");
}

TEST(MountPlan, APageServerURLMakesARemoteMountWhosePasswordStaysOutOfTheURL) {
  auto plan = Plan({"--pageserver", "postgresql://compute:s3cret@db1:6400", "--scratch", "/s", "--ca", "/ca.pem",
                    "--branch", "main", "--mountpoint", "/m"});
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  EXPECT_EQ(plan->kind, MountKind::kRemote);
  EXPECT_EQ(plan->password, "s3cret");
  EXPECT_EQ(plan->pageserver.find("s3cret"), std::string::npos) << plan->pageserver;
  EXPECT_NE(plan->pageserver.find("db1"), std::string::npos) << plan->pageserver;
  EXPECT_EQ(plan->scratch, "/s");
  EXPECT_EQ(plan->ca, "/ca.pem");
  EXPECT_FALSE(plan->local_layers) << "a remote mount's layer files are not on this machine";
  EXPECT_NE(plan->LeaseLabel(), "/m");
  EXPECT_TRUE(plan->LeaseLabel().ends_with(":/m")) << plan->LeaseLabel();

  auto no_password = Plan({"--pageserver", "postgresql://compute@db1:6400", "--scratch", "/s", "--branch", "main",
                           "--mountpoint", "/m"});
  ASSERT_TRUE(no_password.ok()) << no_password.status().message();
  EXPECT_EQ(no_password->password, "");
}

TEST(MountPlan, OptionsThatMakeNoPlanAreRefusedWithAClearError) {
  const std::string want = "give --repo, or --pageserver with --scratch (read-write mounts only)";
  // Neither --repo nor --pageserver.
  EXPECT_EQ(Plan({"--branch", "main", "--mountpoint", "/m"}).status().message(), want);
  // A remote mount needs its scratch.
  EXPECT_EQ(Plan({"--pageserver", "postgresql://c@h:1", "--branch", "b", "--mountpoint", "/m"}).status().message(),
            want);
  // Remote mounts are read-write only.
  EXPECT_EQ(Plan({"--pageserver", "postgresql://c@h:1", "--scratch", "/s", "--branch", "b", "--mountpoint", "/m",
                  "--read-only-at", "0/1"})
                .status()
                .message(),
            want);
  // Both --repo and --pageserver: CLI11 refuses the pair.
  EXPECT_FALSE(Plan({"--repo", "/r", "--pageserver", "postgresql://c@h:1", "--scratch", "/s", "--branch", "b",
                     "--mountpoint", "/m"})
                   .ok());
  // A URL libpq cannot parse; the message quotes none of it.
  auto bad_url = Plan({"--pageserver", "host=h password='s3cret", "--scratch", "/s", "--branch", "b", "--mountpoint", "/m"});
  ASSERT_FALSE(bad_url.ok());
  EXPECT_EQ(bad_url.status().message().find("s3cret"), std::string::npos) << bad_url.status().message();
  // The branch and the mountpoint are required.
  EXPECT_FALSE(Plan({"--repo", "/r", "--mountpoint", "/m"}).ok());
  EXPECT_FALSE(Plan({"--repo", "/r", "--branch", "b"}).ok());
}

TEST(MountPlan, TheKnobsComeFromTheCommandLine) {
  auto plan = Plan({"--repo", "/r", "--branch", "b", "--mountpoint", "/m", "--readahead-mb", "64", "--local-layers",
                    "0", "--prewarm", "0", "--fuse-device", "/dev/null"});
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  EXPECT_EQ(plan->readahead_pages, 64u * 1024 * 1024 / 8192);
  EXPECT_FALSE(plan->local_layers);
  EXPECT_FALSE(plan->prewarm);
  EXPECT_EQ(plan->fuse_device, "/dev/null");

  auto negative = Plan({"--repo", "/r", "--branch", "b", "--mountpoint", "/m", "--readahead-mb", "-5"});
  ASSERT_TRUE(negative.ok());
  EXPECT_EQ(negative->readahead_pages, 0u);
}

// The tests and benchmarks set these on `zenith mount`, which passes its
// environment to zenith-fs.
TEST(MountPlan, TheOldEnvironmentKnobsStillWorkWhenTheOptionIsNotGiven) {
  ScopedEnv readahead("ZENITH_FS_READAHEAD_MB", "8");
  ScopedEnv local("ZENITH_FS_LOCAL_LAYERS", "0");
  ScopedEnv prewarm("ZENITH_FS_PREWARM", "0");
  ScopedEnv device("ZENITH_FUSE_DEVICE", "/nowhere/fuse");
  auto plan = Plan({"--repo", "/r", "--branch", "b", "--mountpoint", "/m"});
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  EXPECT_EQ(plan->readahead_pages, 8u * 1024 * 1024 / 8192);
  EXPECT_FALSE(plan->local_layers);
  EXPECT_FALSE(plan->prewarm);
  EXPECT_EQ(plan->fuse_device, "/nowhere/fuse");

  auto given = Plan({"--repo", "/r", "--branch", "b", "--mountpoint", "/m", "--local-layers", "1"});
  ASSERT_TRUE(given.ok());
  EXPECT_TRUE(given->local_layers) << "the command line wins over the environment";
}

}  // namespace
}  // namespace zenith::fs
