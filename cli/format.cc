#include "cli/format.h"

#include <algorithm>
#include <ctime>


namespace zenith::cli {

std::string Plural(uint64_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

std::string FormatUnixTime(int64_t seconds) {
  const time_t t = static_cast<time_t>(seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

std::string DescribeBackgroundRun(const pageserver::BackgroundRun& run) {
  if (run.last_run == 0) return "not run yet";
  if (run.failing_runs == 0) return "ok, last run " + FormatUnixTime(run.last_run);
  return "FAILING: " + Plural(run.failing_runs, "run", "runs") + " in a row since " + FormatUnixTime(run.failing_since) +
         ": " + run.problem;
}

std::string RenderTable(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& row : rows) {
    width.resize(std::max(width.size(), row.size()), 0);
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) {
      out += row[i];
      if (i + 1 < row.size()) out += std::string(width[i] - row[i].size() + 2, ' ');
    }
    out += "\n";
  }
  return out;
}

}  // namespace zenith::cli
