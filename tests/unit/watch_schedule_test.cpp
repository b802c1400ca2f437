// The watch schedule's plan: busy feeds often, quiet ones rarely, within the budget, and the
// order in which it gives things up when the budget is short.
#include "watch_schedule.h"

#include <gtest/gtest.h>

#include <numeric>

namespace {

double requestsPerSecond(const std::vector<double>& intervals) {
  return std::accumulate(intervals.begin(), intervals.end(), 0.0,
                         [](double sum, double s) { return sum + 1 / s; });
}

TEST(WatchSchedule, BusyFeedsOftenQuietOnesAtTheFreshnessCap) {
  std::vector<github::FeedRate> feeds = {{1.0, 60}, {0.01, 60}, {0, 60}};
  github::PlanLimits limits;
  limits.requestsPerSecond = 1.0 / 60 + 2.0 / 3600;  // just enough
  auto plan = github::planIntervals(feeds, limits);
  EXPECT_DOUBLE_EQ(plan[0], 60);    // 60 events due every 60 s, and never sooner than 60 s
  EXPECT_DOUBLE_EQ(plan[1], 3600);  // 60 events would take 6000 s: the cap
  EXPECT_DOUBLE_EQ(plan[2], 3600);
}

TEST(WatchSchedule, BudgetToSpareGoesToActiveFeedsNotQuietOnes) {
  std::vector<github::FeedRate> feeds = {{1.0, 60}, {0.01, 60}, {0, 60}};
  github::PlanLimits limits;
  limits.requestsPerSecond = 1;
  auto plan = github::planIntervals(feeds, limits);
  EXPECT_DOUBLE_EQ(plan[0], 60);
  EXPECT_NEAR(plan[1], limits.minPerPoll / 0.01, 1) << "polled when 5 events are due";
  EXPECT_DOUBLE_EQ(plan[2], 3600) << "a feed with no events stays at the cap";
}

TEST(WatchSchedule, AShortBudgetStretchesQuietFeedsBeforeBusyOnes) {
  std::vector<github::FeedRate> feeds(1000, {0.0001, 60});
  feeds.push_back({0.5, 60});  // 30 events a minute
  github::PlanLimits limits;
  limits.requestsPerSecond = 0.2;  // 720 an hour for 1001 feeds
  auto plan = github::planIntervals(feeds, limits);
  EXPECT_LE(requestsPerSecond(plan), 0.2 + 1e-9);
  EXPECT_GT(plan[0], 3600) << "quiet feeds wait past the cap";
  EXPECT_DOUBLE_EQ(plan.back(), 120) << "the busy feed still finds 60 events a poll";
}

TEST(WatchSchedule, WhenEvenThatIsNotEnoughBusyFeedsFillUpToTheSafeLimitFirst) {
  std::vector<github::FeedRate> feeds(10, {1.0, 60});  // each needs 1/60 s at 60 a poll
  github::PlanLimits limits;
  limits.requestsPerSecond = 10.0 / 200;  // each can have a poll every 200 s: 200 events a poll
  limits.longestSeconds = 3600;
  auto plan = github::planIntervals(feeds, limits);
  EXPECT_LE(requestsPerSecond(plan), limits.requestsPerSecond + 1e-9);
  EXPECT_NEAR(plan[0], 200, 1);
  EXPECT_LE(plan[0] * 1.0, limits.safePerPoll) << "still within the 300 a feed keeps";
}

TEST(WatchSchedule, MissedEventsAreSizedFromTheTimesAtTheBoundary) {
  // 300 fetched over 30 s (10 a second), 60 s after the newest seen before: about 600 lost.
  EXPECT_NEAR(github::missedEstimate(1000, 1060, 1090, 300), 598, 1);
  EXPECT_EQ(github::missedEstimate(1000, 1000, 1090, 300), 0);  // no time between: none lost
}

}  // namespace
