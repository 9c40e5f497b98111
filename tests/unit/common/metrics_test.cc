// Metrics (common/metrics.h) render as Prometheus's text format, checked by a
// strict parser (tests/harness/prometheus_text.h), which is itself checked
// to refuse what a scraper would refuse.
#include "common/metrics.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "tests/harness/prometheus_text.h"

namespace zenith::metrics {
namespace {

using testing::ParsePrometheusText;

TEST(Metrics, CountersGaugesAndHistogramsRenderAndParse) {
  Registry r;
  r.GetCounter("zenith_requests_total", "Requests.", {{"kind", "unix"}}).Inc(3);
  r.GetCounter("zenith_requests_total", "Requests.", {{"kind", "tcp"}}).Inc();
  r.GetGauge("zenith_open", "Open things.").Set(-2);
  Histogram& h = r.GetHistogram("zenith_latency_seconds", "Latency.", {}, {0.001, 0.01});
  h.Observe(0.0005);
  h.Observe(0.005);
  h.Observe(5);
  auto e = ParsePrometheusText(r.Render());
  ASSERT_TRUE(e.ok()) << e.status().ToString() << "\n" << r.Render();
  EXPECT_EQ(e->families.at("zenith_requests_total").type, "counter");
  EXPECT_EQ(e->Sum("zenith_requests_total", {{"kind", "unix"}}), 3);
  EXPECT_EQ(e->Sum("zenith_requests_total"), 4);
  EXPECT_EQ(e->Sum("zenith_open"), -2);
  EXPECT_EQ(e->Sum("zenith_latency_seconds_bucket", {{"le", "0.001"}}), 1);
  EXPECT_EQ(e->Sum("zenith_latency_seconds_bucket", {{"le", "0.01"}}), 2);
  EXPECT_EQ(e->Sum("zenith_latency_seconds_bucket", {{"le", "+Inf"}}), 3);
  EXPECT_EQ(e->Sum("zenith_latency_seconds_count"), 3);
  EXPECT_NEAR(e->Sum("zenith_latency_seconds_sum"), 5.0055, 1e-6);
}

TEST(Metrics, RegisteringAgainReturnsTheSameMetric) {
  Registry r;
  Counter& a = r.GetCounter("zenith_x_total", "X.", {{"k", "v"}});
  Counter& b = r.GetCounter("zenith_x_total", "X.", {{"k", "v"}});
  EXPECT_EQ(&a, &b);
  EXPECT_NE(&a, &r.GetCounter("zenith_x_total", "X.", {{"k", "w"}}));
}

TEST(Metrics, LabelValuesAreEscaped) {
  Registry r;
  r.GetGauge("zenith_branch_info", "Branches.", {{"branch", "a\"b\\c\nd"}}).Set(1);
  auto e = ParsePrometheusText(r.Render());
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->families.at("zenith_branch_info").samples.at(0).labels.at("branch"), "a\"b\\c\nd");
}

TEST(Metrics, CollectorsRunAtEveryRenderUntilRemoved) {
  Registry r;
  int calls = 0;
  int id = r.AddCollector([&] {
    ++calls;
    return std::vector<CollectedFamily>{{"zenith_layers", "Layers.", Type::kGauge, {{{{"timeline", "t1"}}, 7}}}};
  });
  auto e = ParsePrometheusText(r.Render());
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->Sum("zenith_layers", {{"timeline", "t1"}}), 7);
  r.RemoveCollector(id);
  EXPECT_FALSE(ParsePrometheusText(r.Render())->Has("zenith_layers"));
  EXPECT_EQ(calls, 1);
}

TEST(Metrics, ConcurrentUpdatesAreAllCounted) {
  Registry r;
  Counter& c = r.GetCounter("zenith_n_total", "N.");
  Histogram& h = r.GetHistogram("zenith_h_seconds", "H.");
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        c.Inc();
        h.Observe(0.001);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.value(), 40000u);
  EXPECT_EQ(h.Read().cumulative.back(), 40000u);
}

TEST(PrometheusText, RefusesWhatAScraperRefuses) {
  const char* bad[] = {
      "zenith x 1\n",                                    // a space in a name
      "zenith_x{a=\"1\" 1\n",                            // unterminated labels
      "zenith_x{a=1} 1\n",                               // unquoted value
      "zenith_x{a=\"\\q\"} 1\n",                         // bad escape
      "zenith_x one\n",                                  // not a number
      "# TYPE zenith_x counter\n# TYPE zenith_x counter\nzenith_x 1\n",  // TYPE twice
      "# TYPE zenith_x counter\nzenith_x -1\n",          // negative counter
      "zenith_a 1\nzenith_b 1\nzenith_a 2\n",            // a family split
      "# TYPE zenith_h histogram\nzenith_h_bucket{le=\"1\"} 2\nzenith_h_bucket{le=\"+Inf\"} 1\nzenith_h_count 1\n",
      "# TYPE zenith_h histogram\nzenith_h_bucket{le=\"1\"} 1\nzenith_h_count 1\n",  // no +Inf
  };
  for (const char* text : bad) EXPECT_FALSE(ParsePrometheusText(text).ok()) << text;
  EXPECT_TRUE(ParsePrometheusText("# a comment\n# HELP zenith_x X.\n# TYPE zenith_x gauge\nzenith_x{a=\"b\"} 1.5e3 17\n").ok());
}

}  // namespace
}  // namespace zenith::metrics
