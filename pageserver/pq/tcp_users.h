// The users of the page server's TCP endpoint: one per role (role.h), each
// with its password file in the repository and the SCRAM verifier the page
// server keeps of it.
//
//   .zenith/password            user zenith (the owner's)
//   .zenith/compute-password    user compute (for the machines of remote mounts)
//
// A password file is one line, mode 0600, made by `zenith init`. As ssh
// refuses a private key others can read, the page server refuses to start
// while a password file is readable by group or others, naming the file.
//
// Thread-safety: a TcpUsers is immutable once made; Find from any thread.
// The file functions are reentrant.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "pageserver/api/repo_layout.h"
#include "pageserver/pq/role.h"
#include "pageserver/pq/scram.h"

namespace zenith::pageserver {

class TcpUsers {
 public:
  // What authenticating as a user goes against. `role` is nullopt for a
  // user that does not exist, whose `verifier` is a mock no proof matches
  // (MockScramVerifier): that exchange fails as a wrong password does.
  struct Match {
    std::optional<Role> role;
    ScramVerifier verifier;
  };

  // No users yet; a random secret for the mock verifiers.
  static Result<TcpUsers> Make();
  // The user named RoleName(role) authenticates against `verifier`.
  void Add(Role role, ScramVerifier verifier);
  Match Find(std::string_view user) const;
  bool empty() const { return users_.empty(); }

 private:
  std::map<std::string, Match, std::less<>> users_;
  std::string mock_secret_;
};

// The password file of `role`.
std::string PasswordFile(const RepoLayout& layout, Role role);

// Writes a new random password (24 random bytes, base64) to `path`, mode
// 0600, crash-safely. kAlreadyExists if `path` exists.
Status CreatePasswordFile(const std::string& path);

// The password in `path` (its first line). kPermissionDenied naming the
// file when group or others may read it or it is not a regular file;
// kNotFound when it does not exist.
Result<std::string> ReadPasswordFile(const std::string& path);

// The TCP endpoint's users, from the repository's password files. Checks
// both files whether or not the server listens on TCP (see the file
// comment), and makes .zenith/compute-password first if the repository
// predates it. kInvalidArgument when `listening` and a password is missing
// or empty.
// REQUIRES: the caller holds the repository's page server lock.
Result<TcpUsers> LoadTcpUsers(const RepoLayout& layout, bool listening);

}  // namespace zenith::pageserver
