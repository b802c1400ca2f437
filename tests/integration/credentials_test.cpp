// Credentials stay with their origin: the github_events source with a token, against a hostile
// fake GitHub that redirects its feed, or links its next page, to a second server recording what
// it receives. The second server must never see the Authorization header.
#include <gtest/gtest.h>

#include "event_generator.h"
#include "fake_github.h"
#include "pipeline_runner.h"
#include "quota_http_client.h"
#include "simulated_clock.h"
#include "test_env.h"

namespace {

using namespace std::chrono_literals;

class Credentials : public testing::Test {
 protected:
  void SetUp() override {
    fake_.setRateLimit(5000, 5000);
    other_.setRateLimit(5000, 5000);
    fake_.start();
    other_.start();
  }

  // github_events (token set) -> jsonl for `length` of virtual time, from a fresh state; true if
  // the pipeline ran without failing.
  bool run(etl::Millis length) {
    std::string state = dir_ / ("state" + std::to_string(++runs_));
    etl::StopSignal stop;
    clock_.runFor(length, stop);
    etltest::writeFile(dir_ / "p.yaml",
                       "pipelines:\n  ingest:\n    source:\n      plugin: github_events\n"
                       "      base_url: " +
                           fake_.baseUrl() +
                           "\n      token: ghp_0123456789secret\n"
                           "      min_poll_interval: 1s\n      timeout: 300ms\n"
                           "    sink: {plugin: jsonl, path: \"" +
                           state + ".jsonl\", fsync: false}\n");
    etl::PluginLoader loader({etltest::pluginDir()});
    auto spec = etl::loadPipelineFile(dir_ / "p.yaml", loader).pipelines.at(0);
    etl::QuotaHttpClient http(clock_);
    etl::PipelineRunner runner(spec, etl::Services{clock_, stop, metrics_, http, state, false});
    runner.start();
    runner.join();
    return !runner.failed();
  }

  // 150 events with ids from `firstId`: more than one page of 100.
  std::vector<std::string> moreThanAPage(uint64_t firstId) {
    std::vector<std::string> events;
    for (uint64_t i = 0; i < 150; ++i) {
      events.push_back(etltest::withUniqueIds(templates_[i % templates_.size()], firstId + i));
    }
    return events;
  }

  void expectNothingAuthorizedReached(const fakegh::FakeGitHub& server) {
    for (const auto& r : server.requests()) {
      EXPECT_FALSE(r.authorized) << "the token reached another origin: GET " << r.target;
    }
  }

  std::vector<std::string> templates_ = etltest::templateEvents(etltest::dataDir());
  etltest::TempDir dir_;
  etltest::SimulatedClock clock_{etltest::simulationStart()};
  fakegh::FakeGitHub fake_{clock_};
  fakegh::FakeGitHub other_{clock_};  // the attacker's server: records every request
  etl::Metrics metrics_;
  int runs_ = 0;
};

TEST_F(Credentials, AFeedRedirectedToAnotherOriginIsFollowedWithoutTheToken) {
  for (int status : {301, 302, 307, 308}) {
    SCOPED_TRACE("HTTP " + std::to_string(status));
    fakegh::FakeGitHub attacker(clock_);
    attacker.setRateLimit(5000, 5000);
    attacker.autoPublish(templates_, 10s, 3);
    attacker.start();
    fake_.redirectFeedTo(attacker.baseUrl(), status);
    EXPECT_TRUE(run(30s));
    ASSERT_FALSE(attacker.requests().empty()) << "the redirect was not followed";
    expectNothingAuthorizedReached(attacker);
    for (const auto& r : fake_.requests()) EXPECT_TRUE(r.authorized) << r.target;
  }
}

TEST_F(Credentials, ANextPageLinkToAnotherOriginIsFollowedWithoutTheToken) {
  // More events than one page holds, all new: the source follows rel="next", which points away.
  auto events = moreThanAPage(80000000000);
  fake_.publish(events);
  other_.publish(events);
  fake_.linkFeedTo(other_.baseUrl());
  EXPECT_TRUE(run(5s));
  bool followed = false;
  for (const auto& r : other_.requests()) followed |= r.target.find("page=2") != std::string::npos;
  EXPECT_TRUE(followed) << "the next page was not asked for";
  expectNothingAuthorizedReached(other_);
  ASSERT_FALSE(fake_.requests().empty());
  for (const auto& r : fake_.requests()) EXPECT_TRUE(r.authorized) << r.target;
}

TEST_F(Credentials, ARelativeNextLinkIsFollowedOnTheSameOriginWithTheToken) {
  auto events = moreThanAPage(81000000000);
  fake_.publish(events);
  fake_.linkFeedTo("/");
  EXPECT_TRUE(run(5s));
  bool followed = false;
  for (const auto& r : fake_.requests()) {
    followed |= r.target.find("page=2") != std::string::npos;
    EXPECT_TRUE(r.authorized) << r.target;
  }
  EXPECT_TRUE(followed) << "the relative next link was not followed";
}

TEST_F(Credentials, TheSameHostOnAnotherPortIsAnotherOrigin) {
  // other_ listens on 127.0.0.1 too: only the port differs, and that is enough to withhold it.
  ASSERT_NE(fake_.port(), other_.port());
  other_.autoPublish(templates_, 10s, 3);
  fake_.redirectFeedTo(other_.baseUrl(), 301);
  EXPECT_TRUE(run(20s));
  ASSERT_FALSE(other_.requests().empty());
  expectNothingAuthorizedReached(other_);
}

}  // namespace
