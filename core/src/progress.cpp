#include "progress.h"

#include <algorithm>
#include <cstdio>

namespace etl {
namespace {

std::string thousands(int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n), out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return (n < 0 ? "-" : "") + out;
}

std::string duration(double seconds) {
  auto s = static_cast<int64_t>(seconds);
  char buffer[32];
  if (s >= 3600) {
    std::snprintf(buffer, sizeof(buffer), "%lldh%02lldm", static_cast<long long>(s / 3600),
                  static_cast<long long>(s % 3600 / 60));
  } else {
    std::snprintf(buffer, sizeof(buffer), "%lldm%02llds", static_cast<long long>(s / 60),
                  static_cast<long long>(s % 60));
  }
  return buffer;
}

}  // namespace

ProgressMeter::ProgressMeter(Metrics& metrics, std::string pipeline)
    : metrics_(metrics),
      pipeline_(std::move(pipeline)),
      in_(metrics.counter(pipeline_ + ".records_in")),
      out_(metrics.counter(pipeline_ + ".records_out")),
      dead_(metrics.counter(pipeline_ + ".dead_letters")),
      started_(std::chrono::steady_clock::now()),
      last_(started_) {}

std::string ProgressMeter::line(bool named) {
  auto now = std::chrono::steady_clock::now();
  double window = std::max(1e-3, std::chrono::duration<double>(now - last_).count());
  int64_t in = in_.load();
  std::string text = (named ? pipeline_ + ": " : "") + thousands(in) + " records read (" +
                     thousands(static_cast<int64_t>((in - lastIn_) / window)) + "/s), " +
                     thousands(out_.load()) + " written, " + thousands(dead_.load()) +
                     " dead letters";
  // Files only for sources that count them (not created here for the others).
  auto values = metrics_.snapshot();
  auto value = [&](const std::string& name) {
    auto it = values.find(name);
    return it == values.end() ? int64_t{0} : it->second;
  };
  int64_t total = value(labeledName("files_planned", {{"pipeline", pipeline_}}));
  int64_t done = value(pipeline_ + ".files_done");
  if (total > 0) {
    text += ", files " + std::to_string(done) + "/" + std::to_string(total);
    double elapsed = std::chrono::duration<double>(now - started_).count();
    if (done > 0 && done < total) text += ", ETA " + duration(elapsed / done * (total - done));
  }
  last_ = now;
  lastIn_ = in;
  return text;
}

}  // namespace etl
