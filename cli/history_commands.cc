// zenith branch delete, zenith branch -v, zenith gc: the commands about how
// much history the repository keeps and what it costs.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/repo_context.h"
#include "common/duration.h"
#include "common/str_format.h"

namespace zenith::cli {

namespace {

using Rows = pageserver::PageServerClient::Rows;

uint64_t Number(const std::string& text) { return std::strtoull(text.c_str(), nullptr, 10); }

// "0 B", "812 kB", "1.5 MB", "23.0 GB": as du -h would say it, in 1024s.
std::string FormatBytes(uint64_t bytes) {
  static const char* kUnits[] = {"B", "kB", "MB", "GB", "TB"};
  double v = static_cast<double>(bytes);
  int unit = 0;
  while (v >= 1024 && unit < 4) {
    v /= 1024;
    ++unit;
  }
  return unit == 0 ? std::to_string(bytes) + " B" : StringPrintf(v < 10 ? "%.1f %s" : "%.0f %s", v, kUnits[unit]);
}

std::string Plural(uint64_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

Result<Rows> Run(const GlobalOptions& g, const std::string& command, const std::vector<std::string>& params = {}) {
  ZENITH_ASSIGN_OR_RETURN(RepoContext repo, OpenRepo(ResolveRepoPath(g.repo)));
  ZENITH_ASSIGN_OR_RETURN(auto client, ConnectPageServer(repo));
  return client->Query(command, params);
}

// One `gc` row: what one timeline gave back.
struct GcRow {
  std::string branch, timeline, cutoff;
  bool deleted;
  uint64_t merged, merges, images, compacted_bytes, layers, layer_bytes, wal, wal_bytes, layers_left, layer_bytes_left,
      wal_left, wal_bytes_left;

  static GcRow From(const std::vector<std::string>& r) {
    return {r[0],         r[1],          r[2],          r[3] == "t",   Number(r[4]),  Number(r[5]),
            Number(r[6]), Number(r[7]),  Number(r[8]),  Number(r[9]),  Number(r[10]), Number(r[11]),
            Number(r[12]), Number(r[13]), Number(r[14]), Number(r[15])};
  }
  uint64_t Freed() const { return compacted_bytes + layer_bytes + wal_bytes; }
  std::string Name() const { return branch.empty() ? "timeline " + timeline : branch; }

  std::string Describe() const {
    if (deleted) return Name() + " (deleted): removed its layers and WAL, " + FormatBytes(Freed());
    std::string out = Name() + ": history from " + cutoff;
    if (merged > 0) out += "; merged " + Plural(merged, "layer", "layers") + " into " + std::to_string(merges);
    if (images > 0) out += "; wrote " + Plural(images, "image", "images");
    if (layers + wal > 0) {
      out += "; removed " + Plural(layers, "layer", "layers") + " (" + FormatBytes(layer_bytes) + ") and " +
             Plural(wal, "WAL segment", "WAL segments") + " (" + FormatBytes(wal_bytes) + ")";
    }
    return out + "; keeps " + Plural(layers_left, "layer", "layers") + " (" + FormatBytes(layer_bytes_left) + ") and " +
           Plural(wal_left, "WAL segment", "WAL segments") + " (" + FormatBytes(wal_bytes_left) + ")";
  }
};

}  // namespace

int CmdBranchDelete(const GlobalOptions& g, const std::string& name) {
  auto rows = Run(g, "branch_delete $1", {name});
  if (!rows.ok()) return Fail(rows.status().message());
  std::printf("deleted branch '%s'; the next `zenith gc` frees its space\n", name.c_str());
  return 0;
}

int CmdBranchVerbose(const GlobalOptions& g) {
  auto rows = Run(g, "branch_info");
  if (!rows.ok()) return Fail(rows.status().message());
  std::vector<std::vector<std::string>> table = {
      {"BRANCH", "PARENT", "END OF WAL", "HISTORY FROM", "LOGICAL SIZE", "OWN SIZE", "ONLY ITS OWN", "LAYERS"}};
  for (const auto& r : *rows) {
    std::string parent = r[2].empty() ? "-" : r[2] + "@" + r[3];
    table.push_back({r[0], parent, r[4], r[5], FormatBytes(Number(r[6])), FormatBytes(Number(r[7])),
                     FormatBytes(Number(r[8])), r[9]});
  }
  std::vector<size_t> width(table[0].size(), 0);
  for (const auto& row : table) {
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  for (const auto& row : table) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
    }
    std::printf("%s\n", line.c_str());
  }
  return 0;
}

int CmdGc(const GlobalOptions& g, const std::string& window) {
  if (!window.empty() && !ParseDuration(window)) {
    return Fail("'" + window + "' is not a duration; write it like 7d, 12h, 30m or 45s");
  }
  auto rows = window.empty() ? Run(g, "gc") : Run(g, "gc $1", {window});
  if (!rows.ok()) return Fail(rows.status().message());
  uint64_t freed = 0;
  for (const auto& r : *rows) {
    GcRow row = GcRow::From(r);
    std::printf("%s\n", row.Describe().c_str());
    freed += row.Freed();
  }
  std::printf("gc: freed %s\n", FormatBytes(freed).c_str());
  return 0;
}

}  // namespace zenith::cli
