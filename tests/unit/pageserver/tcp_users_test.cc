// The TCP endpoint's users (pageserver/pq/tcp_users.h): password files are
// refused when others may read them, made for a repository that lacks the
// compute's, and a user that does not exist authenticates against a mock
// verifier that fails as a wrong password does.
#include "pageserver/pq/tcp_users.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/file_util.h"
#include "tests/harness/temp_dir.h"

namespace zenith::pageserver {
namespace {

using ::zenith::testing::TempDir;

class TcpUsersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(MakeDirectories(layout_.root, 0700).ok());
    ASSERT_TRUE(CreatePasswordFile(layout_.password_file()).ok());
    ASSERT_TRUE(CreatePasswordFile(layout_.compute_password_file()).ok());
  }
  static mode_t Mode(const std::string& path) {
    struct stat st{};
    EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
    return st.st_mode & 07777;
  }

  TempDir dir_{"tcp-users"};
  const RepoLayout layout_{dir_.Sub(".zenith")};
};

TEST_F(TcpUsersTest, PasswordFilesAreNewRandomAndTheOwnersOnly) {
  for (Role role : {Role::kZenith, Role::kCompute}) {
    EXPECT_EQ(Mode(PasswordFile(layout_, role)), 0600u);
    auto password = ReadPasswordFile(PasswordFile(layout_, role));
    ASSERT_TRUE(password.ok()) << password.status().ToString();
    EXPECT_EQ(password->size(), 32u) << "24 random bytes, base64";
  }
  EXPECT_NE(*ReadPasswordFile(layout_.password_file()), *ReadPasswordFile(layout_.compute_password_file()));
  EXPECT_EQ(CreatePasswordFile(layout_.password_file()).code(), StatusCode::kAlreadyExists) << "never replaced";
}

TEST_F(TcpUsersTest, APasswordFileOthersMayReadIsRefusedByName) {
  for (Role role : {Role::kZenith, Role::kCompute}) {
    const std::string path = PasswordFile(layout_, role);
    for (mode_t mode : {0640, 0604, 0644, 0660}) {
      ASSERT_EQ(::chmod(path.c_str(), mode), 0);
      Result<TcpUsers> users = LoadTcpUsers(layout_, /*listening=*/false);
      ASSERT_FALSE(users.ok()) << std::oct << mode;
      EXPECT_EQ(users.status().code(), StatusCode::kPermissionDenied);
      EXPECT_NE(users.status().message().find(path), std::string::npos) << users.status().message();
      EXPECT_NE(users.status().message().find("too open"), std::string::npos) << users.status().message();
    }
    ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
    EXPECT_TRUE(LoadTcpUsers(layout_, /*listening=*/true).ok());
  }
  // Not through a symbolic link, either (its target's mode is not the file's).
  const std::string target = dir_.Sub("elsewhere");
  ASSERT_TRUE(WriteFileDurably(target, "secret\n", 0600).ok());
  ASSERT_TRUE(RemoveFile(layout_.compute_password_file()).ok());
  ASSERT_EQ(::symlink(target.c_str(), layout_.compute_password_file().c_str()), 0);
  Result<std::string> linked = ReadPasswordFile(layout_.compute_password_file());
  EXPECT_EQ(linked.status().code(), StatusCode::kPermissionDenied) << linked.status().ToString();
}

TEST_F(TcpUsersTest, ARepositoryWithoutAComputePasswordGetsOne) {
  ASSERT_TRUE(RemoveFile(layout_.compute_password_file()).ok());
  const std::string owner_password = *ReadPasswordFile(layout_.password_file());
  Result<TcpUsers> users = LoadTcpUsers(layout_, /*listening=*/true);
  ASSERT_TRUE(users.ok()) << users.status().ToString();
  EXPECT_EQ(Mode(layout_.compute_password_file()), 0600u);
  auto made = ReadPasswordFile(layout_.compute_password_file());
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  EXPECT_EQ(made->size(), 32u);
  EXPECT_EQ(*ReadPasswordFile(layout_.password_file()), owner_password) << "the owner's stays";
  EXPECT_EQ(users->Find("compute").role, Role::kCompute);
  EXPECT_EQ(users->Find("zenith").role, Role::kZenith);
}

TEST_F(TcpUsersTest, ListeningNeedsBothPasswords) {
  ASSERT_TRUE(WriteFileDurably(layout_.password_file(), "\n", 0600).ok());
  EXPECT_TRUE(LoadTcpUsers(layout_, /*listening=*/false).ok()) << "no TCP, no password needed";
  Result<TcpUsers> users = LoadTcpUsers(layout_, /*listening=*/true);
  ASSERT_EQ(users.status().code(), StatusCode::kInvalidArgument) << users.status().ToString();
  EXPECT_NE(users.status().message().find(layout_.password_file()), std::string::npos);
}

// An unknown user goes through the exchange as a known one does: a salt of
// its own, the same at every attempt, and a proof that never matches.
TEST_F(TcpUsersTest, AnUnknownUserGetsAStableMockSaltAndNoRole) {
  auto users = LoadTcpUsers(layout_, /*listening=*/true);
  ASSERT_TRUE(users.ok()) << users.status().ToString();
  const TcpUsers::Match a = users->Find("postgres"), again = users->Find("postgres"), b = users->Find("admin");
  EXPECT_FALSE(a.role.has_value());
  EXPECT_EQ(a.verifier.salt, again.verifier.salt);
  EXPECT_NE(a.verifier.salt, b.verifier.salt);
  EXPECT_EQ(a.verifier.salt.size(), users->Find("zenith").verifier.salt.size());
  EXPECT_EQ(a.verifier.iterations, users->Find("zenith").verifier.iterations);
  auto other = TcpUsers::Make();
  ASSERT_TRUE(other.ok());
  EXPECT_NE(other->Find("postgres").verifier.salt, a.verifier.salt) << "derived from a secret of each server";
}

}  // namespace
}  // namespace zenith::pageserver
