// How often to poll each of many event feeds on one request budget. A feed keeps at most 300
// events, so one that receives r events a second must be polled at least every 300/r s or it
// loses events; a quiet one needs a poll only rarely. The plan polls each feed when about
// `perPoll` new events are due (never sooner than its minimum, never later than the freshness
// cap; with budget to spare, active feeds sooner, as headroom for bursts), and when that does not
// fit the budget, first lets quiet feeds wait longer, then lets
// busy ones fill up to the safe `safePerPoll`, and only then stretches all (events will be lost:
// the busiest feeds are the ones that cannot be covered).
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace github {

struct FeedRate {
  double eventsPerSecond = 0;  // as observed
  double minSeconds = 60;      // X-Poll-Interval (or the configured minimum)
};

struct PlanLimits {
  double requestsPerSecond = 1;   // what the budget allows on average
  double maxSeconds = 3600;       // freshness cap of a quiet feed while the budget allows it
  double longestSeconds = 86400;  // how long a quiet feed may wait when the budget is short
  double perPoll = 60;            // events a poll should find (fits one page of 100)
  double minPerPoll = 5;          // with budget to spare, active feeds are polled sooner, down
                                  // to this many events a poll: headroom for their bursts
  double safePerPoll = 250;       // most a poll may find without risking the 300 cap
  // With a token a conditional request answered 304 costs no quota: `requestsPerSecond` then
  // bounds the polls that find something (a feed receiving r events a second, polled every T s,
  // finds something with probability 1 - e^(-rT)), and this bounds all of them (GitHub's
  // secondary limits count every request).
  bool notModifiedIsFree = false;
  double maxRequestsPerSecond = 1e9;
};

// Seconds between polls of each feed; their requests per second add up to at most
// limits.requestsPerSecond whenever that is possible at all (every feed at `longestSeconds`).
std::vector<double> planIntervals(const std::vector<FeedRate>& feeds, const PlanLimits& limits);

// The events a feed lost between two polls that did not overlap: the time from the newest event
// seen before to the oldest one fetched now, at the rate the fetched events arrived.
double missedEstimate(double previousNewest, double oldestFetched, double newestFetched,
                      std::size_t fetched);

}  // namespace github
