#include "pageserver/pq/tcp_users.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

#include "common/file_util.h"
#include "pageserver/pq/scram.h"

namespace zenith::pageserver {

namespace {

std::string FirstLine(std::string text) {
  text.resize(std::min(text.size(), text.find_first_of("\r\n")));
  return text;
}

// The user of `role`, when the server listens or its file has a password.
Status AddUser(const RepoLayout& layout, Role role, bool listening, TcpUsers* users) {
  const std::string path = PasswordFile(layout, role);
  Result<std::string> password = ReadPasswordFile(path);
  if (!password.ok() && password.status().code() != StatusCode::kNotFound) return password.status();
  if (!password.ok() || password->empty()) {
    if (!listening) return Status::Ok();
    return InvalidArgument("listening on TCP needs the password of user " + std::string(RoleName(role)) + " in " +
                           path + " (one line, mode 0600)");
  }
  ZENITH_ASSIGN_OR_RETURN(ScramVerifier verifier, ScramVerifier::FromPassword(*password));
  users->Add(role, std::move(verifier));
  return Status::Ok();
}

}  // namespace

Result<TcpUsers> TcpUsers::Make() {
  TcpUsers users;
  ZENITH_ASSIGN_OR_RETURN(users.mock_secret_, RandomBytes(32));
  return users;
}

void TcpUsers::Add(Role role, ScramVerifier verifier) {
  users_.insert_or_assign(std::string(RoleName(role)), Match{role, std::move(verifier)});
}

TcpUsers::Match TcpUsers::Find(std::string_view user) const {
  auto it = users_.find(user);
  if (it != users_.end()) return it->second;
  return Match{std::nullopt, MockScramVerifier(user, mock_secret_)};
}

std::string PasswordFile(const RepoLayout& layout, Role role) {
  return role == Role::kZenith ? layout.password_file() : layout.compute_password_file();
}

Status CreatePasswordFile(const std::string& path) {
  ZENITH_ASSIGN_OR_RETURN(std::string raw, RandomBytes(24));
  return CreateFileDurablyExclusive(path, Base64Encode(raw) + "\n", 0600);
}

Result<std::string> ReadPasswordFile(const std::string& path) {
  // The mode is checked on the file that is read, not on a name that may
  // have changed in between; a symbolic link is not followed.
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));  // a FIFO never blocks the start
  if (!fd.valid()) {
    if (errno == ENOENT) return NotFound("no password file " + path);
    if (errno == ELOOP) return PermissionDenied("password file " + path + " is a symbolic link; make it a file of mode 0600");
    return ErrnoStatus("open", path, errno);
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return ErrnoStatus("stat", path, errno);
  if (!S_ISREG(st.st_mode)) return PermissionDenied("password file " + path + " is not a regular file");
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return PermissionDenied("permissions " + std::string(mode) + " for password file " + path +
                            " are too open: group or others may read it; run `chmod 600 " + path + "`");
  }
  std::string text(4096, '\0');  // a password is one short line
  ZENITH_ASSIGN_OR_RETURN(size_t n, PreadFull(fd.get(), std::span(reinterpret_cast<uint8_t*>(text.data()), text.size()), 0, path));
  text.resize(n);
  return FirstLine(std::move(text));
}

Result<TcpUsers> LoadTcpUsers(const RepoLayout& layout, bool listening) {
  const std::string compute = PasswordFile(layout, Role::kCompute);
  if (!PathExists(compute)) {
    // A repository made before the compute role: its computes get a
    // password of their own now.
    Status made = CreatePasswordFile(compute);
    if (!made.ok() && made.code() != StatusCode::kAlreadyExists) return made;
  }
  ZENITH_ASSIGN_OR_RETURN(TcpUsers users, TcpUsers::Make());
  for (Role role : {Role::kZenith, Role::kCompute}) ZENITH_RETURN_IF_ERROR(AddUser(layout, role, listening, &users));
  return users;
}

}  // namespace zenith::pageserver
