// The github_events source against the fake GitHub, on virtual time: rate limits, poll interval,
// ETag/304, every fault, restarts, and no token in any log.
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <map>
#include <set>
#include <thread>

#include "event_generator.h"
#include "fake_github.h"
#include "pipeline_runner.h"
#include "prometheus_text.h"
#include "quota_http_client.h"
#include "simulated_clock.h"
#include "test_env.h"

namespace {

using namespace std::chrono_literals;

// This host's clock as etlrun reads it: the true (simulated) time, stepped by `by` from `from` on
// (NTP, a restored VM). Sleeping lasts (deadline - now), as the real clock's monotonic waits do.
class SteppedClock : public etl::Clock {
 public:
  explicit SteppedClock(etl::Clock& truth) : truth_(truth) {}
  void step(etl::TimePoint from, etl::Millis by) { from_ = from, by_ = by; }
  etl::TimePoint now() const override {
    etl::TimePoint t = truth_.now();
    return t >= from_ ? t + by_ : t;
  }
  bool sleepUntil(etl::TimePoint deadline, const etl::StopSignal& stop) override {
    return truth_.sleepUntil(truth_.now() + (deadline - now()), stop);
  }

 private:
  etl::Clock& truth_;
  etl::TimePoint from_ = etl::TimePoint::max();
  etl::Millis by_{0};
};

class GitHubSource : public testing::Test {
 protected:
  void SetUp() override { fake_.start(); }

  // Runs github_events -> jsonl for `length` of virtual time, as a fresh process would.
  void run(etl::Millis length, const std::string& extraSourceConfig = "") {
    etl::StopSignal stop;
    clock_.runFor(length, stop);
    etltest::writeFile(dir_ / "p.yaml",
                       "pipelines:\n  ingest:\n    source:\n      plugin: github_events\n"
                       "      base_url: " +
                           fake_.baseUrl() +
                           "\n      min_poll_interval: 1s\n"
                           "      timeout: 300ms\n" +
                           extraSourceConfig + "    sink: {plugin: jsonl, path: \"" +
                           (dir_ / "events.jsonl") +
                           "\", fsync: false}\n"
                           "    retry: {initial_backoff: 1s, max_backoff: 2m}\n");
    etl::PluginLoader loader({etltest::pluginDir()});
    auto spec = etl::loadPipelineFile(dir_ / "p.yaml", loader).pipelines.at(0);
    // A fresh process's client: only the checkpoint and the budget file carry over.
    etl::HttpClientOptions options;
    options.budgetFile = dir_ / "http_budgets.json";
    etl::QuotaHttpClient http(ours_, options);
    etl::PipelineRunner runner(spec,
                               etl::Services{ours_, stop, metrics_, http, dir_ / "state", false});
    runner.start();
    runner.join();
    EXPECT_FALSE(runner.failed());
  }

  std::vector<std::string> outputIds() {
    std::vector<std::string> ids;
    for (const auto& line : etltest::readLines(dir_ / "events.jsonl")) {
      if (auto id = etl::Record("e", line).find<std::string>("id")) ids.push_back(*id);
    }
    return ids;
  }

  void expectEachPublishedEventExactlyOnce() {
    auto ids = outputIds();
    std::map<std::string, int> counts;
    for (const auto& id : ids) ++counts[id];
    for (const auto& [id, n] : counts)
      EXPECT_EQ(n, 1) << "event " << id << " stored " << n << " times";
    for (const auto& id : fake_.publishedIds())
      EXPECT_EQ(counts.count(id), 1u) << "event " << id << " lost";
  }

  // Page-1 requests: the polls (follow-ups carry &page=).
  std::vector<fakegh::LoggedRequest> polls() {
    std::vector<fakegh::LoggedRequest> out;
    for (const auto& r : fake_.requests()) {
      if (r.target.find("&page=") == std::string::npos) out.push_back(r);
    }
    return out;
  }

  void expectSuccessfulPollsSpacedBy(std::chrono::seconds interval) {
    auto p = polls();
    ASSERT_GE(p.size(), 2u) << "no polls to check";
    for (std::size_t i = 1; i < p.size(); ++i) {
      if (p[i - 1].status != 200 && p[i - 1].status != 304) continue;  // a retry, not a new poll
      EXPECT_GE(p[i].at - p[i - 1].at, interval) << "poll " << i << " came too soon";
    }
  }

  etltest::TempDir dir_;
  etltest::SimulatedClock clock_{etltest::simulationStart()};
  SteppedClock ours_{clock_};  // etlrun's; the fake (GitHub) keeps the true time
  fakegh::FakeGitHub fake_{clock_};
  etl::Metrics metrics_;
  std::vector<std::string> templates_ = etltest::templateEvents(etltest::dataDir());
};

TEST_F(GitHubSource, ASimulatedHourAt60RequestsAnHourNeverBreaksTheRules) {
  fake_.setRateLimit(60);
  fake_.setPollInterval(60);
  // A busy feed (150 events a minute): every poll wants two pages, so the quota runs out early.
  fake_.autoPublish(templates_, 20s, 50);
  run(2h + 10min);
  auto requests = fake_.requests();
  EXPECT_EQ(fake_.violations(), 0) << "a request was sent after remaining hit 0, before the reset";
  int refused = 0;
  for (const auto& r : requests) refused += r.status == 403 ? 1 : 0;
  EXPECT_EQ(refused, 0);
  // The quota was used up in the first hour and requests resumed after the reset.
  auto firstHour = std::count_if(requests.begin(), requests.end(),
                                 [&](const auto& r) { return r.at < requests.front().at + 1h; });
  EXPECT_EQ(firstHour, 60);
  EXPECT_GT(requests.back().at, requests.front().at + 1h);
  expectSuccessfulPollsSpacedBy(60s);
  auto ids = outputIds();
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), ids.size()) << "duplicates";
  EXPECT_GT(metrics_.counter("ingest.github_gaps").load(), 0) << "a feed this fast must show gaps";
  EXPECT_EQ(requests.size(), metrics_.counter("ingest.github_requests").load() + 0u);
}

// The largest gap between two successive polls, on GitHub's (true) clock.
etl::Millis longestGap(const std::vector<fakegh::LoggedRequest>& polls) {
  etl::Millis gap{0};
  for (std::size_t i = 1; i < polls.size(); ++i) {
    gap = std::max(gap, std::chrono::duration_cast<etl::Millis>(polls[i].at - polls[i - 1].at));
  }
  return gap;
}

TEST_F(GitHubSource, AClockSteppedBackAnHourKeepsPollingOnSchedule) {
  fake_.setPollInterval(60);
  fake_.autoPublish(templates_, 30s, 5);
  ours_.step(clock_.now() + 10min, -1h);
  run(40min);
  auto p = polls();
  EXPECT_GE(p.size(), 35u);
  EXPECT_LE(longestGap(p), 2min) << "polling stopped when the clock went back";
  expectEachPublishedEventExactlyOnce();
}

TEST_F(GitHubSource, ARunWithTheClockADayAheadDoesNotHoldUpTheRunsAfterIt) {
  fake_.setPollInterval(60);
  fake_.autoPublish(templates_, 30s, 5);
  ours_.step(clock_.now(), 24h);
  run(10min);
  ours_.step(etl::TimePoint::max(), 0ms);  // the clock is right again
  std::size_t before = polls().size();
  run(20min);
  EXPECT_GE(polls().size() - before, 18u) << "the next poll stored a day ahead was waited for";
  EXPECT_LE(longestGap(polls()), 2min);
  expectEachPublishedEventExactlyOnce();
}

TEST_F(GitHubSource, AClockHoursAheadStillWaitsForTheServersQuotaReset) {
  fake_.setRateLimit(60);
  fake_.setPollInterval(60);
  fake_.autoPublish(templates_, 20s, 50);  // two pages a poll: the quota runs out early
  ours_.step(clock_.now(), 2h);
  run(2h + 10min);
  int refused = 0;
  for (const auto& r : fake_.requests()) refused += r.status == 403 ? 1 : 0;
  EXPECT_EQ(refused, 0) << "requests went out while the quota was known spent";
  EXPECT_EQ(fake_.violations(), 0);
  EXPECT_GT(fake_.requests().back().at, fake_.requests().front().at + 1h) << "it resumed";
}

TEST_F(GitHubSource, AnAbsurdRetryAfterBlocksForAnHourAtMostAcrossARestart) {
  fake_.setPollInterval(60);
  fake_.autoPublish(templates_, 30s, 1);  // the feed keeps 300: none lost in the hour
  fake_.setProxyRetryAfter(99999999);     // three years, from a broken proxy in front of the API
  fake_.inject(fakegh::Fault::Status503);
  run(30min);
  run(45min);  // a restart: the budget file carries the block over
  auto p = polls();
  ASSERT_GE(p.size(), 3u);
  EXPECT_EQ(p[0].status, 503);
  EXPECT_EQ(p[1].status, 200) << "polling never resumed";
  EXPECT_LE(p[1].at - p[0].at, 1h + 2min);
  expectEachPublishedEventExactlyOnce();
}

TEST_F(GitHubSource, AnUnchangedFeedAnswers304AndYieldsNothing) {
  fake_.loadFixtures(etltest::dataDir() + "/events/api_events_2026-01-12.json");
  fake_.setPollInterval(60);
  run(30min + 30s);
  auto p = polls();
  ASSERT_GE(p.size(), 30u);
  EXPECT_EQ(p[0].status, 200);
  EXPECT_TRUE(p[0].ifNoneMatch.empty());
  for (std::size_t i = 1; i < p.size(); ++i) {
    EXPECT_EQ(p[i].status, 304) << i;
    EXPECT_EQ(p[i].ifNoneMatch.rfind("W/\"", 0), 0u) << "weak ETag sent back as received";
  }
  expectEachPublishedEventExactlyOnce();
  EXPECT_EQ(outputIds().size(), fake_.publishedIds().size());
  EXPECT_EQ(metrics_.counter("ingest.github_not_modified").load(),
            static_cast<int64_t>(p.size() - 1));
}

TEST_F(GitHubSource, EveryFaultIsSurvivedWithoutLossOrDuplicates) {
  fake_.setRateLimit(5000, 5000);
  fake_.setPollInterval(60);
  fake_.setHangFor(700ms);  // real time, past the 300 ms client timeout
  fake_.autoPublish(templates_, 30s, 1);
  using fakegh::Fault;
  for (Fault f :
       {Fault::Status500, Fault::Status502, Fault::Status503, Fault::TooManyRequests429,
        Fault::SecondaryLimit403, Fault::ConnectionReset, Fault::Hang, Fault::TruncatedBody,
        Fault::MalformedJson, Fault::HugeBody, Fault::PrimaryLimit403}) {
    fake_.inject(f);
  }
  fake_.setRetryAfter(0);  // the secondary 403 comes without Retry-After: wait >= 60 s
  run(20min);
  fake_.setRetryAfter(90);
  fake_.inject(Fault::TooManyRequests429);
  fake_.inject(Fault::EventMissingFields);
  run(2h);
  EXPECT_EQ(fake_.violations(), 0);
  std::set<std::string> faultsSeen;
  for (const auto& r : fake_.requests()) {
    if (!r.fault.empty()) faultsSeen.insert(r.fault);
  }
  EXPECT_EQ(faultsSeen.size(), 12u);
  expectEachPublishedEventExactlyOnce();
  // The event without an id was passed on (the sink or the parser dead-letters it), once.
  auto lines = etltest::readLines(dir_ / "events.jsonl");
  EXPECT_EQ(lines.size(), outputIds().size() + 1);
}

TEST_F(GitHubSource, ARestartResumesWithoutBurstingPastTheLimit) {
  fake_.setRateLimit(60);
  fake_.setPollInterval(60);
  fake_.autoPublish(templates_, 20s, 50);
  run(40min);  // the quota is gone by now
  run(30min);  // a new process: the budget file holds the budget and the reset time
  run(50min);
  EXPECT_EQ(fake_.violations(), 0);
  auto ids = outputIds();
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), ids.size()) << "duplicates";
}

TEST_F(GitHubSource, ASlowFeedIsCapturedCompletelyAcrossRestarts) {
  fake_.setPollInterval(60);
  fake_.setRateLimit(60);
  fake_.autoPublish(templates_, 45s, 1);
  fake_.loadFixtures(etltest::dataDir() + "/events/api_events_2026-01-12.json");
  for (int i = 0; i < 5; ++i) run(17min);
  EXPECT_EQ(fake_.violations(), 0);
  expectEachPublishedEventExactlyOnce();
  EXPECT_EQ(metrics_.counter("ingest.github_gaps").load(), 0);
}

// --- through the real etlrun binary, real time ---

TEST(GitHubEtlrun, ARefusedTokenFailsAtOnceWithExit70) {
  etltest::TempDir dir;
  fakegh::FakeGitHub fake(etl::systemClock());
  fake.fail("/events", 401,
            R"({"message":"Bad credentials","documentation_url":"https://docs.github.com/rest"})");
  fake.start();
  const std::string token = "ghp_Revoked0123456789abcdefXYZ";
  etltest::writeFile(dir / "p.yaml",
                     "pipelines:\n  ingest:\n    source: {plugin: github_events, "
                     "base_url: " +
                         fake.baseUrl() +
                         ", token: \"${GITHUB_TOKEN}\"}\n"
                         "    sink: {plugin: jsonl, path: \"" +
                         (dir / "out.jsonl") + "\"}\n");
  auto start = std::chrono::steady_clock::now();
  auto result = etltest::runEtlrun({"--state-dir=" + (dir / "state"), dir / "p.yaml"},
                                   {{"GITHUB_TOKEN", token}});
  EXPECT_EQ(result.exitCode, 70) << result.err;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(20)) << "retried";
  EXPECT_EQ(fake.requests().size(), 1u) << "a 401 was retried";
  EXPECT_NE(result.err.find("HTTP 401"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("check the token"), std::string::npos) << result.err;
  EXPECT_EQ(result.err.find(token), std::string::npos) << result.err;
}

TEST(GitHubEtlrun, TheTokenNeverAppearsInLogsOutputOrState) {
  etltest::TempDir dir;
  fakegh::FakeGitHub fake(etl::systemClock());
  fake.loadFixtures(etltest::dataDir() + "/events/api_events_2026-01-12.json");
  fake.inject(fakegh::Fault::Status502);
  fake.inject(fakegh::Fault::TruncatedBody);
  fake.start();
  const std::string token = "ghp_S3cr3tT0kenValue1234567890abcdefXYZ";
  etltest::writeFile(
      dir / "p.yaml",
      "pipelines:\n  ingest:\n    source: {plugin: github_events, base_url: " + fake.baseUrl() +
          ", token: \"${GITHUB_TOKEN}\"}\n"
          "    sink: {plugin: jsonl, path: \"" +
          (dir / "out.jsonl") + "\"}\n");
  auto result = etltest::runEtlrun(
      {"--once", "--log-level=trace", "--state-dir=" + (dir / "state"), dir / "p.yaml"},
      {{"GITHUB_TOKEN", token}});
  ASSERT_EQ(result.exitCode, 0) << result.err;
  auto requests = fake.requests();
  ASSERT_FALSE(requests.empty());
  for (const auto& r : requests) EXPECT_TRUE(r.authorized) << "the token was not sent";
  EXPECT_NE(result.err.find("with a token"), std::string::npos);
  for (const std::string& text : {result.err, result.out, etltest::readFile(dir / "out.jsonl"),
                                  etltest::readFile(dir / "out.jsonl.checkpoint")}) {
    EXPECT_EQ(text.find(token), std::string::npos);
    EXPECT_EQ(text.find("S3cr3t"), std::string::npos);
  }
  EXPECT_EQ(etltest::readLines(dir / "out.jsonl").size(), fake.publishedIds().size());
}

TEST(GitHubEtlrun, WithoutNetworkItLogsTheNextRetryKeepsRunningAndStopsOnSigterm) {
  etltest::TempDir dir;
  etltest::writeFile(dir / "p.yaml",
                     "pipelines:\n  ingest:\n    source: {plugin: github_events, "
                     "base_url: \"http://api.github.invalid\"}\n"
                     "    sink: {plugin: jsonl, path: \"" +
                         (dir / "out.jsonl") +
                         "\"}\n"
                         "    retry: {initial_backoff: 200ms}\n");
  int pid = etltest::startEtlrun({"--state-dir=" + (dir / "state"), dir / "p.yaml"}, dir / "out",
                                 dir / "err");
  std::string err;
  for (int i = 0; i < 100 && err.find("retrying at") == std::string::npos; ++i) {
    std::this_thread::sleep_for(100ms);
    err = etltest::readFile(dir / "err");
  }
  EXPECT_NE(err.find("retrying at"), std::string::npos) << err;
  EXPECT_NE(err.find("api.github.invalid"), std::string::npos) << err;
  EXPECT_EQ(::kill(pid, 0), 0) << "etlrun exited instead of waiting for the network";
  ::kill(pid, SIGTERM);
  EXPECT_EQ(etltest::waitFor(pid, 60), 0) << etltest::readFile(dir / "err");
}

}  // namespace

namespace {

TEST(GitHubEtlrun, ServesMetricsAndHealthWhileRunning) {
  etltest::TempDir dir;
  fakegh::FakeGitHub fake(etl::systemClock());
  fake.loadFixtures(etltest::dataDir() + "/events/api_events_2026-01-12.json");
  fake.start();
  unsigned short port;
  {
    Poco::Net::ServerSocket probe(Poco::Net::SocketAddress("127.0.0.1", 0));
    port = probe.address().port();
  }
  etltest::writeFile(dir / "p.yaml",
                     "pipelines:\n  ingest:\n    source: {plugin: github_events, base_url: \"" +
                         fake.baseUrl() + "\"}\n    sink: {plugin: jsonl, path: \"" +
                         (dir / "out.jsonl") + "\"}\n    batch: {max_latency: 100ms}\n");
  int pid = etltest::startEtlrun({"--http=127.0.0.1:" + std::to_string(port),
                                  "--state-dir=" + (dir / "state"), dir / "p.yaml"},
                                 dir / "out", dir / "err");
  std::pair<int, std::string> metrics;
  for (int i = 0; i < 100; ++i) {
    metrics = etltest::httpGet(port, "/metrics");
    if (metrics.second.find(R"(etlrun_records_out_total{pipeline="ingest"} 30)") !=
        std::string::npos) {
      break;
    }
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(metrics.first, 200) << etltest::readFile(dir / "err");
  // Prometheus conventions: _total counters with labels, gauges, a histogram, # TYPE lines.
  for (const char* line :
       {"# TYPE etlrun_records_out_total counter\n",
        "etlrun_records_out_total{pipeline=\"ingest\"} 30\n",
        "etlrun_github_requests_total{pipeline=\"ingest\"} 1\n",
        "etlrun_stream_records_total{pipeline=\"ingest\",stream=\"github_events\"} 30\n",
        "# TYPE etlrun_queue_batches gauge\n", "# TYPE etlrun_seconds_since_progress gauge\n",
        "# TYPE etlrun_source_lag_seconds gauge\n",
        "etlrun_seconds_since_progress{pipeline=\"ingest\"} ",
        "etlrun_seconds_since_commit{pipeline=\"ingest\"} ",
        "# TYPE etlrun_http_budget_remaining gauge\n",
        "etlrun_http_budget_remaining{host=\"127.0.0.1\",credential=\"anon\"} ",
        "# TYPE etlrun_batch_write_seconds histogram\n",
        "etlrun_batch_write_seconds_bucket{pipeline=\"ingest\",le=\"+Inf\"} ",
        "etlrun_batch_write_seconds_count{pipeline=\"ingest\"} "}) {
    EXPECT_NE(metrics.second.find(line), std::string::npos) << line << "\n" << metrics.second;
  }
  // Every family with its # HELP and # TYPE; no gauge named _total.
  auto problems = etltest::prometheusProblems(metrics.second, true);
  EXPECT_TRUE(problems.empty()) << testing::PrintToString(problems) << "\n" << metrics.second;
  auto health = etltest::httpGet(port, "/health");
  EXPECT_EQ(health.first, 200);
  EXPECT_NE(health.second.find(R"("ingest":{"state":"running","last_progress":")"),
            std::string::npos)
      << health.second;
  EXPECT_NE(health.second.find(R"("status":"ok")"), std::string::npos) << health.second;
  EXPECT_EQ(etltest::httpGet(port, "/nothing").first, 404);
  ::kill(pid, SIGTERM);
  EXPECT_EQ(etltest::waitFor(pid, 60), 0);
}

TEST(GitHubEtlrun, HealthTurns503WhenAPipelineMakesNoProgressForLongerThanItsStaleness) {
  // A database that never answers: the pipeline waits (retrying), commits nothing, goes stale.
  etltest::TempDir dir;
  unsigned short port;
  {
    Poco::Net::ServerSocket probe(Poco::Net::SocketAddress("127.0.0.1", 0));
    port = probe.address().port();
  }
  etltest::writeFile(
      dir / "p.yaml",
      "pipelines:\n  stuck:\n    source: {plugin: file, path: \"" + etltest::dataDir() +
          "/gharchive/gharchive_2021-07-21_hour06_200events.jsonl" +
          "\"}\n    sink: {plugin: sql, connection: \"postgresql://etl@127.0.0.1:1/db\", "
          "tables: {t: {columns: {id: id}}}}\n    health: {max_staleness: 1s}\n"
          "    retry: {initial_backoff: 100ms, max_backoff: 200ms}\n");
  int pid = etltest::startEtlrun({"--http=127.0.0.1:" + std::to_string(port),
                                  "--state-dir=" + (dir / "state"), dir / "p.yaml"},
                                 dir / "out", dir / "err");
  std::pair<int, std::string> health;
  for (int i = 0; i < 100 && health.first != 503; ++i) {
    std::this_thread::sleep_for(100ms);
    try {
      health = etltest::httpGet(port, "/health");
    } catch (const std::exception&) {  // not listening yet
    }
  }
  EXPECT_EQ(health.first, 503) << health.second << etltest::readFile(dir / "err");
  EXPECT_NE(health.second.find(R"("stuck":{"state":"stale")"), std::string::npos) << health.second;
  EXPECT_NE(health.second.find("health.max_staleness: 1 s"), std::string::npos) << health.second;
  EXPECT_NE(health.second.find(R"("status":"failing")"), std::string::npos) << health.second;
  ::kill(pid, SIGTERM);
  EXPECT_EQ(etltest::waitFor(pid, 30), 0);
}

}  // namespace
