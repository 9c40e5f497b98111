// CreateRepositoryFromBackup (`zenith init --from`): a real base backup of a
// running server, as pg_basebackup streams it, becomes main's layer 0 with
// the backup's start checkpoint in its pg_control; archives that are not a
// whole base backup with its WAL are refused and leave nothing behind.
#include <gtest/gtest.h>

#include <functional>

#include "pageserver/repo/backup_import.h"
#include "tests/unit/pageserver/repo_test_support.h"

namespace zenith::pageserver::testing {
namespace {

// One server and one base backup of it for the whole suite.
class BackupImportTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    source_dir_ = new TempDir("backup-source");
    PgCluster source(source_dir_->Sub("pg"), source_dir_->path(), 5491);
    ASSERT_TRUE(source.Initdb().ok());
    ASSERT_TRUE(source.Start().ok());
    source.Query("create table t as select g as id, repeat('x', 200) as pad from generate_series(1, 20000) g");
    RunResult backup = RunCommand({PgBin("pg_basebackup"), "-D", "-", "-F", "t", "-X", "fetch", "-c", "fast",
                                   "--no-manifest", "-h", source_dir_->path(), "-p", "5491", "-U", "postgres"});
    ASSERT_TRUE(backup.ok()) << backup.Describe();
    archive_ = new std::string(std::move(backup.out));
    ASSERT_TRUE(source.Stop("fast").ok());
  }
  static void TearDownTestSuite() {
    delete archive_;
    delete source_dir_;
  }

  std::string root() const { return dir_.Sub(".zenith"); }
  Status Import(const std::string& archive) {
    return CreateRepositoryFromBackup(root(), MemoryTarSource({AsBytes(archive)}), RepoConfig{});
  }
  // The refusal says `says` and leaves neither the repository nor its temp.
  void ExpectRefused(const std::string& archive, StatusCode code, const std::string& says) {
    Status s = Import(archive);
    EXPECT_EQ(s.code(), code) << s.ToString();
    EXPECT_NE(s.message().find(says), std::string::npos) << s.ToString();
    EXPECT_EQ(ListDirectory(dir_.path()).value(), std::vector<std::string>{}) << "a refused import leaves nothing";
  }

  // The archive with each entry passed through `edit`, which may change its
  // data or drop it (returns false).
  static std::string Rewrite(const std::function<bool(TarEntry&, std::string&)>& edit) {
    TarReader in(MemoryTarSource({AsBytes(*archive_)}));
    std::string out;
    TarWriter writer([&](std::span<const uint8_t> b) {
      out.append(reinterpret_cast<const char*>(b.data()), b.size());
      return Status::Ok();
    });
    for (;;) {
      auto entry = in.Next();
      EXPECT_TRUE(entry.ok());
      if (!entry.ok() || !*entry) break;
      TarEntry e = **entry;
      std::string data = ReadTarEntryData(in, e, uint64_t{1} << 30).value();
      if (!edit(e, data)) continue;
      Status added;
      switch (e.type) {
        case TarEntryType::kDirectory: added = writer.AddDirectory(e.name, e.mode, e.mtime); break;
        case TarEntryType::kSymlink: added = writer.AddSymlink(e.name, e.link_target, e.mtime); break;
        case TarEntryType::kFile: added = writer.AddFile(e.name, e.mode, e.mtime, AsBytes(data)); break;
      }
      EXPECT_TRUE(added.ok()) << added.ToString();
    }
    EXPECT_TRUE(writer.Finish().ok());
    return out;
  }
  static std::string Member(const std::string& name) {
    std::string found;
    Rewrite([&](TarEntry& e, std::string& data) {
      if (e.name == name) found = data;
      return true;
    });
    return found;
  }
  static Lsn LabelLsn(const std::string& key) {
    const std::string label = Member("backup_label");
    const size_t at = label.find(key + ": ");
    EXPECT_NE(at, std::string::npos) << label;
    const size_t from = at + key.size() + 2;
    return Lsn::Parse(label.substr(from, label.find_first_of(" \n", from) - from)).value();
  }

  static TempDir* source_dir_;
  static std::string* archive_;
  TempDir dir_{"backup-import"};
};

TempDir* BackupImportTest::source_dir_ = nullptr;
std::string* BackupImportTest::archive_ = nullptr;

TEST_F(BackupImportTest, ABaseBackupBecomesMainStartingAtTheBackupsCheckpoint) {
  ASSERT_TRUE(Import(*archive_).ok());
  const Lsn start = LabelLsn("START WAL LOCATION"), checkpoint = LabelLsn("CHECKPOINT LOCATION");
  auto source_control = DecodeControlFile(AsBytes(Member(std::string(kPgControlPath))));
  ASSERT_TRUE(source_control.ok());
  EXPECT_EQ(RepoConfig::Load(RepoLayout{root()}.config()).value().system_id, source_control->system_identifier);

  auto server = InProcessServer::Start(root());
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  auto main = BranchTimeline(RepoLayout{root()}, "main");
  ASSERT_TRUE(main.ok());
  auto snapshots = ListSnapshots((*server)->conninfo(), main->ToString());
  ASSERT_TRUE(snapshots.ok());
  ASSERT_EQ(snapshots->size(), 1u);
  EXPECT_EQ((*snapshots)[0].lsns.redo, start) << "replay starts where the backup started";
  EXPECT_GT((*snapshots)[0].lsns.valid, (*snapshots)[0].lsns.checkpoint) << "past the backup's end";

  auto tar = FetchBasebackup((*server)->conninfo(), main->ToString());
  ASSERT_TRUE(tar.ok()) << tar.status().ToString();
  std::string manifest;
  ASSERT_TRUE(ExtractTar(*tar, dir_.Sub("restored"), &manifest).ok());
  EXPECT_FALSE(PathExists(dir_.Sub("restored/backup_label"))) << "main is no backup in progress";
  auto control = DecodeControlFile(AsBytes(ReadFileToString(dir_.Sub("restored/global/pg_control")).value()));
  ASSERT_TRUE(control.ok());
  EXPECT_EQ(control->checkpoint, checkpoint);
  EXPECT_EQ(control->checkpoint_copy.redo, start);
  EXPECT_EQ(control->state, DbState::kInProduction) << "PostgreSQL replays as after a crash";
  EXPECT_FALSE(control->backup_end_required);
  EXPECT_EQ(control->min_recovery_point, Lsn::Invalid());
}

TEST_F(BackupImportTest, AnArchiveWithoutABackupLabelIsNotABaseBackup) {
  ExpectRefused(Rewrite([](TarEntry& e, std::string&) { return e.name != "backup_label"; }),
                StatusCode::kInvalidArgument, "is not a base backup");
}

TEST_F(BackupImportTest, ABackupWithoutItsWalIsRefused) {
  ExpectRefused(Rewrite([](TarEntry& e, std::string&) { return !e.name.starts_with("pg_wal/0"); }),
                StatusCode::kInvalidArgument, "holds no WAL");
}

TEST_F(BackupImportTest, ABackupWhoseWalStopsBeforeTheBackupsEndIsRefused) {
  // Keep the WAL up to the end of the start checkpoint record: the
  // end-of-backup record, and everything written during the copy, is gone.
  const Lsn checkpoint = LabelLsn("CHECKPOINT LOCATION");
  const std::string wal_dir = dir_.Sub("wal");
  ASSERT_TRUE(MakeDirectories(wal_dir, 0700).ok());
  Rewrite([&](TarEntry& e, std::string& data) {
    if (e.name.starts_with("pg_wal/0")) {
      EXPECT_TRUE(WriteFileDurably(wal_dir + e.name.substr(6), data).ok());
    }
    return true;
  });
  auto cut = CheckpointRecordEnd(MakeWalDirectoryReader(wal_dir, 1), 0, checkpoint);
  ASSERT_TRUE(cut.ok()) << cut.status().ToString();
  ASSERT_TRUE(RemoveTree(wal_dir).ok());
  const std::string archive = Rewrite([&](TarEntry& e, std::string& data) {
    auto seg = ParseWalSegmentFileName(e.name.substr(e.name.rfind('/') + 1));
    if (!e.name.starts_with("pg_wal/0") || !seg) return true;
    if (seg->segno > cut->segment_number()) return false;
    if (seg->segno == cut->segment_number()) std::fill(data.begin() + cut->segment_offset(), data.end(), '\0');
    return true;
  });
  ExpectRefused(archive, StatusCode::kInvalidArgument, "before the backup's end");
}

TEST_F(BackupImportTest, AStandbysBackupIsRefused) {
  const std::string archive = Rewrite([](TarEntry& e, std::string& data) {
    if (e.name == "backup_label") data.replace(data.find("BACKUP FROM: primary"), 20, "BACKUP FROM: standby");
    return true;
  });
  ExpectRefused(archive, StatusCode::kInvalidArgument, "taken from a standby");
}

TEST_F(BackupImportTest, AnotherMajorVersionIsRefused) {
  const std::string archive = Rewrite([](TarEntry& e, std::string& data) {
    if (e.name == "PG_VERSION") data = "14\n";
    return true;
  });
  ExpectRefused(archive, StatusCode::kInvalidArgument, "not of a PostgreSQL 15 cluster");
}

TEST_F(BackupImportTest, LinksOtherThanTablespacesAreRefused) {
  // A mount extracts what is kept: a link there could let a later entry, or
  // the mount itself, write outside its directory.
  for (const std::string name : {"pg_ident.conf", "global"}) {
    const std::string archive = Rewrite([&](TarEntry& e, std::string& data) {
      if (e.name == name) {
        e.type = TarEntryType::kSymlink;
        e.link_target = "/home/owner/.ssh";
        data.clear();
      }
      return true;
    });
    ExpectRefused(archive, StatusCode::kInvalidArgument, "\"" + name + "\" is a symbolic link");
  }
}

TEST_F(BackupImportTest, ACutOffArchiveIsCorruptAndLeavesNothing) {
  ExpectRefused(archive_->substr(0, archive_->size() / 2), StatusCode::kCorruption, "");
}

}  // namespace
}  // namespace zenith::pageserver::testing
