#include "watch_world.h"

#include <cmath>

namespace etltest {

WatchWorld watchWorld(std::size_t repos, double hours) {
  WatchWorld world;
  double length = hours * 3600;
  for (std::size_t i = 0; i < repos; ++i) {
    fakegh::WorldRepo r;
    r.name = "org" + std::to_string(i % 37) + "/repo-" + std::to_string(i);
    // Zipf-like: the first few hundreds of events an hour, most well under one.
    r.perHour = 300.0 / std::pow(static_cast<double>(i + 1), 1.1);
    if (i % 97 == 5) {
      // Now and then a quiet repository wakes up: half an hour at thirty times its rate.
      double start = length * static_cast<double>((i * 7919) % 1000) / 1000.0 * 0.8;
      r.bursts.push_back({start, start + 1800});
      r.burstFactor = 30;
      r.perHour = std::max(r.perHour, 4.0);
    }
    world.repos.push_back(r);
  }
  // A few very busy ones: a thousand events an hour, with a burst of three times that.
  for (int i = 0; i < 3; ++i) {
    fakegh::WorldRepo r;
    r.name = "busy/repo-" + std::to_string(i);
    r.perHour = 1000;
    r.bursts.push_back({length * (0.2 + 0.25 * i), length * (0.2 + 0.25 * i) + 1200});
    r.burstFactor = 3;
    world.repos.push_back(r);
  }
  // The firehose: a bot that, for an hour, publishes ten events a second; a feed of 300 lasts
  // 30 s of that, and GitHub asks for 60 s between polls.
  fakegh::WorldRepo hose;
  hose.name = "bots/firehose";
  hose.perHour = 60;
  hose.bursts.push_back({length * 0.5, length * 0.5 + std::min(3600.0, length * 0.2)});
  hose.burstFactor = 600;
  world.firehose = hose.name;
  world.repos.push_back(hose);
  return world;
}

}  // namespace etltest
