// etl/metrics.h: counters, gauges and histograms shared by the core and the plugins, exposed in
// Prometheus' text format (GET /metrics) with labels.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace etl {

using Labels = std::vector<std::pair<std::string, std::string>>;

// Seconds, counted into fixed buckets (5 ms to 60 s), for latencies.
class Histogram {
 public:
  static constexpr std::array<double, 13> kBounds{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                                  1,     2.5,  5,     10,   30,  60};
  void observe(double seconds);
  // Counts per bucket (cumulative, Prometheus' `le`), then +Inf; the sum in seconds.
  std::vector<int64_t> cumulative() const;
  double sum() const { return static_cast<double>(sumMicros_.load()) / 1e6; }

 private:
  std::array<std::atomic<int64_t>, kBounds.size() + 1> counts_{};
  std::atomic<int64_t> sumMicros_{0};
};

class Metrics {
 public:
  // A counter of one pipeline, by the convention "<pipeline>.<name>" (e.g. "ingest.retries"):
  // exposed as etlrun_<name>_total{pipeline="ingest"}. Created at first use; references stay
  // valid for the process lifetime.
  std::atomic<int64_t>& counter(const std::string& name);
  // Exposed as etlrun_<name>_total{labels}: only ever grows.
  std::atomic<int64_t>& counter(const std::string& name, const Labels& labels);
  // Exposed as etlrun_<name>{labels}: a value that goes up and down (set it with store()).
  std::atomic<int64_t>& gauge(const std::string& name, const Labels& labels);
  // Exposed as etlrun_<name>_seconds_bucket/_sum/_count{labels}.
  Histogram& histogram(const std::string& name, const Labels& labels);

  // Counter and gauge values by display name ("ingest.retries", "rows_stored{pipeline="ingest",
  // table="t"}"), sorted.
  std::map<std::string, int64_t> snapshot() const;
  // The counters and gauges of one pipeline, named without it: "retries", "rows_stored{table="t"}".
  std::map<std::string, int64_t> snapshotOf(const std::string& pipeline) const;
  // Prometheus text exposition format, with # TYPE lines.
  std::string prometheus() const;

 private:
  enum class Kind { Counter, Gauge, Histogram };
  struct Entry {
    Kind kind;
    std::string name;  // without etlrun_ and suffixes
    Labels labels;
    std::unique_ptr<std::atomic<int64_t>> value;
    std::unique_ptr<Histogram> histogram;
  };
  Entry& entry(Kind kind, const std::string& name, const Labels& labels, const std::string& key);

  mutable std::mutex mutex_;
  std::map<std::string, Entry> entries_;  // by display name
};

// name{k="v",...}: the display name of a labeled metric (Prometheus' label syntax).
std::string labeledName(const std::string& name, const Labels& labels);

}  // namespace etl
