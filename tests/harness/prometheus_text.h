// A strict parser of Prometheus's text exposition format (0.0.4), so tests
// check what a scraper would accept rather than match strings: every line is
// a comment, HELP, TYPE or a sample; names and label names are valid; label
// values are properly escaped; values are numbers; a family's TYPE comes
// before its samples, once, and its samples are together; a histogram's
// buckets have ascending `le`, non-decreasing counts and a +Inf bucket equal
// to its _count.
//
// Thread-safety: stateless functions.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"

namespace zenith::testing {

struct PromSample {
  std::string name;  // as written (with _bucket, _sum, _count for histograms)
  std::map<std::string, std::string> labels;
  double value = 0;
};

struct PromFamily {
  std::string name, type, help;
  std::vector<PromSample> samples;
};

struct Exposition {
  std::map<std::string, PromFamily> families;
  // The value of the sample `name` whose labels include `labels`, summed
  // over every such sample; 0 if none.
  double Sum(const std::string& name, const std::map<std::string, std::string>& labels = {}) const;
  bool Has(const std::string& family) const { return families.count(family) > 0; }
};

Result<Exposition> ParsePrometheusText(const std::string& text);

// The zenith_* series names the queries of a Grafana dashboard (JSON at
// `path`, docs/grafana-dashboard.json) use; Corruption if it is not one.
Result<std::set<std::string>> DashboardSeries(const std::string& path);
// The names of every sample `e` holds.
std::set<std::string> ServedSeries(const Exposition& e);

}  // namespace zenith::testing
