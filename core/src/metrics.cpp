#include "etl/metrics.h"

#include <cctype>

namespace etl {

std::atomic<int64_t>& Metrics::counter(const std::string& name) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto& slot = values_[name];
  if (!slot) slot = std::make_unique<std::atomic<int64_t>>(0);
  return *slot;
}

std::map<std::string, int64_t> Metrics::snapshot() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::map<std::string, int64_t> out;
  for (const auto& [name, value] : values_) out[name] = value->load();
  return out;
}

std::string Metrics::prometheus() const {
  std::string out;
  for (const auto& [name, value] : snapshot()) {
    std::string metric = "etlrun_";
    for (char c : name) metric.push_back(std::isalnum(static_cast<unsigned char>(c)) ? c : '_');
    out += metric + " " + std::to_string(value) + "\n";
  }
  return out;
}

}  // namespace etl
