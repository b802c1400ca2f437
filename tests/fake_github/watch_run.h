// Runs the real github_watch plugin, through the real runner, over a simulated world of the fake
// GitHub on virtual time into a JSON-lines file: what the watch test checks and what
// bench_watch measures.
#pragma once

#include <Poco/JSON/Array.h>

#include <map>
#include <set>
#include <string>

#include "etl/metrics.h"
#include "fake_github.h"
#include "simulated_clock.h"
#include "watch_world.h"

namespace etltest {

struct WatchOutcome {
  std::map<std::string, std::set<std::string>> captured;  // repo -> event ids
  std::size_t duplicates = 0;
  Poco::JSON::Array::Ptr report;       // state_dir/<pipeline>.feeds.json
  std::string health;                  // what GET /health answered at the end
  std::set<std::string> degradedSeen;  // warnings a monitor polling /health saw meanwhile
  std::string failure;                 // "" unless the pipeline failed
};

// `extra`: more source keys (6 spaces of indentation, one per line); `watchWith`: how the source
// lists the world (default: a watch_file of every repository); `token`: "" for none.
WatchOutcome runWatch(fakegh::FakeGitHub& fake, SimulatedClock& clock, etl::Metrics& metrics,
                      const WatchWorld& world, etl::Millis length, const std::string& dir,
                      const std::string& extra = "", std::string watchWith = "",
                      const std::string& token = "test-token");

}  // namespace etltest
