// What GET /health answers: healthy or not, and per pipeline its state, how long since it last
// committed a batch or was caught up, and, when it is not healthy, why: it failed (with the
// message), or it made no progress for longer than its health.max_staleness. A plugin's note
// (Context::health: feeds falling behind) makes a running pipeline "degraded", still healthy.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "pipeline_runner.h"

namespace etl {

std::pair<bool, std::string> healthReport(const std::vector<const PipelineRunner*>& runners,
                                          TimePoint now);

}  // namespace etl
