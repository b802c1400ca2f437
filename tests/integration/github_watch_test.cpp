// github_watch on a simulated world (the fake GitHub's: repositories with feeds of 300 events,
// skewed rates, bursts, virtual time), through the real plugin and runner into a jsonl file:
// every event of every repository the budget can cover is captured, the budget is kept with the
// reserve intact, and the repository no budget can cover is named in the report with an
// estimate of what it lost.
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "etl/record.h"
#include "event_generator.h"
#include "fake_github.h"
#include "pipeline_runner.h"
#include "quota_http_client.h"
#include "simulated_clock.h"
#include "test_env.h"
#include "watch_world.h"

namespace {

using namespace std::chrono_literals;

struct Outcome {
  std::map<std::string, std::set<std::string>> captured;  // repo -> event ids
  std::size_t duplicates = 0;
  Poco::JSON::Array::Ptr report;
};

class GitHubWatch : public testing::Test {
 protected:
  void SetUp() override {
    fake_.start();
    fake_.setRateLimit(60, 5000);
  }

  Outcome run(const etltest::WatchWorld& world, etl::Millis length, const std::string& extra = "") {
    std::string list;
    for (const auto& r : world.repos) list += r.name + "\n";
    etltest::writeFile(dir_ / "watch.txt", "# the repositories we care about\n" + list);
    etltest::writeFile(dir_ / "p.yaml",
                       "pipelines:\n  watch:\n    source:\n      plugin: github_watch\n"
                       "      base_url: " +
                           fake_.baseUrl() +
                           "\n      token: test-token\n"
                           "      watch_file: \"" +
                           (dir_ / "watch.txt") + "\"\n      timeout: 2s\n" + extra +
                           "    sink: {plugin: jsonl, path: \"" + (dir_ / "events.jsonl") +
                           "\", fsync: false}\n"
                           "    batch: {max_records: 2000, max_latency: 30s}\n");
    etl::PluginLoader loader({etltest::pluginDir()});
    auto spec = etl::loadPipelineFile(dir_ / "p.yaml", loader).pipelines.at(0);
    etl::StopSignal stop;
    clock_.runFor(length, stop);
    etl::QuotaHttpClient http(clock_, etl::HttpClientOptions{});
    {
      etl::PipelineRunner runner(spec,
                                 etl::Services{clock_, stop, metrics_, http, dir_.path(), false});
      runner.start();
      runner.join();
      EXPECT_FALSE(runner.failed()) << runner.failure();
    }
    Outcome out;
    std::set<std::string> all;
    for (const auto& line : etltest::readLines(dir_ / "events.jsonl")) {
      etl::Record r("e", line);
      auto id = r.get<std::string>("id");
      if (!all.insert(id).second) ++out.duplicates;
      out.captured[r.get<std::string>("repo.name")].insert(id);
    }
    out.report = Poco::JSON::Parser()
                     .parse(etltest::readFile(dir_ / "watch.feeds.json"))
                     .extract<Poco::JSON::Array::Ptr>();
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
  std::map<int64_t, int> perHour;
  int charged = 0, notModified = 0;
  for (const auto& r : requests) {
    EXPECT_NE(r.status, 403) << r.target;
    ++perHour[std::chrono::duration_cast<std::chrono::hours>(r.at - requests.front().at).count()];
    (r.status == 304 ? notModified : charged)++;
  }
  for (const auto& [hour, n] : perHour) {
    EXPECT_LE(n, 4000) << "hour " << hour << " used more than its 80% share of 5000";
  }
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
  EXPECT_GT(metrics_.counter("watch.github_gaps").load(), 0);
}

}  // namespace
