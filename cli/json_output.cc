#include "cli/json_output.h"

#include <cstdio>
#include <map>

namespace zenith::cli {

using nlohmann::json;

namespace {

json LsnOrNull(Lsn lsn) { return lsn.valid() ? json(lsn.ToString()) : json(nullptr); }

json BackgroundRunJson(const std::optional<pageserver::BackgroundRun>& run) {
  if (!run) return nullptr;
  return {{"last_run", run->last_run},
          {"failing_runs", run->failing_runs},
          {"failing_since", run->failing_since},
          {"problem", run->problem.empty() ? json(nullptr) : json(run->problem)}};
}

}  // namespace

json BranchListJson(const std::vector<pageserver::BranchEntry>& branches) {
  std::map<std::string, std::string> name_of;  // timeline -> branch
  for (const auto& b : branches) name_of[b.timeline.ToString()] = b.name;
  json list = json::array();
  for (const auto& b : branches) {
    json parent = nullptr;
    if (b.ancestor) {
      auto it = name_of.find(b.ancestor->ToString());
      parent = it != name_of.end() ? json(it->second) : json(nullptr);  // a deleted parent's timeline has no name
    }
    list.push_back({{"name", b.name},
                    {"timeline", b.timeline.ToString()},
                    {"parent", parent},
                    {"branch_lsn", b.ancestor ? LsnOrNull(b.ancestor_lsn) : json(nullptr)}});
  }
  return {{"branches", list}};
}

json BranchSizesJson(const std::vector<pageserver::BranchSizes>& branches) {
  json list = json::array();
  for (const auto& b : branches) {
    list.push_back({{"name", b.name},
                    {"timeline", b.timeline.ToString()},
                    {"parent", b.parent.empty() ? json(nullptr) : json(b.parent)},
                    {"branch_lsn", b.parent.empty() ? json(nullptr) : LsnOrNull(b.branch_lsn)},
                    {"end_of_wal", LsnOrNull(b.end_of_wal)},
                    {"history_from", LsnOrNull(b.oldest_lsn)},
                    {"logical_size_bytes", b.logical_size},
                    {"own_bytes", b.own_bytes},
                    {"exclusive_bytes", b.exclusive_bytes},
                    {"layers", b.layers}});
  }
  return {{"branches", list}};
}

json MountsJson(const std::vector<pageserver::MountEntry>& mounts, const PostmasterLookup& postmaster) {
  json list = json::array();
  for (const auto& m : mounts) {
    const bool remote = m.mountpoint.rfind('/', 0) != 0;  // HOST:DIR: another machine's
    std::optional<pid_t> pg = remote ? std::nullopt : postmaster(m.mountpoint);
    list.push_back({{"branch", m.branch},
                    {"timeline", m.timeline.ToString()},
                    {"directory", m.mountpoint},
                    {"pid", m.pid},
                    {"remote", remote},
                    {"postgres_pid", pg ? json(*pg) : json(nullptr)},
                    {"read_only", m.read_only},
                    {"point", m.read_only ? LsnOrNull(m.point) : json(nullptr)}});
  }
  return {{"mounts", list}};
}

json PageServerStatusJson(const std::optional<pageserver::ServerStatus>& status, const std::string& socket) {
  if (!status) return {{"running", false}};
  return {{"running", true},
          {"pid", status->pid},
          {"socket", socket},
          {"version", status->version},
          {"repository", status->repository},
          {"system_identifier", std::to_string(status->system_id)},
          {"timelines_loaded", status->timelines_loaded},
          {"mounts", status->mounts},
          {"compaction", BackgroundRunJson(status->compaction)},
          {"gc", BackgroundRunJson(status->gc)}};
}

void PrintJson(const json& doc) {
  std::string text = doc.dump(2);
  text += '\n';
  std::fputs(text.c_str(), stdout);
}

}  // namespace zenith::cli
