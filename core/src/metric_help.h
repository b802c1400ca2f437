// What each metric of the core and the bundled plugins means: the text of its `# HELP` line in
// GET /metrics. One table for all of them, so that a name and its meaning are read in one place.
#pragma once

#include <string>

namespace etl {

// The help of the metric registered as `name` (as passed to Metrics::counter/gauge/histogram,
// without etlrun_ and suffixes), or "" when the table does not know it.
std::string metricHelp(const std::string& name);

}  // namespace etl
