// zenith attach s3://BUCKET/PREFIX against a real Ceph RGW: a repository
// whose whole working directory was lost (every process killed with -9,
// repository, scratch and mounts deleted) comes back from its bucket on
// another directory with every branch and every acknowledged commit; an
// attach takes the repository over from the page server that was its
// owner; attach downloads no layer (the page server reads them on demand),
// and a damaged one is refused naming its object when read, never served;
// an empty prefix or an existing repository is refused with a clear error
// and leaves nothing behind.
#include <algorithm>
#include <chrono>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/file_util.h"
#include "pageserver/s3/s3_client.h"
#include "pageserver/s3/timeline_index.h"
#include "tests/harness/compute.h"
#include "tests/harness/s3_test_client.h"
#include "tests/harness/s3_test_env.h"
#include "tests/harness/temp_dir.h"
#include "tests/harness/wait.h"
#include "tests/harness/zenith_env.h"

namespace zenith::testing {
namespace {

void UseBucket(ZenithEnv& env, const TempDir& dir, const S3TestEnv& s3env) {
  for (const auto& [k, v] : s3env.vars) env.SetEnv(k, v);
  env.SetEnv("HOME", dir.path());
}

void InitWithRemote(ZenithEnv& env, const TempDir& dir, const S3TestEnv& s3env, const std::string& url) {
  UseBucket(env, dir, s3env);
  ASSERT_TRUE(env.MustZenith({"init", "--auth", "trust", "--remote", url}).ok());
  env.Zenith({"pageserver", "stop"});
  auto config = nlohmann::json::parse(ReadFileToString(env.repo() + "/config").value());
  config["remote"]["wal_upload_interval"] = 0.5;
  ASSERT_TRUE(WriteFileDurably(env.repo() + "/config", config.dump(2)).ok());
}

// kill -9 every process of this repository (page server, mount daemons),
// then the directory goes: repository, scratch, mount points.
void LoseEverything(ZenithEnv& env, const TempDir& dir, const std::vector<std::string>& mounts) {
  std::vector<pid_t> pids = ProcessesWithArgument(env.repo());
  for (const auto& m : mounts) {
    for (pid_t pid : ProcessesWithArgument(m)) pids.push_back(pid);
  }
  if (pid_t ps = PageServerPid(env)) pids.push_back(ps);
  for (pid_t pid : pids) KillTree(pid);
  for (const auto& m : mounts) RunCommand({"fusermount3", "-u", "-z", m}, {.timeout = std::chrono::seconds(10)});
  ASSERT_TRUE(RemoveTree(env.repo()).ok());
  for (const auto& m : mounts) ASSERT_TRUE(RemoveTree(m).ok());
  ASSERT_FALSE(PathExists(dir.path() + "/.zenith"));
}

// The timeline of `branch`, from `zenith branch -v --json` ("" and a test
// failure if it is not there).
std::string TimelineOf(const ZenithEnv& env, const std::string& branch) {
  auto branches = nlohmann::json::parse(env.MustZenith({"branch", "-v", "--json"}).out, nullptr, false);
  if (!branches.is_discarded()) {
    for (const auto& b : branches["branches"]) {
      if (b["name"] == branch) return b["timeline"];
    }
  }
  ADD_FAILURE() << "no branch " << branch << " in " << branches.dump();
  return "";
}

TEST(Attach, AWholeLostDirectoryComesBackFromTheBucketWithEveryBranchAndCommit) {
  ZENITH_REQUIRE_S3(s3env);
  const std::string url = "s3://" + s3env.bucket + "/" + S3TestEnv::UniquePrefix() + "/repo";
  TempDir old_dir;
  ZenithEnv old_env(old_dir);
  InitWithRemote(old_env, old_dir, s3env, url);
  ASSERT_TRUE(old_env.MustZenith({"mount", "main", old_dir.Sub("main")}).ok());
  Compute main(old_env, "main", FreePort());
  main.Start();
  ASSERT_TRUE(Pgbench(main, {"-i", "-s", "2", "-q"}).ok());
  main.Query("checkpoint");
  ASSERT_TRUE(Pgbench(main, {"-c", "2", "-t", "200", "-n"}).ok());
  main.Query("create table marker (what text); insert into marker values ('before the branch point')");
  const std::string past = main.Query("select pg_current_wal_lsn()");
  main.Query("insert into marker values ('after the branch point')");
  main.Query("checkpoint");
  ASSERT_TRUE(Pgbench(main, {"-c", "2", "-t", "100", "-n"}).ok());
  ASSERT_TRUE(old_env.MustZenith({"branch", "past", "main@" + past}).ok());
  // "later" is in the bucket before it has WAL of its own; then it writes
  // some, in the segment it shares with main.
  ASSERT_TRUE(old_env.MustZenith({"branch", "later", "main"}).ok());
  ASSERT_TRUE(old_env.MustZenith({"remote", "sync", "--timeout", "120"}).ok());
  ASSERT_TRUE(old_env.MustZenith({"mount", "later", old_dir.Sub("later")}).ok());
  Compute later(old_env, "later", FreePort());
  later.Start();
  later.Query("insert into marker values ('on later')");
  ASSERT_TRUE(later.pg().Stop().ok());
  ASSERT_TRUE(old_env.MustZenith({"umount", old_dir.Sub("later")}).ok());
  const std::string dump = PgDump(main.ConnArgs());
  const std::string history = main.Query("select count(*) from pgbench_history");
  ASSERT_TRUE(old_env.MustZenith({"remote", "sync", "--timeout", "120"}).ok());
  main.Crash();
  LoseEverything(old_env, old_dir, {old_dir.Sub("main")});

  TempDir dir;
  ZenithEnv env(dir);
  UseBucket(env, dir, s3env);
  RunResult attach = env.MustZenith({"attach", url});
  ASSERT_TRUE(attach.ok());
  EXPECT_NE(attach.out.find("attached as generation 2: 3 branches"), std::string::npos) << attach.out;
  EXPECT_NE(attach.out.find("stay in the bucket"), std::string::npos) << attach.out;
  EXPECT_EQ(env.MustZenith({"branch"}).out, "later\nmain\npast\n");
  ASSERT_TRUE(env.MustZenith({"mount", "main", dir.Sub("main")}).ok());
  ASSERT_TRUE(env.MustZenith({"mount", "past", dir.Sub("past")}).ok());
  Compute again(env, "main", FreePort());
  again.Start();
  EXPECT_EQ(again.Query("select count(*) from pgbench_history"), history);
  EXPECT_EQ(PgDump(again.ConnArgs()), dump) << "main differs from before the loss";
  RunResult amcheck = Amcheck(again);
  EXPECT_TRUE(amcheck.ok() && amcheck.out.empty()) << amcheck.Describe();
  Compute at_past(env, "past", FreePort());
  at_past.Start();
  EXPECT_EQ(at_past.Query("select what from marker"), "before the branch point");
  ASSERT_TRUE(env.MustZenith({"mount", "later", dir.Sub("later")}).ok());
  Compute at_later(env, "later", FreePort());
  at_later.Start();
  EXPECT_EQ(at_later.Query("select count(*) from marker where what = 'on later'"), "1");
  ASSERT_TRUE(at_later.pg().Stop().ok());

  // The new owner publishes: a commit here reaches the bucket.
  again.Query("insert into marker values ('after the attach')");
  EXPECT_TRUE(env.MustZenith({"remote", "sync", "--timeout", "60"}).ok());
  ASSERT_TRUE(again.pg().Stop().ok());
  ASSERT_TRUE(at_past.pg().Stop().ok());
}

// A prepared branch keeps its first readable point through the bucket: the
// attached repository refuses what was before its script, as the lost one did.
TEST(Attach, APreparedBranchStaysMasked) {
  ZENITH_REQUIRE_S3(s3env);
  const std::string url = "s3://" + s3env.bucket + "/" + S3TestEnv::UniquePrefix() + "/repo";
  TempDir old_dir;
  ZenithEnv old_env(old_dir);
  InitWithRemote(old_env, old_dir, s3env, url);
  old_env.SetEnv("TMPDIR", old_dir.path());
  ASSERT_TRUE(old_env.MustZenith({"mount", "main", old_dir.Sub("main")}).ok());
  Compute main(old_env, "main", FreePort());
  main.Start();
  main.Query("create table users (email text); insert into users values ('alice@example.com'); checkpoint");
  const std::string before = main.Query("select pg_current_wal_insert_lsn()");
  ASSERT_TRUE(main.pg().Stop().ok());
  ASSERT_TRUE(old_env.MustZenith({"umount", old_dir.Sub("main")}).ok());
  ASSERT_TRUE(WriteFileDurably(old_dir.Sub("mask.sql"), "update users set email = 'masked';\n").ok());
  ASSERT_TRUE(old_env.MustZenith({"branch", "dev", "main", "--sql", old_dir.Sub("mask.sql")}).ok());
  ASSERT_TRUE(old_env.MustZenith({"remote", "sync", "--timeout", "120"}).ok());
  LoseEverything(old_env, old_dir, {});

  TempDir dir;
  ZenithEnv env(dir);
  UseBucket(env, dir, s3env);
  ASSERT_TRUE(env.MustZenith({"attach", url}).ok());
  EXPECT_EQ(env.MustZenith({"branch"}).out, "dev\nmain\n");
  RunResult early = env.Zenith({"mount", "--read-only", "dev@" + before, dir.Sub("early")});
  EXPECT_EQ(early.exit_code, 1) << early.Describe();
  EXPECT_NE(early.err.find("first readable point of branch 'dev'"), std::string::npos) << early.Describe();
  ASSERT_TRUE(env.MustZenith({"mount", "dev", dir.Sub("dev")}).ok());
  Compute dev(env, "dev", FreePort());
  dev.Start();
  EXPECT_EQ(dev.Query("select email from users"), "masked");
  ASSERT_TRUE(dev.pg().Stop().ok());
}

// Detached branches keep their reads through the bucket without their old
// parent: its image and the WAL it needs went up under the branch, the
// parent's objects leave the bucket once it is deleted, and an attach reads
// each branch as it was. "quiet" was never mounted, so all it reads below
// its branch point is the image and the parent's WAL, now its own.
TEST(Attach, ADetachedBranchComesBackWithoutItsDeletedParent) {
  ZENITH_REQUIRE_S3(s3env);
  const std::string url = "s3://" + s3env.bucket + "/" + S3TestEnv::UniquePrefix() + "/repo";
  TempDir old_dir;
  ZenithEnv old_env(old_dir);
  InitWithRemote(old_env, old_dir, s3env, url);
  ASSERT_TRUE(old_env.MustZenith({"mount", "main", old_dir.Sub("main")}).ok());
  Compute main(old_env, "main", FreePort());
  main.Start();
  main.Query("create table t (who text, i int); insert into t select 'main', g from generate_series(1, 2000) g; checkpoint");
  main.Query("insert into t values ('main', 0)");  // after main's snapshot: the branches replay it
  ASSERT_TRUE(old_env.MustZenith({"branch", "exp", "main"}).ok());
  ASSERT_TRUE(old_env.MustZenith({"branch", "quiet", "main"}).ok());
  main.Query("insert into t values ('main after the branch point', 0)");
  ASSERT_TRUE(main.pg().Stop().ok());
  ASSERT_TRUE(old_env.MustZenith({"umount", old_dir.Sub("main")}).ok());
  ASSERT_TRUE(old_env.MustZenith({"mount", "exp", old_dir.Sub("exp")}).ok());
  Compute exp(old_env, "exp", FreePort());
  exp.Start();
  exp.Query("insert into t values ('exp', 1)");
  ASSERT_TRUE(exp.pg().Stop().ok());
  ASSERT_TRUE(old_env.MustZenith({"umount", old_dir.Sub("exp")}).ok());
  const std::string quiet_before = DumpAt(old_env, "quiet", "", FreePort());
  const std::string exp_before = DumpAt(old_env, "exp", "", FreePort());
  ASSERT_NE(quiet_before.find("main\t0\n"), std::string::npos);
  ASSERT_EQ(quiet_before.find("after the branch point"), std::string::npos);
  const std::string main_timeline = TimelineOf(old_env, "main");
  ASSERT_FALSE(main_timeline.empty());
  ASSERT_TRUE(old_env.MustZenith({"remote", "sync", "--timeout", "120"}).ok());

  ASSERT_TRUE(old_env.MustZenith({"branch", "detach", "quiet"}).ok());
  ASSERT_TRUE(old_env.MustZenith({"branch", "detach", "exp"}).ok());
  ASSERT_TRUE(old_env.MustZenith({"branch", "delete", "main"}).ok());
  ASSERT_TRUE(old_env.MustZenith({"remote", "sync", "--timeout", "120"}).ok());
  s3::S3Client client = TestBucketClient(s3env);
  const std::string main_prefix = s3::TimelinePrefix(s3::ParseS3Url(url).value(), main_timeline);
  EXPECT_TRUE(WaitUntil(
      [&] {
        auto listed = client.ListAll(main_prefix);
        return listed.ok() && listed->empty();
      },
      std::chrono::seconds(30)))
      << "the deleted parent's objects stay in the bucket";
  LoseEverything(old_env, old_dir, {});

  TempDir dir;
  ZenithEnv env(dir);
  UseBucket(env, dir, s3env);
  ASSERT_TRUE(env.MustZenith({"attach", url}).ok());
  EXPECT_EQ(env.MustZenith({"branch"}).out, "exp\nquiet\n");
  EXPECT_EQ(DumpAt(env, "quiet", "", FreePort()), quiet_before) << "quiet's image or its WAL did not come back";
  EXPECT_EQ(DumpAt(env, "exp", "", FreePort()), exp_before);
}

// No `remote sync`: the directory is lost while commits go on. Every commit
// acknowledged more than the upload interval (0.5 s) and a pass's time
// before the kill is in the bucket; 5 s of margin covers a slow pass.
TEST(Attach, UnderLoadEveryCommitOlderThanTheUploadLagComesBack) {
  ZENITH_REQUIRE_S3(s3env);
  const std::string url = "s3://" + s3env.bucket + "/" + S3TestEnv::UniquePrefix() + "/repo";
  TempDir old_dir;
  ZenithEnv old_env(old_dir);
  InitWithRemote(old_env, old_dir, s3env, url);
  ASSERT_TRUE(old_env.MustZenith({"mount", "main", old_dir.Sub("main")}).ok());
  Compute main(old_env, "main", FreePort());
  main.Start();
  main.Query("create table acked (id int primary key)");
  auto conn = PgConnection::Open(main.pg().ConnString());
  ASSERT_TRUE(conn.ok()) << conn.status().ToString();
  using Clock = std::chrono::steady_clock;
  std::vector<Clock::time_point> acked_at;
  const auto until = Clock::now() + std::chrono::seconds(12);
  while (Clock::now() < until) {
    const int id = static_cast<int>(acked_at.size()) + 1;
    ASSERT_TRUE((*conn)->Query("insert into acked values (" + std::to_string(id) + ")").ok());
    acked_at.push_back(Clock::now());
  }
  const auto killed_at = Clock::now();
  main.Crash();
  LoseEverything(old_env, old_dir, {old_dir.Sub("main")});
  int old_enough = 0;
  while (old_enough < static_cast<int>(acked_at.size()) &&
         acked_at[old_enough] < killed_at - std::chrono::seconds(5)) {
    ++old_enough;
  }
  ASSERT_GT(old_enough, 100) << "too few commits to tell anything";

  TempDir dir;
  ZenithEnv env(dir);
  UseBucket(env, dir, s3env);
  ASSERT_TRUE(env.MustZenith({"attach", url}).ok());
  ASSERT_TRUE(env.MustZenith({"mount", "main", dir.Sub("main")}).ok());
  Compute again(env, "main", FreePort());
  again.Start();
  EXPECT_EQ(again.Query("select count(*) from acked where id <= " + std::to_string(old_enough)),
            std::to_string(old_enough))
      << acked_at.size() << " commits acknowledged; every one older than 5 s must be back";
  ASSERT_TRUE(again.pg().Stop().ok());
}

TEST(Attach, TheNewOwnerSupersedesTheOldOneWhichPublishesNothingMore) {
  ZENITH_REQUIRE_S3(s3env);
  const std::string url = "s3://" + s3env.bucket + "/" + S3TestEnv::UniquePrefix() + "/repo";
  TempDir old_dir;
  ZenithEnv old_env(old_dir);
  InitWithRemote(old_env, old_dir, s3env, url);
  ASSERT_TRUE(old_env.MustZenith({"pageserver", "start"}).ok());
  ASSERT_TRUE(old_env.MustZenith({"remote", "sync", "--timeout", "60"}).ok());

  TempDir dir;
  ZenithEnv env(dir);
  UseBucket(env, dir, s3env);
  ASSERT_TRUE(env.MustZenith({"attach", url}).ok());
  ASSERT_TRUE(old_env.MustZenith({"branch", "late", "main"}).ok());
  RunResult sync = old_env.Zenith({"remote", "sync", "--timeout", "5"});
  EXPECT_FALSE(sync.ok());
  EXPECT_NE(sync.err.find("superseded"), std::string::npos) << sync.Describe();
  EXPECT_NE(old_env.MustZenith({"pageserver", "status"}).out.find("superseded"), std::string::npos);

  // The new owner's refs are its own; the old one's late branch is not among them.
  ASSERT_TRUE(env.MustZenith({"branch", "mine", "main"}).ok());
  ASSERT_TRUE(env.MustZenith({"remote", "sync", "--timeout", "60"}).ok());
  s3::S3Client client = TestBucketClient(s3env);
  auto refs = s3::ReadNewestRefs(client, s3::ParseS3Url(url).value(), 2).value();
  ASSERT_TRUE(refs.has_value());
  EXPECT_EQ(refs->version.generation, 2u);
  EXPECT_EQ(refs->refs.branches.count("mine"), 1u);
  EXPECT_EQ(refs->refs.branches.count("late"), 0u);
}

TEST(Attach, ADamagedLayerIsRefusedWithItsNameAndNeverServed) {
  ZENITH_REQUIRE_S3(s3env);
  const std::string url = "s3://" + s3env.bucket + "/" + S3TestEnv::UniquePrefix() + "/repo";
  TempDir old_dir;
  ZenithEnv old_env(old_dir);
  InitWithRemote(old_env, old_dir, s3env, url);
  ASSERT_TRUE(old_env.MustZenith({"pageserver", "start"}).ok());
  ASSERT_TRUE(old_env.MustZenith({"remote", "sync", "--timeout", "60"}).ok());
  ASSERT_TRUE(old_env.MustZenith({"pageserver", "stop"}).ok());

  s3::S3Client client = TestBucketClient(s3env);
  const auto parsed = s3::ParseS3Url(url).value();
  auto objects = client.ListAll(parsed.Key("timelines/")).value();
  std::vector<std::string> layer_keys;
  for (const auto& o : objects) {
    if (o.key.find("/layers/") != std::string::npos) layer_keys.push_back(o.key);
  }
  ASSERT_EQ(layer_keys.size(), 1u) << "a new repository has one layer, the imported cluster";
  const std::string layer_key = layer_keys.front();
  // Bytes in the middle of its pages: only reading those pages can tell.
  std::string bytes = client.Get(layer_key).value();
  for (size_t i = bytes.size() / 2; i < bytes.size() / 2 + 64; ++i) bytes[i] = static_cast<char>(bytes[i] ^ 0x5a);
  ASSERT_TRUE(client.Put(layer_key, bytes).ok());

  // Attach downloads no layer, so it cannot tell; reading every page can.
  TempDir dir;
  ZenithEnv env(dir);
  UseBucket(env, dir, s3env);
  ASSERT_TRUE(env.MustZenith({"attach", url}).ok());
  RunResult exported = env.Zenith({"export", "main", dir.Sub("export")});
  EXPECT_FALSE(exported.ok()) << "a damaged page was served";
  EXPECT_NE(exported.err.find("s3://" + s3env.bucket + "/" + layer_key), std::string::npos) << exported.Describe();
  EXPECT_NE(exported.err.find("corrupt"), std::string::npos) << exported.Describe();
  // The export read the whole layer from the bucket: the page server tries
  // to bring it back whole (layer_hydrator.h), finds the damaged page, and
  // the layer stays in the bucket only, its stub in place.
  std::string log;
  EXPECT_TRUE(WaitUntil(
      [&] {
        log = ReadFileToString(env.repo() + "/pageserver.log").value_or("");
        return log.find("bringing a layer back from the bucket") != std::string::npos;
      },
      std::chrono::seconds(20)))
      << log;
  EXPECT_NE(log.find("s3://" + s3env.bucket + "/" + layer_key), std::string::npos) << log;
  const std::string stub_path = env.repo() + "/timelines/" +
                                layer_key.substr(layer_key.find("/timelines/") + 11, 32) + "/layers/" +
                                layer_key.substr(layer_key.rfind('/') + 1, layer_key.rfind('-') - layer_key.rfind('/') - 1);
  auto stub = ReadFileToString(stub_path);
  ASSERT_TRUE(stub.ok()) << stub.status().ToString();
  EXPECT_EQ(stub->front(), '{') << stub_path << " is no longer a stub";
}

// Page servers before 2026-12-06 could upload a branch's first WAL piece
// from its branch point on, without the head of the segment it shares with
// its parent. Such a bucket is made here by rewriting the branch's index;
// the attach fills the head from the parent's copy of the segment, and the
// branch starts (PostgreSQL reads a segment's first page before any record
// in it: "invalid magic number 0000" otherwise).
TEST(Attach, ABranchUploadedWithoutTheHeadOfItsFirstSegmentStillStarts) {
  ZENITH_REQUIRE_S3(s3env);
  const std::string url = "s3://" + s3env.bucket + "/" + S3TestEnv::UniquePrefix() + "/repo";
  TempDir old_dir;
  ZenithEnv old_env(old_dir);
  InitWithRemote(old_env, old_dir, s3env, url);
  ASSERT_TRUE(old_env.MustZenith({"mount", "main", old_dir.Sub("main")}).ok());
  Compute main(old_env, "main", FreePort());
  main.Start();
  main.Query("create table t (what text); insert into t values ('on main'); checkpoint");
  main.Query("insert into t values ('before the branch point')");
  ASSERT_TRUE(old_env.MustZenith({"branch", "exp", "main"}).ok());
  ASSERT_TRUE(main.pg().Stop().ok());
  ASSERT_TRUE(old_env.MustZenith({"umount", old_dir.Sub("main")}).ok());
  ASSERT_TRUE(old_env.MustZenith({"mount", "exp", old_dir.Sub("exp")}).ok());
  Compute exp(old_env, "exp", FreePort());
  exp.Start();
  exp.Query("insert into t values ('on exp')");
  ASSERT_TRUE(exp.pg().Stop().ok());
  ASSERT_TRUE(old_env.MustZenith({"umount", old_dir.Sub("exp")}).ok());
  const std::string exp_before = DumpAt(old_env, "exp", "", FreePort());
  const std::string exp_timeline = TimelineOf(old_env, "exp");
  ASSERT_FALSE(exp_timeline.empty());
  ASSERT_TRUE(old_env.MustZenith({"remote", "sync", "--timeout", "120"}).ok());
  LoseEverything(old_env, old_dir, {});

  // The branch's newest index again, without its WAL below the branch point.
  s3::S3Client client = TestBucketClient(s3env);
  const auto parsed = s3::ParseS3Url(url).value();
  auto newest = s3::ReadNewestIndex(client, parsed, exp_timeline, 1000).value();
  ASSERT_TRUE(newest.has_value());
  s3::TimelineIndex index = newest->index;
  const Lsn branch_point = index.ancestor_lsn;
  ASSERT_FALSE(index.wal.empty());
  ASSERT_EQ(index.wal.front().start, branch_point.segment_start()) << "this page server uploads a first segment whole";
  ASSERT_GT(branch_point.segment_offset(), 0u);
  std::erase_if(index.wal, [&](const s3::IndexWalPiece& p) { return p.end <= branch_point; });
  ASSERT_FALSE(index.wal.empty());
  s3::IndexWalPiece& first = index.wal.front();
  ASSERT_EQ(first.segno, branch_point.segment_number());
  if (first.start < branch_point) {
    const std::string bytes = client.Get(s3::WalPieceKey(parsed, exp_timeline, first)).value();
    const std::string tail = bytes.substr(branch_point - first.start);
    first.start = branch_point;
    ASSERT_TRUE(client.Put(s3::WalPieceKey(parsed, exp_timeline, first), tail).ok());
  }
  ASSERT_TRUE(client.Put(s3::IndexKey(parsed, exp_timeline, newest->version.generation, newest->version.seq + 1),
                         index.ToJson())
                  .ok());

  TempDir dir;
  ZenithEnv env(dir);
  UseBucket(env, dir, s3env);
  ASSERT_TRUE(env.MustZenith({"attach", url}).ok());
  // A read-write mount: the compute replays from exp's last snapshot, in
  // the segment it shares with main (a read-only mount starts at its point).
  ASSERT_TRUE(env.MustZenith({"mount", "exp", dir.Sub("exp")}).ok());
  Compute again(env, "exp", FreePort());
  again.Start();
  EXPECT_EQ(PgDump(again.ConnArgs()), exp_before);
  ASSERT_TRUE(again.pg().Stop().ok());
}

bool HoldsPartOfARepository(const std::string& dir) {
  auto names = ListDirectory(dir);
  return names.ok() &&
         std::any_of(names->begin(), names->end(), [](const auto& n) { return n.rfind(".zenith.tmp-", 0) == 0; });
}

// kill -9 of `zenith attach` (and the page server program it runs) while
// it builds the repository (from when its directory appears beside
// `.zenith`) and ever later, each in a new directory, until one finishes:
// each killed attach leaves no repository or a whole one, never a part of
// one; the next attach there removes what a killed one left and succeeds;
// the generations the killed ones claimed take nothing from the bucket.
TEST(Attach, KillNineAtAnyMomentLeavesNoRepositoryOrAWholeOne) {
  ZENITH_REQUIRE_S3(s3env);
  const std::string url = "s3://" + s3env.bucket + "/" + S3TestEnv::UniquePrefix() + "/repo";
  TempDir old_dir;
  ZenithEnv old_env(old_dir);
  InitWithRemote(old_env, old_dir, s3env, url);
  ASSERT_TRUE(old_env.MustZenith({"mount", "main", old_dir.Sub("main")}).ok());
  Compute main(old_env, "main", FreePort());
  main.Start();
  main.Query("create table t (i int); insert into t select generate_series(1, 10000); checkpoint");
  for (int i = 0; i < 20; ++i) main.Query("insert into t select generate_series(1, 1000)");
  ASSERT_TRUE(old_env.MustZenith({"branch", "exp", "main"}).ok());
  ASSERT_TRUE(main.pg().Stop().ok());
  ASSERT_TRUE(old_env.MustZenith({"umount", old_dir.Sub("main")}).ok());
  const std::string dump = DumpAt(old_env, "main", "", FreePort());
  ASSERT_TRUE(old_env.MustZenith({"remote", "sync", "--timeout", "120"}).ok());
  LoseEverything(old_env, old_dir, {});

  int killed_while_building = 0;
  bool finished = false;
  for (auto delay = std::chrono::milliseconds(0); !finished; delay = delay * 2 + std::chrono::milliseconds(1)) {
    ASSERT_LT(delay, std::chrono::seconds(30)) << "no attach finished";
    TempDir dir;
    ZenithEnv env(dir);
    UseBucket(env, dir, s3env);
    Child attach = env.StartZenith({"attach", url}, dir.Sub("attach.log"));
    // Every millisecond (WaitUntil backs off to 50 ms): the build may take little more.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!HoldsPartOfARepository(dir.path()) && attach.running()) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the attach neither began nor ended";
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    std::this_thread::sleep_for(delay);
    finished = !attach.running();
    attach.Kill();
    if (HoldsPartOfARepository(dir.path())) ++killed_while_building;
    const std::string after = "killed " + std::to_string(delay.count()) + " ms into its build";
    if (PathExists(env.repo())) {
      EXPECT_EQ(env.MustZenith({"branch"}).out, "exp\nmain\n") << after;
      EXPECT_NE(env.Zenith({"attach", url}).err.find("already exists"), std::string::npos) << after;
    } else {
      ASSERT_FALSE(finished) << ReadFileToString(dir.Sub("attach.log")).value_or("");
      ASSERT_TRUE(env.MustZenith({"attach", url}).ok()) << after;
      EXPECT_FALSE(HoldsPartOfARepository(dir.path())) << "what the attach " << after << " left stays";
    }
    EXPECT_EQ(DumpAt(env, "main", "", FreePort()), dump) << after;
    ASSERT_TRUE(env.MustZenith({"pageserver", "stop"}).ok());
  }
  EXPECT_GT(killed_while_building, 0) << "no kill came while an attach was building the repository";
}

TEST(Attach, AnEmptyPrefixOrAnExistingRepositoryIsRefused) {
  ZENITH_REQUIRE_S3(s3env);
  TempDir dir;
  ZenithEnv env(dir);
  UseBucket(env, dir, s3env);
  const std::string empty = "s3://" + s3env.bucket + "/" + S3TestEnv::UniquePrefix() + "/nothing";
  RunResult attach = env.Zenith({"attach", empty});
  EXPECT_FALSE(attach.ok());
  EXPECT_NE(attach.err.find("holds no zenith repository"), std::string::npos) << attach.Describe();
  EXPECT_FALSE(PathExists(env.repo()));

  RunResult missing = env.Zenith({"attach", "s3://zenith-no-such-bucket/p"});
  EXPECT_FALSE(missing.ok());
  EXPECT_FALSE(PathExists(env.repo()));

  ASSERT_TRUE(env.MustZenith({"init", "--auth", "trust"}).ok());
  RunResult twice = env.Zenith({"attach", empty});
  EXPECT_FALSE(twice.ok());
  EXPECT_NE(twice.err.find("already exists"), std::string::npos) << twice.Describe();
}

}  // namespace
}  // namespace zenith::testing
