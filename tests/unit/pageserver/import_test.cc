// CreateRepository (`zenith init`'s import): the layout it writes, layer 0
// holding exactly the initdb cluster, and refusals that leave nothing behind.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "tests/unit/pageserver/repo_test_support.h"

namespace zenith::pageserver::testing {
namespace {

class ImportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Status s = InitdbCluster(datadir());
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  std::string datadir() const { return dir_.Sub("initdb"); }
  std::string root() const { return dir_.Sub(".zenith"); }
  RepoLayout layout() const { return RepoLayout{root()}; }
  // Everything in the test directory but the cluster: what an import left.
  std::vector<std::string> Leftovers() {
    auto names = ListDirectory(dir_.path());
    EXPECT_TRUE(names.ok());
    std::vector<std::string> out;
    for (const auto& n : names.value()) {
      if (n != "initdb") out.push_back(n);
    }
    return out;
  }
  void SetControlState(DbState state) {
    const std::string path = datadir() + "/global/pg_control";
    auto control = DecodeControlFile(AsBytes(ReadFileToString(path).value()));
    ASSERT_TRUE(control.ok());
    control->state = state;
    ASSERT_TRUE(WriteFileDurably(path, EncodeControlFile(*control)).ok());
  }

  TempDir dir_{"import"};
};

TEST_F(ImportTest, WritesTheLayoutWithMainAtLayerZero) {
  ASSERT_TRUE(CreateRepository(root(), datadir(), RepoConfig{}).ok());
  auto control = DecodeControlFile(AsBytes(ReadFileToString(datadir() + "/global/pg_control").value()));
  ASSERT_TRUE(control.ok());
  auto config = RepoConfig::Load(layout().config());
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->system_id, control->system_identifier);
  EXPECT_EQ(ListDirectory(layout().branches_dir()).value(), std::vector<std::string>{"main"});
  auto main = BranchTimeline(layout(), "main");
  ASSERT_TRUE(main.ok());
  EXPECT_EQ(ListDirectory(layout().timelines_dir()).value(), std::vector<std::string>{main->ToString()});
  auto meta = TimelineMetadata::FromJson(ReadFileToString(layout().metadata(*main)).value());
  ASSERT_TRUE(meta.ok());
  EXPECT_EQ(meta->id, *main);
  EXPECT_FALSE(meta->ancestor.has_value());
  struct stat st;
  ASSERT_EQ(::stat(root().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u) << "the repository is private to its owner";

  // wal/ is initdb's pg_wal, byte for byte.
  auto segments = ListDirectory(datadir() + "/pg_wal");
  ASSERT_TRUE(segments.ok());
  std::vector<std::string> want;
  for (const auto& name : *segments) {
    if (!ParseWalSegmentFileName(name)) continue;
    want.push_back(name);
    EXPECT_EQ(ReadFileToString(layout().wal_dir(*main) + "/" + name).value(),
              ReadFileToString(datadir() + "/pg_wal/" + name).value());
  }
  EXPECT_EQ(ListDirectory(layout().wal_dir(*main)).value(), want);

  // One layer, holding every non-zero page, the sizes, and the other files.
  auto layers = ListDirectory(layout().layers_dir(*main));
  ASSERT_TRUE(layers.ok());
  ASSERT_EQ(layers->size(), 1u);
  auto layer = LayerFile::Open(layout().layers_dir(*main) + "/" + (*layers)[0]);
  ASSERT_TRUE(layer.ok());
  EXPECT_EQ((*layer)->timeline_id(), *main);
  EXPECT_EQ((*layer)->lsns().redo, control->checkpoint_copy.redo);
  auto entries = ScanDatadir(datadir());
  ASSERT_TRUE(entries.ok());
  uint64_t nonzero = 0;
  std::vector<uint8_t> page(kPageSize);
  for (const auto& e : *entries) {
    if (!e.relation) continue;
    auto fd = OpenFile(datadir() + "/" + e.path, O_RDONLY);
    ASSERT_TRUE(fd.ok());
    for (uint64_t off = 0; off < e.size; off += kPageSize) {
      ASSERT_TRUE(PreadFull(fd->get(), page, off, e.path).ok());
      nonzero += !IsAllZeroPage(page);
    }
  }
  EXPECT_EQ((*layer)->page_count(), nonzero) << "all-zero pages are implied, every other page is stored";
  const auto sizes = RelationSizes(*entries);
  EXPECT_EQ((*layer)->relation_count(), sizes.size());
  for (const auto& [rel, nblocks] : sizes) EXPECT_EQ((*layer)->FindRelation(rel), (RelationInfo{nblocks, 0})) << rel;
  const std::string_view files = AsStringView((*layer)->files_tar());
  EXPECT_NE(files.find("global/pg_control"), std::string::npos);
  EXPECT_NE(files.find("PG_VERSION"), std::string::npos);
  EXPECT_EQ(files.find("base/1/1259"), std::string::npos) << "relation files are pages, not tar members";
  EXPECT_EQ(Leftovers(), std::vector<std::string>{".zenith"}) << "no temp directory is left";
}

TEST_F(ImportTest, CopiesOnlyTheWalFromTheRedoPointToTheEnd) {
  // What a cluster that ran for a while has in pg_wal besides the WAL that
  // matters: an older segment, recycled ones ahead of the end of WAL, and a
  // segment of another timeline. None is reachable from layer 0.
  auto control = DecodeControlFile(AsBytes(ReadFileToString(datadir() + "/global/pg_control").value()));
  ASSERT_TRUE(control.ok());
  const uint64_t redo_seg = control->checkpoint_copy.redo.segment_number();
  ASSERT_GE(redo_seg, 1u);
  const std::string garbage(kWalSegmentSize, '\x5a');
  std::vector<std::string> needed;
  for (const auto& name : ListDirectory(datadir() + "/pg_wal").value()) {
    if (ParseWalSegmentFileName(name)) needed.push_back(name);
  }
  ASSERT_EQ(needed, std::vector<std::string>{WalSegmentFileName(1, redo_seg)}) << "initdb's WAL is one segment";
  for (const std::string& name : {WalSegmentFileName(1, redo_seg - 1), WalSegmentFileName(1, redo_seg + 1),
                                  WalSegmentFileName(1, redo_seg + 3), WalSegmentFileName(2, redo_seg)}) {
    ASSERT_TRUE(WriteFileDurably(datadir() + "/pg_wal/" + name, garbage).ok());
  }

  ASSERT_TRUE(CreateRepository(root(), datadir(), RepoConfig{}).ok());
  auto main = BranchTimeline(layout(), "main");
  ASSERT_TRUE(main.ok());
  EXPECT_EQ(ListDirectory(layout().wal_dir(*main)).value(), needed);
}

TEST_F(ImportTest, RefusesALinkOtherThanATablespacesAndLeavesNoRepository) {
  // A mount would extract the link, and a later snapshot could write
  // through it; PostgreSQL makes links only at pg_tblspc/<oid>.
  ASSERT_EQ(::symlink("/home/owner/.ssh", (datadir() + "/x").c_str()), 0);
  Status s = CreateRepository(root(), datadir(), RepoConfig{});
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
  EXPECT_NE(s.message().find("/x\" is a symbolic link"), std::string::npos) << s.ToString();
  EXPECT_EQ(Leftovers(), std::vector<std::string>{});
  ASSERT_EQ(::unlink((datadir() + "/x").c_str()), 0);
  ASSERT_EQ(::symlink("/srv/tablespace", (datadir() + "/pg_tblspc/16400").c_str()), 0);
  s = CreateRepository(root(), datadir(), RepoConfig{});
  EXPECT_TRUE(s.ok()) << "a tablespace's link is PostgreSQL's own: " << s.ToString();
}

TEST_F(ImportTest, RefusesAnExistingRepositoryAndLeavesItAlone) {
  ASSERT_EQ(::mkdir(root().c_str(), 0700), 0);
  ASSERT_TRUE(WriteFileDurably(root() + "/mine", "precious").ok());
  Status s = CreateRepository(root(), datadir(), RepoConfig{});
  EXPECT_EQ(s.code(), StatusCode::kAlreadyExists);
  EXPECT_NE(s.message().find("already exists"), std::string::npos);
  EXPECT_EQ(ListDirectory(root()).value(), std::vector<std::string>{"mine"});
}

TEST_F(ImportTest, RefusesAClusterThatWasNotShutDownCleanly) {
  for (DbState state : {DbState::kInProduction, DbState::kInCrashRecovery, DbState::kShutdowning}) {
    SetControlState(state);
    Status s = CreateRepository(root(), datadir(), RepoConfig{});
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(s.message().find("was not shut down cleanly"), std::string::npos) << s.message();
    EXPECT_TRUE(Leftovers().empty());
  }
}

TEST_F(ImportTest, ADamagedOrMissingPgControlIsRefused) {
  const std::string path = datadir() + "/global/pg_control";
  std::string bytes = ReadFileToString(path).value();
  bytes[40] ^= 1;
  ASSERT_TRUE(WriteFileDurably(path, bytes).ok());
  Status s = CreateRepository(root(), datadir(), RepoConfig{});
  EXPECT_EQ(s.code(), StatusCode::kCorruption) << s.ToString();
  EXPECT_NE(s.message().find(path), std::string::npos) << s.message();
  ASSERT_EQ(::unlink(path.c_str()), 0);
  EXPECT_FALSE(CreateRepository(root(), datadir(), RepoConfig{}).ok());
  EXPECT_TRUE(Leftovers().empty());
}

TEST_F(ImportTest, AFailureHalfwayLeavesNoRepository) {
  // An unreadable file stops the import after the directories, the WAL and
  // part of the layer were written.
  const std::string unreadable = datadir() + "/postgresql.conf";
  ASSERT_EQ(::chmod(unreadable.c_str(), 0), 0);
  if (::access(unreadable.c_str(), R_OK) == 0) GTEST_SKIP() << "running with permission to read anything";
  Status s = CreateRepository(root(), datadir(), RepoConfig{});
  EXPECT_EQ(s.code(), StatusCode::kIoError) << s.ToString();
  EXPECT_NE(s.message().find("postgresql.conf"), std::string::npos) << s.message();
  EXPECT_TRUE(Leftovers().empty()) << "neither the repository nor its temp directory exists";
  ASSERT_EQ(::chmod(unreadable.c_str(), 0600), 0);
  EXPECT_TRUE(CreateRepository(root(), datadir(), RepoConfig{}).ok()) << "and a retry works";
}

TEST_F(ImportTest, EntriesABasebackupLeavesOutAreNotImported) {
  for (const char* dir : {"pg_replslot/slot1", "base/pgsql_tmp"}) ASSERT_TRUE(MakeDirectories(datadir() + "/" + std::string(dir)).ok());
  const std::vector<std::string> planted = {"postmaster.pid", "postmaster.opts", "pg_stat_tmp/global.stat",
                                            "pg_replslot/slot1/state", "base/1/t3_99999", "base/pgsql_tmp/pgsql_tmp1.0",
                                            "global/pg_internal.init", "backup_label"};
  for (const auto& p : planted) ASSERT_TRUE(WriteFileDurably(datadir() + "/" + p, "left out").ok());
  ASSERT_TRUE(CreateRepository(root(), datadir(), RepoConfig{}).ok());
  auto server = InProcessServer::Start(root());
  ASSERT_TRUE(server.ok());
  auto manifest = RestoreDatadir((*server)->conninfo(), "main", dir_.Sub("restored"));
  ASSERT_TRUE(manifest.ok()) << manifest.status().ToString();
  for (const auto& p : planted) EXPECT_FALSE(PathExists(dir_.Sub("restored/" + p))) << p;
  EXPECT_TRUE(ListDirectory(dir_.Sub("restored/pg_replslot")).value().empty()) << "kept as an empty directory";
  EXPECT_TRUE(ListDirectory(dir_.Sub("restored/pg_stat_tmp")).value().empty());
  for (const auto& f : manifest->relations) EXPECT_EQ(f.path.find("t3_"), std::string::npos) << f.path;
  auto diffs = CompareDatadirs(datadir(), dir_.Sub("restored"));
  ASSERT_TRUE(diffs.ok());
  EXPECT_TRUE(diffs->empty()) << ::testing::PrintToString(*diffs);
}

}  // namespace
}  // namespace zenith::pageserver::testing
