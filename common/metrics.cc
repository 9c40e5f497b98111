#include "common/metrics.h"

#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace zenith::metrics {

namespace {

const char* TypeName(Type type) {
  switch (type) {
    case Type::kCounter: return "counter";
    case Type::kGauge: return "gauge";
    case Type::kHistogram: return "histogram";
  }
  return "untyped";
}

std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.0f", v);
    return buf;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

std::string RenderLabels(const Labels& labels, const std::pair<std::string, std::string>* extra = nullptr) {
  if (labels.empty() && !extra) return "";
  std::string out = "{";
  bool first = true;
  auto add = [&](const std::string& k, const std::string& v) {
    if (!first) out += ',';
    first = false;
    out += k + "=\"" + EscapeLabelValue(v) + "\"";
  };
  for (const auto& [k, v] : labels) add(k, v);
  if (extra) add(extra->first, extra->second);
  return out + "}";
}

std::string EscapeHelp(const std::string& help) {
  std::string out;
  for (char c : help) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

void RenderHeader(std::string& out, const std::string& name, const std::string& help, Type type) {
  out += "# HELP " + name + " " + EscapeHelp(help) + "\n";
  out += "# TYPE " + name + " " + TypeName(type) + "\n";
}

void RenderHistogram(std::string& out, const std::string& name, const Labels& labels, const Histogram& h) {
  Histogram::Snapshot s = h.Read();
  for (size_t i = 0; i < s.upper_bounds.size(); ++i) {
    std::pair<std::string, std::string> le{"le", FormatValue(s.upper_bounds[i])};
    out += name + "_bucket" + RenderLabels(labels, &le) + " " + std::to_string(s.cumulative[i]) + "\n";
  }
  std::pair<std::string, std::string> inf{"le", "+Inf"};
  out += name + "_bucket" + RenderLabels(labels, &inf) + " " + std::to_string(s.cumulative.back()) + "\n";
  out += name + "_sum" + RenderLabels(labels) + " " + FormatValue(s.sum) + "\n";
  out += name + "_count" + RenderLabels(labels) + " " + std::to_string(s.cumulative.back()) + "\n";
}

}  // namespace

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)), counts_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0, std::memory_order_relaxed);
}

void Histogram::Observe(double value) {
  size_t i = 0;
  while (i < bounds_.size() && value > bounds_[i]) ++i;
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  if (value > 0) sum_nanos_.fetch_add(static_cast<uint64_t>(value * 1e9), std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::Read() const {
  Snapshot s;
  s.upper_bounds = bounds_;
  uint64_t running = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    running += counts_[i].load(std::memory_order_relaxed);
    s.cumulative.push_back(running);
  }
  s.sum = static_cast<double>(sum_nanos_.load(std::memory_order_relaxed)) / 1e9;
  return s;
}

std::vector<double> LatencyBuckets() {
  return {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10};
}

Registry::Family& Registry::FamilyFor(const std::string& name, const std::string& help, Type type) {
  auto [it, inserted] = families_.try_emplace(name);
  if (inserted) {
    it->second.help = help;
    it->second.type = type;
  } else if (it->second.type != type) {
    throw std::logic_error("metric " + name + " registered with two types");  // a programming error
  }
  return it->second;
}

Counter& Registry::GetCounter(const std::string& name, const std::string& help, const Labels& labels) {
  std::lock_guard lock(mu_);
  auto& slot = FamilyFor(name, help, Type::kCounter).counters[labels];
  if (!slot) slot = std::make_unique<Counter>();
  return *slot;
}

Gauge& Registry::GetGauge(const std::string& name, const std::string& help, const Labels& labels) {
  std::lock_guard lock(mu_);
  auto& slot = FamilyFor(name, help, Type::kGauge).gauges[labels];
  if (!slot) slot = std::make_unique<Gauge>();
  return *slot;
}

Histogram& Registry::GetHistogram(const std::string& name, const std::string& help, const Labels& labels,
                                  const std::vector<double>& upper_bounds) {
  std::lock_guard lock(mu_);
  auto& slot = FamilyFor(name, help, Type::kHistogram).histograms[labels];
  if (!slot) slot = std::make_unique<Histogram>(upper_bounds);
  return *slot;
}

int Registry::AddCollector(Collector collector) {
  std::lock_guard lock(mu_);
  collectors_.emplace(next_collector_, std::move(collector));
  return next_collector_++;
}

void Registry::RemoveCollector(int id) {
  std::lock_guard lock(mu_);
  collectors_.erase(id);
}

std::string Registry::Render() const {
  std::vector<Collector> collectors;
  std::map<std::string, std::string> rendered;  // family name -> its text
  {
    std::lock_guard lock(mu_);
    for (const auto& [id, c] : collectors_) collectors.push_back(c);
    for (const auto& [name, f] : families_) {
      std::string& out = rendered[name];
      RenderHeader(out, name, f.help, f.type);
      for (const auto& [labels, c] : f.counters) out += name + RenderLabels(labels) + " " + std::to_string(c->value()) + "\n";
      for (const auto& [labels, g] : f.gauges) out += name + RenderLabels(labels) + " " + std::to_string(g->value()) + "\n";
      for (const auto& [labels, h] : f.histograms) RenderHistogram(out, name, labels, *h);
    }
  }
  for (const auto& collect : collectors) {
    for (const auto& family : collect()) {
      if (rendered.count(family.name)) continue;  // a name is one family; the first owner keeps it
      std::string& out = rendered[family.name];
      RenderHeader(out, family.name, family.help, family.type);
      for (const auto& [labels, value] : family.samples) out += family.name + RenderLabels(labels) + " " + FormatValue(value) + "\n";
    }
  }
  std::string text;
  for (const auto& [name, out] : rendered) text += out;
  return text;
}

Registry& Global() {
  static Registry* registry = new Registry();  // never destroyed: threads may update it at exit
  return *registry;
}

std::string EscapeLabelValue(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

}  // namespace zenith::metrics
