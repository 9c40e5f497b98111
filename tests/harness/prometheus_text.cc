#include "tests/harness/prometheus_text.h"

#include <cmath>
#include <cstdlib>
#include <regex>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/file_util.h"

namespace zenith::testing {

namespace {

bool IsNameStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':'; }
bool IsNameChar(char c) { return IsNameStart(c) || std::isdigit(static_cast<unsigned char>(c)); }

bool ValidMetricName(const std::string& s) {
  if (s.empty() || !IsNameStart(s[0])) return false;
  for (char c : s) {
    if (!IsNameChar(c)) return false;
  }
  return true;
}

bool ValidLabelName(const std::string& s) { return ValidMetricName(s) && s.find(':') == std::string::npos; }

Result<double> ParseValue(const std::string& s) {
  if (s == "+Inf" || s == "Inf") return HUGE_VAL;
  if (s == "-Inf") return -HUGE_VAL;
  if (s == "NaN") return NAN;
  if (s.empty()) return InvalidArgument("empty value");
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (*end != '\0') return InvalidArgument("'" + s + "' is not a number");
  return v;
}

// Parses `{a="x",b="y"}` starting at text[pos] == '{'; pos ends after '}'.
Status ParseLabels(const std::string& text, size_t& pos, std::map<std::string, std::string>& labels) {
  ++pos;
  while (pos < text.size() && text[pos] != '}') {
    size_t eq = text.find('=', pos);
    if (eq == std::string::npos) return InvalidArgument("label without '='");
    std::string name = text.substr(pos, eq - pos);
    if (!ValidLabelName(name)) return InvalidArgument("bad label name '" + name + "'");
    if (eq + 1 >= text.size() || text[eq + 1] != '"') return InvalidArgument("label value not quoted");
    std::string value;
    size_t i = eq + 2;
    for (; i < text.size() && text[i] != '"'; ++i) {
      if (text[i] == '\\') {
        if (++i >= text.size()) return InvalidArgument("escape at end of line");
        char e = text[i];
        if (e == 'n') value += '\n';
        else if (e == '\\' || e == '"') value += e;
        else return InvalidArgument(std::string("bad escape \\") + e);
      } else {
        value += text[i];
      }
    }
    if (i >= text.size()) return InvalidArgument("unterminated label value");
    if (!labels.emplace(name, value).second) return InvalidArgument("label '" + name + "' twice");
    pos = i + 1;
    if (pos < text.size() && text[pos] == ',') ++pos;
  }
  if (pos >= text.size()) return InvalidArgument("unterminated label set");
  ++pos;
  return Status::Ok();
}

Result<PromSample> ParseSample(const std::string& line) {
  PromSample s;
  size_t pos = 0;
  while (pos < line.size() && IsNameChar(line[pos])) ++pos;
  s.name = line.substr(0, pos);
  if (!ValidMetricName(s.name)) return InvalidArgument("bad metric name in '" + line + "'");
  if (pos < line.size() && line[pos] == '{') ZENITH_RETURN_IF_ERROR(ParseLabels(line, pos, s.labels));
  if (pos >= line.size() || line[pos] != ' ') return InvalidArgument("no value in '" + line + "'");
  std::istringstream rest(line.substr(pos + 1));
  std::string value, timestamp, extra;
  rest >> value >> timestamp >> extra;
  if (!extra.empty()) return InvalidArgument("trailing text in '" + line + "'");
  ZENITH_ASSIGN_OR_RETURN(s.value, ParseValue(value));
  return s;
}

// The family a sample belongs to: its name, or a histogram's base name.
std::string FamilyOf(const std::string& sample, const std::map<std::string, PromFamily>& families) {
  for (const char* suffix : {"_bucket", "_sum", "_count"}) {
    std::string sfx(suffix);
    if (sample.size() > sfx.size() && sample.ends_with(sfx)) {
      std::string base = sample.substr(0, sample.size() - sfx.size());
      auto it = families.find(base);
      if (it != families.end() && (it->second.type == "histogram" || it->second.type == "summary")) return base;
    }
  }
  return sample;
}

Status CheckHistogram(const PromFamily& f) {
  std::map<std::map<std::string, std::string>, std::vector<std::pair<double, double>>> buckets;
  std::map<std::map<std::string, std::string>, double> counts;
  for (const auto& s : f.samples) {
    auto labels = s.labels;
    if (s.name == f.name + "_bucket") {
      auto le = labels.find("le");
      if (le == labels.end()) return InvalidArgument(f.name + ": a bucket without le");
      ZENITH_ASSIGN_OR_RETURN(double bound, ParseValue(le->second));
      labels.erase(le);
      buckets[labels].push_back({bound, s.value});
    } else if (s.name == f.name + "_count") {
      counts[labels] = s.value;
    }
  }
  for (const auto& [labels, list] : buckets) {
    for (size_t i = 1; i < list.size(); ++i) {
      if (!(list[i].first > list[i - 1].first)) return InvalidArgument(f.name + ": le not ascending");
      if (list[i].second < list[i - 1].second) return InvalidArgument(f.name + ": bucket counts decrease");
    }
    if (list.empty() || !std::isinf(list.back().first)) return InvalidArgument(f.name + ": no +Inf bucket");
    auto c = counts.find(labels);
    if (c == counts.end() || c->second != list.back().second) return InvalidArgument(f.name + ": +Inf bucket != _count");
  }
  return Status::Ok();
}

}  // namespace

double Exposition::Sum(const std::string& name, const std::map<std::string, std::string>& labels) const {
  double sum = 0;
  for (const auto& [fname, f] : families) {
    for (const auto& s : f.samples) {
      if (s.name != name) continue;
      bool match = true;
      for (const auto& [k, v] : labels) {
        auto it = s.labels.find(k);
        match = match && it != s.labels.end() && it->second == v;
      }
      if (match) sum += s.value;
    }
  }
  return sum;
}

Result<Exposition> ParsePrometheusText(const std::string& text) {
  Exposition e;
  std::set<std::string> closed;  // families whose samples ended
  std::string current;
  std::istringstream in(text);
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    auto at = [&](const Status& s) { return InvalidArgument("line " + std::to_string(number) + ": " + s.message()); };
    if (line.empty()) continue;
    if (line[0] == '#') {
      std::istringstream words(line);
      std::string hash, keyword, name;
      words >> hash >> keyword >> name;
      if (keyword != "HELP" && keyword != "TYPE") continue;  // a plain comment
      if (!ValidMetricName(name)) return at(InvalidArgument("bad name '" + name + "'"));
      PromFamily& f = e.families[name];
      f.name = name;
      std::string rest;
      std::getline(words, rest);
      if (!rest.empty() && rest[0] == ' ') rest.erase(0, 1);
      if (keyword == "TYPE") {
        if (!f.type.empty()) return at(InvalidArgument("second TYPE for " + name));
        if (!f.samples.empty()) return at(InvalidArgument("TYPE after samples of " + name));
        static const std::set<std::string> kTypes = {"counter", "gauge", "histogram", "summary", "untyped"};
        if (!kTypes.count(rest)) return at(InvalidArgument("unknown type '" + rest + "'"));
        f.type = rest;
      } else {
        f.help = rest;
      }
      continue;
    }
    auto sample = ParseSample(line);
    if (!sample.ok()) return at(sample.status());
    std::string family = FamilyOf(sample->name, e.families);
    if (family != current) {
      if (closed.count(family)) return at(InvalidArgument("samples of " + family + " are not together"));
      if (!current.empty()) closed.insert(current);
      current = family;
    }
    PromFamily& f = e.families[family];
    f.name = family;
    if (f.type.empty()) f.type = "untyped";
    if (f.type == "counter" && sample->value < 0) return at(InvalidArgument("negative counter " + family));
    f.samples.push_back(std::move(*sample));
  }
  for (const auto& [name, f] : e.families) {
    if (f.type == "histogram") {
      if (Status s = CheckHistogram(f); !s.ok()) return s;
    }
  }
  return e;
}

Result<std::set<std::string>> DashboardSeries(const std::string& path) {
  ZENITH_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  auto dashboard = nlohmann::json::parse(text, nullptr, false);
  if (dashboard.is_discarded() || !dashboard.contains("panels")) return Corruption("\"" + path + "\" is no dashboard");
  std::set<std::string> queried;
  const std::regex name(R"(zenith_[a-z_]+)");
  for (const auto& panel : dashboard["panels"]) {
    for (const auto& target : panel.value("targets", nlohmann::json::array())) {
      const std::string expr = target.value("expr", "");
      for (auto it = std::sregex_iterator(expr.begin(), expr.end(), name); it != std::sregex_iterator(); ++it) {
        queried.insert(it->str());
      }
    }
  }
  return queried;
}

std::set<std::string> ServedSeries(const Exposition& e) {
  std::set<std::string> served;
  for (const auto& [family, f] : e.families) {
    for (const auto& s : f.samples) served.insert(s.name);
  }
  return served;
}

}  // namespace zenith::testing
