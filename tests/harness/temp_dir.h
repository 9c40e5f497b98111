// TempDir: a fresh directory per test under $TMPDIR (or /tmp), removed with
// everything in it when the object dies, even when the test failed. FUSE
// mounts left inside it are unmounted first (lazily, so a dead daemon does
// not block cleanup). Set ZENITH_KEEP_TEST_DIRS=1 to keep it for debugging.
//
// Thread-safety: one owner.
#pragma once

#include <string>

namespace zenith::testing {

class TempDir {
 public:
  // `prefix` names the test in the directory name, for debugging.
  explicit TempDir(const std::string& prefix = "zenith-test");
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();

  const std::string& path() const { return path_; }
  // path() + "/" + relative
  std::string Sub(const std::string& relative) const { return path_ + "/" + relative; }

 private:
  std::string path_;
};

// Unmounts (lazily) every FUSE mount at or below `dir`.
void UnmountFuseBelow(const std::string& dir);

// A TCP port nobody listens on right now (bind to port 0 and read it back).
int FreePort();

}  // namespace zenith::testing
