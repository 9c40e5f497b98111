#include "tests/harness/remote_repo.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "common/file_util.h"

namespace zenith::testing {

void InitWithRemote(ZenithEnv& env, const TempDir& dir, const S3TestEnv& s3env, const std::string& url,
                    const nlohmann::json& remote) {
  for (const auto& [k, v] : s3env.vars) env.SetEnv(k, v);
  env.SetEnv("HOME", dir.path());
  ASSERT_TRUE(env.MustZenith({"init", "--auth", "trust", "--remote", url}).ok());
  env.Zenith({"pageserver", "stop"});
  auto text = ReadFileToString(env.repo() + "/config");
  ASSERT_TRUE(text.ok()) << text.status().ToString();
  auto config = nlohmann::json::parse(*text);
  config["remote"].update(remote);
  ASSERT_TRUE(WriteFileDurably(env.repo() + "/config", config.dump(2)).ok());
}

LocalLayers CountLocalLayers(const std::string& repo) {
  LocalLayers out;
  std::error_code ec;
  for (const auto& timeline : std::filesystem::directory_iterator(repo + "/timelines", ec)) {
    for (const auto& f : std::filesystem::directory_iterator(timeline.path() / "layers", ec)) {
      const std::string name = f.path().filename().string();
      if (name.empty() || name[0] == '.' || !f.is_regular_file(ec)) continue;
      char head = 0;
      std::ifstream(f.path(), std::ios::binary).read(&head, 1);
      if (head == '{') {
        ++out.stubs;
      } else {
        ++out.files;
        out.file_bytes += f.file_size(ec);
      }
    }
  }
  return out;
}

}  // namespace zenith::testing
