// zenith remote status | sync [--timeout S]: the repository's remote
// (docs/design.md §12) as the page server's uploader last saw it, and a wait
// until the bucket holds everything durable locally now.
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <ctime>
#include <thread>

#include <nlohmann/json.hpp>

#include "cli/command_line.h"
#include "cli/commands.h"
#include "cli/remote_status.h"
#include "cli/repo_context.h"
#include "common/file_util.h"
#include "common/progress.h"
#include "pageserver/s3/s3_client.h"
#include "pageserver/s3/timeline_index.h"

namespace zenith::cli {

namespace {

using nlohmann::json;

// What the bucket must hold for one branch's timeline.
struct Target {
  std::string branch, timeline;
  Lsn end_of_wal;
  std::vector<std::string> layers;  // local layer files at the call
};

Result<std::vector<Target>> LocalTargets(const RepoContext& repo) {
  ZENITH_ASSIGN_OR_RETURN(auto client, ConnectPageServer(repo));
  ZENITH_ASSIGN_OR_RETURN(auto branches, client.ListBranches());
  std::vector<Target> out;
  for (const auto& b : branches) {
    ZENITH_ASSIGN_OR_RETURN(auto d, client.DescribeTimeline(b.name));
    Target t{b.name, b.timeline.ToString(), d.end_of_wal, {}};
    for (const auto& name : ListDirectory(repo.layout.layers_dir(b.timeline)).value_or(std::vector<std::string>{})) {
      if (name.size() > 6 && name[0] != '.' && name.ends_with(".layer")) t.layers.push_back(name);
    }
    out.push_back(std::move(t));
  }
  return out;
}

// "" when the bucket holds all of `t`, else what it lacks.
std::string Missing(s3::ObjectStore& store, const s3::S3Url& url, uint64_t generation, const RepoContext& repo,
                    const Target& t, const s3::Refs& refs) {
  auto ref = refs.branches.find(t.branch);
  if (ref == refs.branches.end() || ref->second != t.timeline) return "branch " + t.branch + " is not in the refs";
  auto index = s3::ReadNewestIndex(store, url, t.timeline, generation);
  if (!index.ok()) return index.status().message();
  if (!*index) return "branch " + t.branch + ": no index yet";
  const s3::TimelineIndex& i = (*index)->index;
  if (i.wal_uploaded < t.end_of_wal) {
    return "branch " + t.branch + ": WAL in the bucket up to " + i.wal_uploaded.ToString() + " of " + t.end_of_wal.ToString();
  }
  size_t missing = 0;
  for (const auto& name : t.layers) {
    bool named = false;
    for (const auto& l : i.layers) named = named || l.name == name;
    // A layer merged or collected away since the call is not owed.
    if (!named && PathExists(repo.layout.layers_dir(*pageserver::TimelineId::Parse(t.timeline)) + "/" + name)) ++missing;
  }
  if (missing != 0) return "branch " + t.branch + ": " + std::to_string(missing) + " layers not in the bucket's index";
  return "";
}

Result<json> ReadStatusFile(const RepoContext& repo) {
  ZENITH_ASSIGN_OR_RETURN(std::string text, ReadFileToString(repo.layout.remote_status_file()));
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Corruption(repo.layout.remote_status_file() + " is not JSON");
  return j;
}

std::string LastUploadError(const RepoContext& repo) {
  auto j = ReadStatusFile(repo);
  if (!j.ok()) return "";
  const auto e = j->find("last_error");
  if (e == j->end() || !e->is_string() || e->get<std::string>().empty()) return "";
  return "; the uploader's last error: " + e->get<std::string>();
}

Result<uint64_t> ReadGeneration(const RepoContext& repo) {
  ZENITH_ASSIGN_OR_RETURN(std::string text, ReadFileToString(repo.layout.generation_file()));
  try {
    return static_cast<uint64_t>(std::stoull(text));
  } catch (const std::exception&) {
    return Corruption(repo.layout.generation_file() + " does not hold a generation number");
  }
}

int Sync(const RepoContext& repo, double timeout_s) {
  auto url = s3::ParseS3Url(repo.config.remote.url);
  auto settings = s3::LoadS3Settings(s3::ProcessEnvironment(), repo.config.remote.endpoint, repo.config.remote.region);
  auto generation = ReadGeneration(repo);
  if (!url.ok() || !settings.ok() || !generation.ok()) {
    return Fail(!url.ok() ? url.status().message() : !settings.ok() ? settings.status().message()
                                                                     : generation.status().message());
  }
  auto targets = LocalTargets(repo);
  if (!targets.ok()) return Fail(targets.status().message());
  s3::S3Client store(std::move(settings).value(), url->bucket);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(static_cast<int64_t>(timeout_s * 1000));
  std::string lacking;
  for (;;) {
    auto refs = s3::ReadNewestRefs(store, *url, *generation);
    lacking = !refs.ok() ? refs.status().message() : !*refs ? "no refs in the bucket yet" : "";
    for (size_t i = 0; lacking.empty() && i < targets->size(); ++i) {
      lacking = Missing(store, *url, *generation, repo, (*targets)[i], (*refs)->refs);
    }
    if (lacking.empty()) break;
    if (std::chrono::steady_clock::now() >= deadline) {
      return Fail("remote sync timed out after " + std::to_string(static_cast<int>(timeout_s)) + " s: " + lacking +
                  LastUploadError(repo));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  for (const auto& t : *targets) {
    std::printf("%s: in %s up to %s\n", t.branch.c_str(), repo.config.remote.url.c_str(), t.end_of_wal.ToString().c_str());
  }
  return kExitOk;
}

void PrintStatusFile(const json& j) {
  std::printf("generation: %" PRIu64 "%s\n", j.value("generation", uint64_t{0}),
              j.value("superseded", false) ? " (superseded: the repository was attached elsewhere)" : "");
  std::printf("last pass: %" PRId64 " s ago\n", static_cast<int64_t>(std::time(nullptr)) - j.value("time", int64_t{0}));
  const std::string error = j.value("last_error", "");
  std::printf("last error: %s\n", error.empty() ? "none" : error.c_str());
  const json cache = j.value("cache", json::object());
  const uint64_t bound = cache.value("bound", uint64_t{0});
  std::printf("cache: %s of layers on this disk (%s); %" PRIu64 " evicted, %" PRIu64
              " brought back (read often) since the start\n",
              FormatBytes(cache.value("local_bytes", uint64_t{0})).c_str(),
              bound == 0 ? "no cache_size bound" : ("cache_size " + FormatBytes(bound)).c_str(),
              cache.value("evicted", uint64_t{0}), cache.value("hydrated", uint64_t{0}));
  std::printf("%-32s  %-12s  %-12s  %8s  %14s  %s\n", "TIMELINE", "UPLOADED", "END OF WAL", "LAYERS", "BACKLOG BYTES",
              "OLDEST BEHIND");
  const json timelines = j.value("timelines", json::object());
  for (const auto& [id, t] : timelines.items()) {
    std::printf("%-32s  %-12s  %-12s  %8" PRIu64 "  %14" PRIu64 "  %s\n", id.c_str(),
                t.value("wal_uploaded", "").c_str(), t.value("end_of_wal", "").c_str(),
                t.value("backlog_layers", uint64_t{0}), t.value("backlog_bytes", uint64_t{0}),
                t.value("oldest_behind", "").c_str());
  }
}

int PrintStatus(const RepoContext& repo) {
  std::printf("remote: %s\n", repo.config.remote.url.c_str());
  auto j = ReadStatusFile(repo);
  if (!j.ok()) {
    std::printf("no upload pass yet (the page server writes %s after each)\n", repo.layout.remote_status_file().c_str());
    return kExitOk;
  }
  try {
    PrintStatusFile(*j);
  } catch (const json::exception& e) {
    return Fail(repo.layout.remote_status_file() + " is damaged: " + e.what());
  }
  return kExitOk;
}

}  // namespace

std::optional<std::string> SupersededNotice(const RepoContext& repo) {
  auto j = ReadStatusFile(repo);
  if (!j.ok()) return std::nullopt;
  const auto superseded = j->find("superseded");
  if (superseded == j->end() || !superseded->is_boolean() || !superseded->get<bool>()) return std::nullopt;
  return "superseded: " + repo.config.remote.url +
         " was attached elsewhere under a newer generation; this page server no longer publishes to it or deletes "
         "from it";
}

std::optional<std::string> RemoteWarning(const RepoContext& repo) {
  if (repo.config.remote.url.empty()) return std::nullopt;
  if (auto notice = SupersededNotice(repo)) return notice;
  auto j = ReadStatusFile(repo);
  if (!j.ok()) return std::nullopt;
  const auto error = j->find("last_error");
  if (error == j->end() || !error->is_string() || error->get<std::string>().empty()) return std::nullopt;
  uint64_t behind = 0;
  if (const auto timelines = j->find("timelines"); timelines != j->end() && timelines->is_object()) {
    for (const auto& [id, t] : timelines->items()) {
      if (t.is_object() && t.contains("backlog_bytes") && t["backlog_bytes"].is_number_unsigned()) {
        behind += t["backlog_bytes"].get<uint64_t>();
      }
    }
  }
  return "uploads to " + repo.config.remote.url + " are failing (" + error->get<std::string>() + "); " +
         FormatBytes(behind) + " not yet in the bucket; see zenith remote status";
}

int CmdRemote(const GlobalOptions& g, const RemoteCmd& how) {
  auto repo = OpenRepo(ResolveRepoPath(g.repo));
  if (!repo.ok()) return Fail(repo.status().message());
  if (repo->config.remote.url.empty()) return Fail("this repository has no remote (zenith init --remote s3://BUCKET/PREFIX)");
  return how.action == "sync" ? Sync(*repo, how.timeout_s) : PrintStatus(*repo);
}

}  // namespace zenith::cli
