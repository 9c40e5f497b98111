// BuildScratch: a scratch built from a basebackup, fresh and over what an
// earlier mount left behind.
#include "fs/scratch_setup.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "common/byte_io.h"
#include "common/file_util.h"
#include "common/pg_abi.h"
#include "common/tar.h"
#include "tests/harness/temp_dir.h"

namespace zenith::fs {
namespace {

using ::zenith::testing::TempDir;

struct Relation {
  std::string path;
  uint64_t size;
};

// A basebackup archive as the page server sends it: the manifest, then
// the non-relation files.
std::string Basebackup(const std::vector<Relation>& relations, const std::string& pg_version) {
  pageserver::BasebackupManifest manifest;
  manifest.timeline_id = std::string(32, 'a');
  manifest.snapshot_timeline_id = manifest.timeline_id;
  for (const auto& r : relations) manifest.relations.push_back({r.path, r.size});
  std::string tar;
  TarWriter writer([&](std::span<const uint8_t> bytes) {
    tar.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    return Status::Ok();
  });
  EXPECT_TRUE(writer.AddFile(pageserver::kManifestName, 0600, 0, AsBytes(manifest.ToJson())).ok());
  EXPECT_TRUE(writer.AddDirectory("base", 0700, 0).ok());
  EXPECT_TRUE(writer.AddDirectory("base/5", 0700, 0).ok());
  EXPECT_TRUE(writer.AddDirectory("global", 0700, 0).ok());
  EXPECT_TRUE(writer.AddFile("PG_VERSION", 0600, 0, AsBytes(pg_version)).ok());
  EXPECT_TRUE(writer.AddFile("postgresql.auto.conf", 0600, 0, AsBytes(std::string("work_mem = '8MB'\nfull_page_writes = 'off'\n"))).ok());
  EXPECT_TRUE(writer.Finish().ok());
  return tar;
}

struct stat Lstat(const std::string& path) {
  struct stat st{};
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
  return st;
}

class ScratchSetupTest : public ::testing::Test {
 protected:
  std::string Scratch() const { return dir_.Sub("tl/scratch"); }
  std::string Wal() const { return dir_.Sub("wal"); }
  void Build(const std::string& tar) {
    auto built = BuildScratch(Scratch(), tar, Wal());
    ASSERT_TRUE(built.ok()) << built.status().ToString();
  }
  void Write(const std::string& path, const std::string& data) {
    ASSERT_TRUE(MakeDirectories(DirName(path)).ok());
    ASSERT_TRUE(WriteFileDurably(path, data).ok());
  }

  TempDir dir_{"scratch-setup"};
};

TEST_F(ScratchSetupTest, FreshScratchHoldsTheArchiveSparseRelationsAndPgWal) {
  auto built = BuildScratch(Scratch(), Basebackup({{"base/5/16384", 3 * 8192}, {"global/1262", 0}}, "15\n"), Wal());
  ASSERT_TRUE(built.ok()) << built.status().ToString();
  EXPECT_EQ(built->remote_files.at("base/5/16384"), 3u * 8192);
  EXPECT_EQ(*ReadFileToString(Scratch() + "/PG_VERSION"), "15\n");
  struct stat rel = Lstat(Scratch() + "/base/5/16384");
  EXPECT_EQ(rel.st_size, 3 * 8192);
  EXPECT_EQ(rel.st_blocks, 0) << "relation files hold no data";
  EXPECT_EQ(Lstat(Scratch() + "/global/1262").st_size, 0);
  char target[4096] = {};
  ASSERT_GT(::readlink((Scratch() + "/pg_wal").c_str(), target, sizeof target - 1), 0);
  EXPECT_EQ(std::string(target), Wal());
  std::string conf = *ReadFileToString(Scratch() + "/postgresql.auto.conf");
  EXPECT_NE(conf.find("work_mem = '8MB'"), std::string::npos) << conf;
  EXPECT_NE(conf.find("wal_recycle = 'off'"), std::string::npos) << conf;
  EXPECT_NE(conf.find("full_page_writes = 'on'"), std::string::npos) << conf;
  EXPECT_EQ(conf.find("full_page_writes = 'off'"), std::string::npos) << "a user's setting must not survive: " << conf;
  EXPECT_EQ(Lstat(Scratch()).st_mode & 0777, 0700u);
}

TEST_F(ScratchSetupTest, RebuildReusesEmptyFilesAndLeavesNothingOfTheOldScratch) {
  Build(Basebackup({{"base/5/16384", 3 * 8192}, {"global/1262", 8192}}, "15\n"));
  const ino_t version_file = Lstat(Scratch() + "/PG_VERSION").st_ino;
  // What a session leaves: written relation blocks, files of its own, a
  // symlink pointing out of the scratch, a directory in place of a file.
  Write(Scratch() + "/base/5/16384", std::string(2 * 8192, 'x'));
  Write(Scratch() + "/postmaster.pid", "123\n");
  Write(Scratch() + "/base/5/99999", std::string(8192, 'y'));
  Write(Scratch() + "/pg_stat_tmp/db_0.stat", "stats");
  Write(dir_.Sub("outside/keep"), "not the scratch's");
  ASSERT_EQ(::symlink(dir_.Sub("outside").c_str(), (Scratch() + "/base/5/link").c_str()), 0);
  ASSERT_EQ(::unlink((Scratch() + "/global/1262").c_str()), 0);
  ASSERT_EQ(::mkdir((Scratch() + "/global/1262").c_str(), 0700), 0);
  Write(Scratch() + "/global/1262/inside", "z");

  Build(Basebackup({{"base/5/16384", 8192}, {"base/5/16390", 4 * 8192}, {"global/1262", 8192}}, "15.1\n"));
  EXPECT_EQ(Lstat(Scratch() + "/PG_VERSION").st_ino, version_file) << "a non-relation file is rewritten in place";
  EXPECT_EQ(*ReadFileToString(Scratch() + "/PG_VERSION"), "15.1\n");
  for (const auto& [path, size] : std::map<std::string, off_t>{
           {"base/5/16384", 8192}, {"base/5/16390", 4 * 8192}, {"global/1262", 8192}}) {
    struct stat st = Lstat(Scratch() + "/" + path);
    EXPECT_TRUE(S_ISREG(st.st_mode)) << path;
    EXPECT_EQ(st.st_size, size) << path;
    EXPECT_EQ(st.st_blocks, 0) << path << " holds no data";
  }
  EXPECT_EQ(*ReadFileToString(Scratch() + "/base/5/16384"), std::string(8192, '\0'));
  for (const char* gone : {"postmaster.pid", "base/5/99999", "pg_stat_tmp", "base/5/link"}) {
    EXPECT_FALSE(PathExists(Scratch() + "/" + gone)) << gone;
  }
  EXPECT_EQ(*ReadFileToString(dir_.Sub("outside/keep")), "not the scratch's");

  // What was set aside sits next to the scratch until removed.
  auto names = ListDirectory(dir_.Sub("tl"));
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(names->size(), 2u) << "the scratch and one trash directory";
  std::atomic<bool> stop{true};
  ASSERT_TRUE(RemoveScratchTrash(Scratch(), stop).ok());
  EXPECT_EQ(ListDirectory(dir_.Sub("tl"))->size(), 2u) << "a stopped removal leaves the rest";
  stop = false;
  ASSERT_TRUE(RemoveScratchTrash(Scratch(), stop).ok());
  EXPECT_EQ(*ListDirectory(dir_.Sub("tl")), std::vector<std::string>{"scratch"});
  EXPECT_EQ(*ReadFileToString(dir_.Sub("outside/keep")), "not the scratch's");
}

TEST_F(ScratchSetupTest, EmptyRelationFilesKeepTheirInodes) {
  Build(Basebackup({{"base/5/16384", 3 * 8192}, {"global/1262", 0}}, "15\n"));
  const ino_t a = Lstat(Scratch() + "/base/5/16384").st_ino, b = Lstat(Scratch() + "/global/1262").st_ino;
  Build(Basebackup({{"base/5/16384", 5 * 8192}, {"global/1262", 8192}}, "15\n"));
  EXPECT_EQ(Lstat(Scratch() + "/base/5/16384").st_ino, a);
  EXPECT_EQ(Lstat(Scratch() + "/global/1262").st_ino, b);
  EXPECT_EQ(Lstat(Scratch() + "/base/5/16384").st_size, 5 * 8192);
  EXPECT_EQ(*ListDirectory(dir_.Sub("tl")), std::vector<std::string>{"scratch"}) << "nothing was set aside";
}

TEST_F(ScratchSetupTest, MalformedArchiveLeavesTheScratchAsItWas) {
  Build(Basebackup({{"base/5/16384", 8192}}, "15\n"));
  Write(Scratch() + "/postmaster.pid", "123\n");
  std::string no_manifest;
  TarWriter writer([&](std::span<const uint8_t> bytes) {
    no_manifest.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    return Status::Ok();
  });
  ASSERT_TRUE(writer.AddFile("PG_VERSION", 0600, 0, AsBytes(std::string("15\n"))).ok());
  ASSERT_TRUE(writer.Finish().ok());
  auto built = BuildScratch(Scratch(), no_manifest, Wal());
  EXPECT_EQ(built.status().code(), StatusCode::kCorruption);
  EXPECT_TRUE(PathExists(Scratch() + "/postmaster.pid"));
  EXPECT_TRUE(PathExists(Scratch() + "/base/5/16384"));
}

// A basebackup of the kind a tampered repository (or a page server from
// before archives were checked) could send: `links` (name -> target), then
// `files`, and the manifest's relation files.
std::string HostileBasebackup(const std::vector<std::pair<std::string, std::string>>& links,
                              const std::vector<std::string>& files, const std::vector<Relation>& relations) {
  pageserver::BasebackupManifest manifest;
  manifest.timeline_id = std::string(32, 'a');
  manifest.snapshot_timeline_id = manifest.timeline_id;
  for (const auto& r : relations) manifest.relations.push_back({r.path, r.size});
  std::string tar;
  TarWriter writer([&](std::span<const uint8_t> bytes) {
    tar.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    return Status::Ok();
  });
  EXPECT_TRUE(writer.AddFile(pageserver::kManifestName, 0600, 0, AsBytes(manifest.ToJson())).ok());
  EXPECT_TRUE(writer.AddDirectory("pg_tblspc", 0700, 0).ok());
  for (const auto& [name, target] : links) EXPECT_TRUE(writer.AddSymlink(name, target, 0).ok());
  for (const auto& name : files) EXPECT_TRUE(writer.AddFile(name, 0600, 0, AsBytes(std::string("ssh-ed25519 AAAA"))).ok());
  EXPECT_TRUE(writer.Finish().ok());
  return tar;
}

TEST_F(ScratchSetupTest, NothingIsWrittenThroughALinkTheArchiveHolds) {
  const std::string outside = dir_.Sub("home/.ssh");
  ASSERT_TRUE(MakeDirectories(outside).ok());
  const std::string in_tablespace = "pg_tblspc/16400/" + std::string(kZenithPgAbi.tablespace_version_directory);
  struct Case {
    std::string what, tar;
  };
  for (const Case& c : {
           Case{"a link, then a file below it", HostileBasebackup({{"x", outside}}, {"x/authorized_keys"}, {})},
           Case{"a file below a tablespace link",
                HostileBasebackup({{"pg_tblspc/16400", outside}}, {"pg_tblspc/16400/authorized_keys"}, {})},
           Case{"a relation file below a tablespace link",
                HostileBasebackup({{"pg_tblspc/16400", outside}}, {}, {{in_tablespace + "/5/16401", 8192}})},
       }) {
    auto built = BuildScratch(Scratch(), c.tar, Wal());
    ASSERT_FALSE(built.ok()) << c.what;
    EXPECT_NE(built.status().message().find("symbolic link"), std::string::npos) << c.what << ": "
                                                                                 << built.status().ToString();
    EXPECT_TRUE(ListDirectory(outside).value().empty()) << c.what << ": nothing is written outside the scratch";
  }
}

}  // namespace
}  // namespace zenith::fs
