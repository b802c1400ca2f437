#include "watch_schedule.h"

#include <algorithm>
#include <cmath>
#include <functional>

namespace github {
namespace {

// The interval of one feed with quiet feeds capped at `cap` s and busy ones finding `perPoll`.
double intervalOf(const FeedRate& f, double perPoll, double cap) {
  double wanted = f.eventsPerSecond > 0 ? perPoll / f.eventsPerSecond : cap;
  return std::max(f.minSeconds, std::min(wanted, cap));
}

// Whether the plan at (perPoll, cap) keeps to the budget: its charged requests (all of them, or
// with free 304s those expected to find something) and all its requests.
bool withinBudget(const std::vector<FeedRate>& feeds, double perPoll, double cap,
                  const PlanLimits& limits) {
  double charged = 0, all = 0;
  for (const auto& f : feeds) {
    double t = intervalOf(f, perPoll, cap);
    all += 1.0 / t;
    charged += limits.notModifiedIsFree ? -std::expm1(-f.eventsPerSecond * t) / t : 1.0 / t;
  }
  return charged <= limits.requestsPerSecond && all <= limits.maxRequestsPerSecond;
}

// The smallest x in [low, high] for which fits(x) holds (fits grows with x); high when none.
double smallest(double low, double high, const std::function<bool(double)>& fits) {
  if (fits(low)) return low;
  for (int i = 0; i < 40; ++i) {
    double mid = (low + high) / 2;
    (fits(mid) ? high : low) = mid;
  }
  return high;
}

}  // namespace

std::vector<double> planIntervals(const std::vector<FeedRate>& feeds, const PlanLimits& limits) {
  double perPoll = limits.perPoll, cap = limits.maxSeconds;
  auto fitsWith = [&](double p, double c) { return withinBudget(feeds, p, c, limits); };
  if (fitsWith(perPoll, cap)) {
    // Budget to spare: spent where the events are (quiet feeds stay at the cap).
    perPoll = smallest(limits.minPerPoll, perPoll, [&](double p) { return fitsWith(p, cap); });
  } else {
    // Quiet feeds wait longer first: they lose nothing by it, only freshness.
    cap = smallest(cap, limits.longestSeconds, [&](double c) { return fitsWith(perPoll, c); });
    if (!fitsWith(perPoll, cap)) {
      // Then busy feeds take more per poll, up to what is safe; then more than that.
      perPoll = smallest(perPoll, limits.safePerPoll, [&](double p) { return fitsWith(p, cap); });
      if (!fitsWith(perPoll, cap)) {
        perPoll = smallest(perPoll, limits.safePerPoll * 1000,
                           [&](double p) { return fitsWith(p, cap); });
      }
    }
  }
  std::vector<double> out;
  out.reserve(feeds.size());
  for (const auto& f : feeds) out.push_back(intervalOf(f, perPoll, cap));
  return out;
}

double missedEstimate(double previousNewest, double oldestFetched, double newestFetched,
                      std::size_t fetched) {
  double gap = oldestFetched - previousNewest;
  if (gap <= 0 || fetched < 2) return fetched >= 1 && gap > 0 ? 1 : 0;
  double span = newestFetched - oldestFetched;
  // All fetched within one second: at least that rate.
  double rate = static_cast<double>(fetched - 1) / std::max(span, 1.0);
  return std::max(1.0, gap * rate);
}

}  // namespace github
