#include "tests/harness/temp_dir.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "common/file_util.h"
#include "tests/harness/subprocess.h"

namespace zenith::testing {

TempDir::TempDir(const std::string& prefix) {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/" + prefix + "-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (mkdtemp(buf.data()) == nullptr) throw std::runtime_error("mkdtemp failed for " + tmpl);
  path_ = buf.data();
}

TempDir::~TempDir() {
  const char* keep = std::getenv("ZENITH_KEEP_TEST_DIRS");
  if (keep && *keep == '1') return;
  UnmountFuseBelow(path_);
  IgnoreError(RemoveTree(path_));
}

void UnmountFuseBelow(const std::string& dir) {
  std::ifstream mounts("/proc/self/mounts");
  std::string line;
  std::vector<std::string> targets;
  while (std::getline(mounts, line)) {
    std::istringstream fields(line);
    std::string source, target, type;
    fields >> source >> target >> type;
    if (type.rfind("fuse", 0) == 0 && (target == dir || target.rfind(dir + "/", 0) == 0)) targets.push_back(target);
  }
  for (const auto& t : targets) RunCommand({"fusermount3", "-u", "-z", t}, {.timeout = std::chrono::seconds(10)});
}

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  int port = -1;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

}  // namespace zenith::testing
