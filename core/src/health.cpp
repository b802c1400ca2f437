#include "health.h"

#include "etl/record.h"

namespace etl {

std::pair<bool, std::string> healthReport(const std::vector<const PipelineRunner*>& runners,
                                          TimePoint now) {
  bool healthy = true, degraded = false;
  std::string json = "{\"pipelines\":{";
  for (std::size_t i = 0; i < runners.size(); ++i) {
    const PipelineRunner& r = *runners[i];
    auto idle = std::chrono::duration_cast<Millis>(now - r.lastProgress());
    std::string state = r.failed() ? "failed" : r.finished() ? "finished" : "running";
    std::string problem;
    if (r.failed()) {
      problem = r.failure();
    } else if (state == "running" && r.spec().maxStaleness && idle > *r.spec().maxStaleness) {
      state = "stale";
      problem =
          "no batch committed and not caught up for " + std::to_string(idle.count() / 1000) +
          " s (health.max_staleness: " + std::to_string(r.spec().maxStaleness->count() / 1000) +
          " s)";
    }
    healthy = healthy && problem.empty();
    std::vector<std::string> warnings = r.warnings();
    if (state == "running" && !warnings.empty()) {
      state = "degraded";
      degraded = true;
    }
    json += (i ? "," : "");
    appendJsonString(json, r.name());
    json += ":{\"state\":";
    appendJsonString(json, state);
    json += ",\"last_progress\":";
    appendJsonString(json, isoTime(r.lastProgress()));
    json += ",\"seconds_since_progress\":" + std::to_string(idle.count() / 1000);
    if (r.spec().maxStaleness) {
      json += ",\"max_staleness_seconds\":" + std::to_string(r.spec().maxStaleness->count() / 1000);
    }
    if (!problem.empty()) {
      json += ",\"problem\":";
      appendJsonString(json, problem);
    }
    if (!warnings.empty()) {
      json += ",\"warnings\":[";
      for (std::size_t w = 0; w < warnings.size(); ++w) {
        if (w) json += ",";
        appendJsonString(json, warnings[w]);
      }
      json += "]";
    }
    json += "}";
  }
  json += std::string("},\"status\":\"") +
          (!healthy   ? "failing"
           : degraded ? "degraded"
                      : "ok") +
          "\"}";
  return {healthy, json};
}

}  // namespace etl
