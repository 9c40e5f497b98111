// Metrics in Prometheus's text exposition format (version 0.0.4): counters,
// gauges and histograms that hot paths update without a lock, and collectors
// that compute values when scraped (sizes of things already kept elsewhere).
// A Registry renders all of them; the page server serves Global() over HTTP
// (pageserver/metrics/metrics_endpoint.h).
//
// Names follow Prometheus's conventions: zenith_<what>_<unit>, counters end
// in _total, durations are seconds, sizes bytes. A metric is registered once
// per (name, labels); registering it again returns the same object, so a
// call site may register lazily.
//
// Thread-safety: Counter, Gauge and Histogram updates are lock-free and safe
// from any thread. Registry methods are thread-safe (one mutex, never held
// while a hot path updates a metric). References returned by a Registry stay
// valid for its lifetime.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace zenith::metrics {

// Label name -> value, e.g. {{"kind", "unix"}}; rendered sorted by name.
using Labels = std::map<std::string, std::string>;

class Counter {
 public:
  void Inc(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

class Gauge {
 public:
  void Set(int64_t v) { value_.store(v, std::memory_order_relaxed); }
  void Add(int64_t d) { value_.fetch_add(d, std::memory_order_relaxed); }
  int64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> value_{0};
};

// Cumulative buckets with fixed upper bounds (seconds, or any unit).
class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void Observe(double value);

  struct Snapshot {
    std::vector<double> upper_bounds;
    std::vector<uint64_t> cumulative;  // per bound, then +Inf (== count)
    double sum = 0;
  };
  Snapshot Read() const;

 private:
  const std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // per bucket, not cumulative; last is +Inf
  std::atomic<uint64_t> sum_nanos_{0};               // sum * 1e9, so it adds without a CAS loop
};

// Latencies from 50 us to 10 s.
std::vector<double> LatencyBuckets();

enum class Type { kCounter, kGauge, kHistogram };

// What a collector reports at scrape time: one family, its samples.
struct CollectedFamily {
  std::string name, help;
  Type type = Type::kGauge;
  std::vector<std::pair<Labels, double>> samples;
};
using Collector = std::function<std::vector<CollectedFamily>()>;

class Registry {
 public:
  Counter& GetCounter(const std::string& name, const std::string& help, const Labels& labels = {});
  Gauge& GetGauge(const std::string& name, const std::string& help, const Labels& labels = {});
  Histogram& GetHistogram(const std::string& name, const std::string& help, const Labels& labels = {},
                          const std::vector<double>& upper_bounds = LatencyBuckets());
  // Runs at every Render(), outside the registry's lock; the returned id
  // removes it (RemoveCollector) before what it reads goes away.
  int AddCollector(Collector collector);
  void RemoveCollector(int id);

  // Every metric, one HELP and TYPE line per family, families by name.
  std::string Render() const;

 private:
  struct Family {
    std::string help;
    Type type;
    std::map<Labels, std::unique_ptr<Counter>> counters;
    std::map<Labels, std::unique_ptr<Gauge>> gauges;
    std::map<Labels, std::unique_ptr<Histogram>> histograms;
  };
  Family& FamilyFor(const std::string& name, const std::string& help, Type type);

  mutable std::mutex mu_;
  std::map<std::string, Family> families_;
  std::map<int, Collector> collectors_;
  int next_collector_ = 1;
};

// The process's registry.
Registry& Global();

// Escapes a label value as the text format requires (\\, \", \n).
std::string EscapeLabelValue(const std::string& value);

}  // namespace zenith::metrics
