// etl/metrics.h: named counters and gauges shared by the core and the plugins.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace etl {

class Metrics {
 public:
  // A counter or gauge, created at first use; the reference stays valid for the process lifetime.
  std::atomic<int64_t>& counter(const std::string& name);
  // All values, sorted by name.
  std::map<std::string, int64_t> snapshot() const;
  // Prometheus text exposition format.
  std::string prometheus() const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::unique_ptr<std::atomic<int64_t>>> values_;
};

}  // namespace etl
