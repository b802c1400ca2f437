// A simulated world of repositories for github_watch (tests and bench): skewed rates, a few
// very busy feeds, bursts, and one feed too fast for any budget (it outruns its 300 events
// within GitHub's minimum poll interval).
#pragma once

#include <string>
#include <vector>

#include "fake_github.h"

namespace etltest {

struct WatchWorld {
  std::vector<fakegh::WorldRepo> repos;
  std::string firehose;  // the one no schedule can cover
};

WatchWorld watchWorld(std::size_t repos, double hours);

}  // namespace etltest
