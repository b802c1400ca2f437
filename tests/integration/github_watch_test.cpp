// github_watch on a simulated world (the fake GitHub's: repositories with feeds of 300 events,
// skewed rates, bursts, virtual time), through the real plugin and runner into a jsonl file:
// every event of every repository the budget can cover is captured, the budget is kept with the
// reserve intact, and the repository no budget can cover is named in the report with an
// estimate of what it lost.
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <utime.h>

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "etl/record.h"
#include "fake_github.h"
#include "simulated_clock.h"
#include "sqlite_session.h"
#include "test_env.h"
#include "watch_run.h"
#include "watch_world.h"

namespace {

using namespace std::chrono_literals;

using Outcome = etltest::WatchOutcome;

class GitHubWatch : public testing::Test {
 protected:
  void SetUp() override {
    fake_.start();
    fake_.setRateLimit(60, 5000);
  }

  Outcome run(const etltest::WatchWorld& world, etl::Millis length, const std::string& extra = "",
              const std::string& watchWith = "") {
    Outcome out =
        etltest::runWatch(fake_, clock_, metrics_, world, length, dir_.path(), extra, watchWith);
    EXPECT_EQ(out.failure, "");
    return out;
  }

  etltest::TempDir dir_;
  etltest::SimulatedClock clock_{etltest::simulationStart()};
  fakegh::FakeGitHub fake_{clock_};
  etl::Metrics metrics_;
};

TEST_F(GitHubWatch, ADayOfTwoThousandRepositoriesOnOneTokenMissesNothingItCanCover) {
  auto world = etltest::watchWorld(2000, 24);
  fake_.simulateWorld(world.repos, 48h);
  Outcome out = run(world, 24h);
  EXPECT_EQ(out.duplicates, 0u);

  // Every event published between the watcher's first and last look at its feed (what came
  // later is for the next poll), for every repository but the one no budget can cover.
  std::size_t published = 0, lost = 0, firehoseLost = 0;
  std::vector<std::string> incomplete;
  for (const auto& truth : fake_.worldTruth()) {
    ASSERT_NE(truth.firstRequest, etl::TimePoint{}) << truth.name << " was never polled";
    const auto& got = out.captured[truth.name];
    std::size_t missing = 0;
    for (std::size_t i = 0; i < truth.ids.size(); ++i) {
      if (truth.at[i] < truth.firstRequest || truth.at[i] > truth.lastRequest) continue;
      ++published;
      if (!got.count(truth.ids[i])) ++missing;
    }
    if (truth.name == world.firehose) {
      firehoseLost = missing;
    } else if (missing) {
      lost += missing;
      incomplete.push_back(truth.name + " (" + std::to_string(missing) + ")");
    }
  }
  EXPECT_GT(published, 20000u);
  EXPECT_EQ(lost, 0u) << "missed events of repositories the budget covers: "
                      << testing::PrintToString(incomplete);
  EXPECT_GT(firehoseLost, 1000u) << "the firehose should be beyond any schedule";

  // The budget: never refused, never past the hourly limit, the reserve (20%) left for others.
  auto requests = fake_.requests();
  EXPECT_EQ(fake_.violations(), 0);
  // With a token a 304 costs no quota: the share bounds the charged requests of every hour, and
  // max_requests_per_second (10) all of them.
  std::map<int64_t, int> chargedPerHour, perHour;
  int charged = 0, notModified = 0;
  for (const auto& r : requests) {
    EXPECT_NE(r.status, 403) << r.target;
    auto hour = std::chrono::duration_cast<std::chrono::hours>(r.at - requests.front().at).count();
    ++perHour[hour];
    if (r.status != 304) ++chargedPerHour[hour];
    (r.status == 304 ? notModified : charged)++;
  }
  for (const auto& [hour, n] : chargedPerHour) {
    EXPECT_LE(n, 4000) << "hour " << hour << " was charged more than its 80% share of 5000";
  }
  for (const auto& [hour, n] : perHour) EXPECT_LE(n, 36000) << "hour " << hour;
  EXPECT_GT(notModified, charged) << "most polls of quiet feeds should be free 304s";

  // The report names what was missed, with an estimate of the right size.
  bool named = false;
  for (std::size_t i = 0; i < out.report->size(); ++i) {
    auto feed = out.report->getObject(static_cast<unsigned>(i));
    std::string path = feed->getValue<std::string>("feed");
    auto gaps = feed->getValue<int64_t>("gaps");
    if (path == "/repos/" + world.firehose + "/events") {
      named = gaps > 0;
      double estimate = static_cast<double>(feed->getValue<int64_t>("missed_estimate"));
      EXPECT_GT(estimate, 0.5 * static_cast<double>(firehoseLost));
      EXPECT_LT(estimate, 2.0 * static_cast<double>(firehoseLost));
    } else {
      EXPECT_EQ(gaps, 0) << path << " reported a gap";
    }
  }
  EXPECT_TRUE(named) << "the firehose's losses are not in the report";
  // /health named it while it fell behind, and named nothing else.
  ASSERT_FALSE(out.degradedSeen.empty()) << "/health never reported the firehose falling behind";
  for (const auto& warning : out.degradedSeen) {
    EXPECT_EQ(
        warning.rfind("github_watch: 1 feed(s) falling behind since the last report: /repos/" +
                          world.firehose + "/events (missed about ",
                      0),
        0u)
        << warning;
  }
  EXPECT_GT(metrics_.counter("watch.github_gaps").load(), 0);
}

// The watch list from a query on a database, refreshed while running: repositories added to the
// table mid-run are watched from the next refresh on, and completely.
TEST_F(GitHubWatch, AWatchListFromAQueryIsRefreshedWhileRunning) {
  auto world = etltest::watchWorld(40, 4);
  std::vector<fakegh::WorldRepo> quiet;  // the firehose is beyond any budget: not wanted here
  for (const auto& r : world.repos) {
    if (r.name != world.firehose) quiet.push_back(r);
  }
  world.repos = quiet;
  fake_.simulateWorld(world.repos, 4h);
  std::string db = dir_ / "watch.sqlite";
  sql::SqliteSession session(db);
  session.open();
  session.exec("CREATE TABLE watched (repo TEXT, active INTEGER)");
  auto add = [&](std::size_t from, std::size_t to) {
    for (std::size_t i = from; i < to; ++i) {
      sql::SqliteSession::Statement insert(session, "INSERT INTO watched VALUES (?, 1)");
      insert.run({world.repos[i].name});
    }
  };
  add(0, 25);
  std::atomic<bool> added{false};
  std::thread later([&] {
    // Once the first 25 have all been polled, 14 more are listed.
    while (fake_.requestsFor("/repos/") < 40) std::this_thread::sleep_for(1ms);
    add(25, world.repos.size());
    added = true;
  });
  Outcome out = run(world, 3h, "      watch_refresh: 1m\n",
                    "      connection: \"sqlite:" + db +
                        "\"\n      watch_query: SELECT repo FROM watched WHERE active = 1\n");
  later.join();
  ASSERT_TRUE(added);
  EXPECT_EQ(out.duplicates, 0u);
  std::size_t published = 0;
  for (const auto& truth : fake_.worldTruth()) {
    ASSERT_NE(truth.firstRequest, etl::TimePoint{}) << truth.name << " was never polled";
    for (std::size_t i = 0; i < truth.ids.size(); ++i) {
      if (truth.at[i] < truth.firstRequest || truth.at[i] > truth.lastRequest) continue;
      ++published;
      EXPECT_TRUE(out.captured[truth.name].count(truth.ids[i])) << truth.name << " lost an event";
    }
  }
  EXPECT_GT(published, 100u);
  EXPECT_EQ(out.report->size(), world.repos.size());
  EXPECT_TRUE(out.degradedSeen.empty()) << "nothing fell behind: " << *out.degradedSeen.begin();
}

// Without a token: 60 requests an hour, 80% of them for the watcher. The plan keeps to it (no
// request refused, none past the limit) and still polls every feed of a small list.
TEST_F(GitHubWatch, WithoutATokenItKeepsToSixtyRequestsAnHour) {
  auto world = etltest::watchWorld(12, 3);
  std::vector<fakegh::WorldRepo> quiet;
  for (const auto& r : world.repos) {
    if (r.name != world.firehose) quiet.push_back(r);
  }
  world.repos = quiet;
  fake_.simulateWorld(world.repos, 3h);
  Outcome out = etltest::runWatch(fake_, clock_, metrics_, world, 3h, dir_.path(), "", "", "");
  EXPECT_EQ(out.failure, "");
  EXPECT_EQ(out.duplicates, 0u);
  auto requests = fake_.requests();
  ASSERT_FALSE(requests.empty());
  EXPECT_EQ(fake_.violations(), 0);
  std::map<int64_t, int> perHour;
  for (const auto& r : requests) {
    EXPECT_NE(r.status, 403) << r.target;
    EXPECT_FALSE(r.authorized);
    // Charged: a 304 costs no quota.
    if (r.status != 304) {
      ++perHour[std::chrono::duration_cast<std::chrono::hours>(r.at - requests.front().at).count()];
    }
  }
  for (const auto& [hour, n] : perHour) EXPECT_LE(n, 48) << "hour " << hour;
  for (const auto& truth : fake_.worldTruth()) {
    EXPECT_NE(truth.firstRequest, etl::TimePoint{}) << truth.name << " was never polled";
  }
}

// A server that allows far more than the 5,000 an hour assumed before the first answer: the
// feeds not polled yet are spread again at the learnt rate, so the first round of 100 feeds takes
// seconds (80% of 300,000 an hour is 67 a second), not the 90 s the assumption would space it by.
TEST_F(GitHubWatch, AServerAdvertisingAHigherLimitGetsAFirstRoundSpacedByThatLimit) {
  fake_.setRateLimit(60, 300000);
  etltest::WatchWorld world;
  for (int i = 0; i < 100; ++i)
    world.repos.push_back({"org/quiet-" + std::to_string(i), 0.5, {}, 10});
  fake_.simulateWorld(world.repos, 2h);
  // All requests (304s too) may go at 100 a second here: the quota is what limits.
  Outcome out = run(world, 10min, "      max_requests_per_second: 100\n");
  std::vector<etl::TimePoint> firsts;
  for (const auto& truth : fake_.worldTruth()) {
    ASSERT_NE(truth.firstRequest, etl::TimePoint{}) << truth.name << " was never polled";
    firsts.push_back(truth.firstRequest);
  }
  std::sort(firsts.begin(), firsts.end());
  double span = std::chrono::duration<double>(firsts.back() - firsts.front()).count();
  EXPECT_LT(span, 5.0) << "the first round took " << span << " s";
  EXPECT_EQ(fake_.violations(), 0);
}

// A clock that notes, at each of the runner's sleeps, when the per-feed report first exists.
class ReportWatchingClock : public etltest::SimulatedClock {
 public:
  ReportWatchingClock(etl::TimePoint start, std::string report)
      : etltest::SimulatedClock(start), report_(std::move(report)) {}
  bool sleepUntil(etl::TimePoint deadline, const etl::StopSignal& stop) override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      struct stat st;
      if (firstReport_ == etl::TimePoint{} && ::stat(report_.c_str(), &st) == 0) {
        firstReport_ = now();
      }
    }
    return etltest::SimulatedClock::sleepUntil(deadline, stop);
  }
  etl::TimePoint firstReport() {
    std::lock_guard<std::mutex> lock(mutex_);
    return firstReport_;
  }

 private:
  std::string report_;
  std::mutex mutex_;
  etl::TimePoint firstReport_{};
};

// The watch file is known by its content: replaced twice, each time within the second of the
// last read and with its modification time kept, it is read both times; while the source is
// idle (quiet feeds polled every few minutes) a change is picked up within watch_refresh, and the
// first report comes at report_interval, not at the next plan.
TEST(GitHubWatchList, AFileReplacedTwiceWithinOneSecondIsReadBothTimesAndAnIdleSourceKeepsTime) {
  using namespace std::chrono_literals;
  etltest::TempDir dir;
  ReportWatchingClock clock(etltest::simulationStart(), dir / "watch.feeds.json");
  fakegh::FakeGitHub fake(clock);
  fake.start();
  fake.setRateLimit(60, 5000);
  etl::Metrics metrics;
  etltest::WatchWorld world;
  for (int i = 0; i < 6; ++i)
    world.repos.push_back({"org/quiet-" + std::to_string(i), 0.2, {}, 10});
  fake.simulateWorld(world.repos, 2h);
  std::string file = dir / "list.txt";
  auto list = [&](int n) {
    std::string text;
    for (int i = 0; i < n; ++i) text += world.repos[static_cast<std::size_t>(i)].name + "\n";
    return text;
  };
  etltest::writeFile(file, list(2));
  struct stat first;
  ASSERT_EQ(::stat(file.c_str(), &first), 0);
  // Each rewrite keeps the first write's modification time, as a replacement within the same
  // second would on a file system of 1 s resolution.
  auto replace = [&](int n) {
    etltest::writeFile(file, list(n));
    struct utimbuf times {
      first.st_atime, first.st_mtime
    };
    ::utime(file.c_str(), &times);
    return clock.now();
  };
  std::mutex mutex;
  etl::TimePoint secondWrite{}, thirdWrite{};
  fake.onRequest([&](const std::string& target) {
    std::lock_guard<std::mutex> lock(mutex);
    if (secondWrite == etl::TimePoint{} && target.find("/quiet-1/") != std::string::npos) {
      secondWrite = replace(4);
    } else if (thirdWrite == etl::TimePoint{} && target.find("/quiet-3/") != std::string::npos) {
      thirdWrite = replace(6);
    }
  });
  auto out = etltest::runWatch(fake, clock, metrics, world, 30min, dir.path(),
                               "      watch_refresh: 5s\n      report_interval: 150s\n"
                               "      min_poll_interval: 5m\n",
                               "      watch_file: \"" + file + "\"\n");
  fake.onRequest(nullptr);
  EXPECT_EQ(out.failure, "");
  ASSERT_NE(secondWrite, etl::TimePoint{});
  ASSERT_NE(thirdWrite, etl::TimePoint{}) << "the second version of the list was never read";
  std::map<std::string, etl::TimePoint> firstPoll;
  for (const auto& truth : fake.worldTruth()) firstPoll[truth.name] = truth.firstRequest;
  ASSERT_NE(firstPoll["org/quiet-5"], etl::TimePoint{}) << "the third version was never read";
  // Within watch_refresh (5 s) of each change, and a second for the budget's spacing.
  EXPECT_LE(firstPoll["org/quiet-2"] - secondWrite, 6s);
  EXPECT_LE(firstPoll["org/quiet-4"] - thirdWrite, 6s);
  // The first report: at report_interval after the start, not at a plan a minute later.
  auto report = clock.firstReport() - etltest::simulationStart();
  EXPECT_GE(report, 150s);
  EXPECT_LE(report, 156s) << std::chrono::duration<double>(report).count() << " s";
}

}  // namespace
