#include "common/spawn.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <unistd.h>

#include <cerrno>

#include "common/unique_fd.h"

extern char** environ;

namespace zenith {

namespace {

// RAII for the spawn attribute objects.
struct FileActions {
  posix_spawn_file_actions_t a;
  FileActions() { posix_spawn_file_actions_init(&a); }
  ~FileActions() { posix_spawn_file_actions_destroy(&a); }
};
struct Attributes {
  posix_spawnattr_t a;
  Attributes() { posix_spawnattr_init(&a); }
  ~Attributes() { posix_spawnattr_destroy(&a); }
};

std::vector<std::string> Environment(const std::map<std::string, std::string>& overrides) {
  std::vector<std::string> out;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string entry(*e);
    std::string name = entry.substr(0, entry.find('='));
    if (!overrides.count(name)) out.push_back(std::move(entry));
  }
  for (const auto& [k, v] : overrides) out.push_back(k + "=" + v);
  return out;
}

std::vector<char*> Pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

}  // namespace

Result<pid_t> Spawn(const SpawnOptions& options) {
  if (options.argv.empty()) return InvalidArgument("nothing to run");
  const std::string& program = options.argv[0];
  FileActions actions;
  Attributes attrs;
  // Descriptors to pass are first copied high (close-on-exec in the parent),
  // so renumbering them to 3, 4, ... in the child cannot clobber another.
  std::vector<UniqueFd> staged;
  for (int fd : options.pass_fds) {
    int high = fcntl(fd, F_DUPFD_CLOEXEC, 100);
    if (high < 0) return ErrnoStatus("pass a descriptor to " + program, errno);
    staged.emplace_back(high);
  }
  posix_spawn_file_actions_t* fa = &actions.a;
  if (options.stdin_null) posix_spawn_file_actions_addopen(fa, 0, "/dev/null", O_RDONLY, 0);
  else if (options.stdin_fd >= 0) posix_spawn_file_actions_adddup2(fa, options.stdin_fd, 0);
  if (!options.output_path.empty()) {
    posix_spawn_file_actions_addopen(fa, 1, options.output_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    posix_spawn_file_actions_adddup2(fa, 1, 2);
  } else {
    if (options.stdout_fd >= 0) posix_spawn_file_actions_adddup2(fa, options.stdout_fd, 1);
    if (options.stderr_fd >= 0) posix_spawn_file_actions_adddup2(fa, options.stderr_fd, 2);
  }
  for (size_t i = 0; i < staged.size(); ++i) {
    posix_spawn_file_actions_adddup2(fa, staged[i].get(), 3 + static_cast<int>(i));
  }
  posix_spawn_file_actions_addclosefrom_np(fa, 3 + static_cast<int>(staged.size()));
  if (!options.cwd.empty()) posix_spawn_file_actions_addchdir_np(fa, options.cwd.c_str());

  short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
  if (options.new_session) flags |= POSIX_SPAWN_SETSID;
  if (options.new_process_group) flags |= POSIX_SPAWN_SETPGROUP;
  posix_spawnattr_setflags(&attrs.a, flags);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attrs.a, &none);
  posix_spawnattr_setsigdefault(&attrs.a, &all);
  posix_spawnattr_setpgroup(&attrs.a, 0);

  std::vector<std::string> argv_strings = options.argv;
  std::vector<std::string> env_strings = Environment(options.env);
  std::vector<char*> argv = Pointers(argv_strings), envp = Pointers(env_strings);
  pid_t pid = 0;
  const int err = options.search_path ? posix_spawnp(&pid, program.c_str(), fa, &attrs.a, argv.data(), envp.data())
                                      : posix_spawn(&pid, program.c_str(), fa, &attrs.a, argv.data(), envp.data());
  if (err != 0) return ErrnoStatus("run", program, err);
  return pid;
}

}  // namespace zenith
