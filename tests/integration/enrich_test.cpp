// Enrichment beside ingestion, against the fake GitHub and a real PostgreSQL (and the embedded
// SQLite store): linking, gone and moved entities, the shared 60/hour budget with ingestion's
// reserve held, the TTL cache with conditional requests, and kill -9 mid-enrichment.
#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/Session.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/ParseHandler.h>
#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <thread>

#include "backends.h"
#include "event_generator.h"
#include "fake_github.h"
#include "pipeline_runner.h"
#include "postgres_env.h"
#include "quota_http_client.h"
#include "shipped_pipelines.h"
#include "simulated_clock.h"
#include "test_env.h"

namespace {

using namespace std::chrono_literals;

Poco::JSON::Object::Ptr recordedBody(const std::string& file, int index = 0) {
  std::ifstream in(etltest::dataDir() + "/" + file);
  Poco::JSON::Parser parser(new Poco::JSON::ParseHandler(true));
  auto root = parser.parse(in).extract<Poco::JSON::Object::Ptr>();
  auto body = root->getArray("exchanges")
                  ->getObject(static_cast<unsigned>(index))
                  ->getObject("response")
                  ->get("body");
  return body.extract<Poco::JSON::Object::Ptr>();
}

std::string json(const Poco::JSON::Object::Ptr& object) {
  std::ostringstream out;
  object->stringify(out);
  return out.str();
}

std::string userBody(const std::string& login, int64_t id) {
  auto user = recordedBody("users/user_octocat_2026-01-13.json");
  user->set("login", login);
  user->set("id", id);
  return json(user);
}

std::string repoBody(const std::string& fullName, int64_t id) {
  auto repo = recordedBody("repos/repo_octocat_Hello-World_2026-01-13.json");
  repo->set("full_name", fullName);
  repo->set("name", fullName.substr(fullName.find('/') + 1));
  repo->set("id", id);
  return json(repo);
}

// A 2026-shape PushEvent (as the events API sends today) naming the given actor and repository.
std::string pushEvent(int64_t id, const std::string& login, int64_t actorId,
                      const std::string& repoName, int64_t repoId) {
  std::ifstream in(etltest::dataDir() + "/events/api_events_2026-01-12.json");
  Poco::JSON::Parser parser(new Poco::JSON::ParseHandler(true));
  auto events = parser.parse(in)
                    .extract<Poco::JSON::Object::Ptr>()
                    ->getArray("exchanges")
                    ->getObject(0)
                    ->getObject("response")
                    ->getArray("body");
  for (std::size_t i = 0; i < events->size(); ++i) {
    auto e = events->getObject(static_cast<unsigned>(i));
    if (e->getValue<std::string>("type") != "PushEvent") continue;
    Poco::JSON::Object::Ptr copy = new Poco::JSON::Object(*e);
    copy->set("id", std::to_string(id));
    Poco::JSON::Object::Ptr actor = new Poco::JSON::Object(*copy->getObject("actor"));
    actor->set("id", actorId);
    actor->set("login", login);
    copy->set("actor", actor);
    Poco::JSON::Object::Ptr repo = new Poco::JSON::Object(*copy->getObject("repo"));
    repo->set("id", repoId);
    repo->set("name", repoName);
    copy->set("repo", repo);
    Poco::JSON::Object::Ptr payload = new Poco::JSON::Object(*copy->getObject("payload"));
    payload->set("push_id", id + 1000000);
    payload->set("repository_id", repoId);
    copy->set("payload", payload);
    return json(copy);
  }
  throw std::runtime_error("no PushEvent template");
}

class Enrichment : public testing::TestWithParam<etltest::Backend> {
 protected:
  void SetUp() override {
    // A token's budget: unauthenticated, one poll a minute takes all 60 requests an hour and
    // enrichment (rightly) gets none. The quota test below sets its own limit.
    fake_.setRateLimit(5000, 5000);
    fake_.start();
  }
  // The `connections:` block naming this backend `github`, as the shipped pipelines do.
  std::string connection() const {
    return etltest::githubConnection(GetParam() == etltest::Backend::Sqlite
                                         ? etltest::sqliteUri(dir_ / "store.sqlite")
                                         : db_.uri());
  }
  int64_t count(const std::string& statement) { return db_.count(statement); }

  // ingest (events API) and enrich, as pipelines/github.yaml has them, against the fake.
  std::string pipelines(const std::string& enrichExtra = "", bool ingest = true) {
    std::string yaml = connection() + "pipelines:\n";
    if (ingest) {
      yaml += "  ingest:\n    source: {plugin: github_events, base_url: \"" + fake_.baseUrl() +
              "\", min_poll_interval: 1s}\n    transforms: [{plugin: push_event_parser}]\n" +
              etltest::shippedSink("github.yaml", "ingest");
    }
    yaml += "  enrich:\n" +
            etltest::shippedBlock("github.yaml", "enrich", "source",
                                  {{"lease", "lease: 2h\n      poll_interval: 30s"}}) +
            "    transforms:\n      - {plugin: github_enrich, connection: github, base_url: \"" +
            fake_.baseUrl() + "\"" + enrichExtra + "}\n" +
            etltest::shippedSink("github.yaml", "enrich") + "    batch: {max_records: 100}\n";
    return yaml;
  }

  // Runs every pipeline of `yaml` in this process for `length` of virtual time.
  void run(const std::string& yaml, etl::Millis length) {
    etltest::writeFile(dir_ / "p.yaml", yaml);
    etl::PluginLoader loader({etltest::pluginDir()});
    auto file = etl::loadPipelineFile(dir_ / "p.yaml", loader);
    etl::StopSignal stop;
    clock_.runFor(length, stop);
    etl::QuotaHttpClient http(clock_);
    std::vector<std::unique_ptr<etl::PipelineRunner>> runners;
    for (const auto& spec : file.pipelines) {
      runners.push_back(std::make_unique<etl::PipelineRunner>(
          spec, etl::Services{clock_, stop, metrics_, http, dir_ / "state", false}));
    }
    for (auto& r : runners) r->start();
    for (auto& r : runners) {
      r->join();
      EXPECT_FALSE(r->failed()) << r->name();
    }
  }

  // u0..u3 and o/r0..o/r3, served; then four push events by them, new ids each round.
  void serveTheSameFour() {
    for (int i = 0; i < 4; ++i) {
      fake_.serve("/users/u" + std::to_string(i), userBody("u" + std::to_string(i), 10 + i));
      fake_.serve("/repos/o/r" + std::to_string(i), repoBody("o/r" + std::to_string(i), 20 + i));
    }
  }
  void pushByTheSameFour(int64_t firstId) {
    std::vector<std::string> events;
    for (int i = 0; i < 4; ++i) {
      events.push_back(pushEvent(firstId + i, "u" + std::to_string(i), 10 + i,
                                 "o/r" + std::to_string(i), 20 + i));
    }
    fake_.publish(events);
  }

  etltest::TempDir dir_;
  etltest::BackendDb db_{GetParam(), dir_ / "store.sqlite"};
  // 1,000x: an hour of the shared budget in 3.6 s, while ingestion and enrichment run side by side.
  etltest::TimeLapseClock clock_{etltest::simulationStart(), 1000};
  fakegh::FakeGitHub fake_{clock_};
  etl::Metrics metrics_;
};

TEST_P(Enrichment, CompletesAndLinksPushEventsFollowsMovesAndMarksTheGone) {
  std::vector<std::string> events;
  int64_t id = 50000000000;
  for (int i = 0; i < 6; ++i) {
    std::string login = i == 5 ? "pull[bot]" : "user" + std::to_string(i);
    fake_.serve("/users/" + login, userBody(login, 100 + i));
    fake_.serve("/repos/org/repo" + std::to_string(i),
                repoBody("org/repo" + std::to_string(i), 200 + i));
    for (int k = 0; k < 3; ++k) {
      events.push_back(pushEvent(id++, login, 100 + i, "org/repo" + std::to_string(i), 200 + i));
    }
  }
  // A deleted user, a renamed repository (301 to /repositories/{id}), a DMCA-blocked one.
  events.push_back(pushEvent(id++, "ghost", 666, "org/repo0", 200));
  fake_.fail("/users/ghost", 404, "{\"message\":\"Not Found\",\"status\":\"404\"}");
  events.push_back(pushEvent(id++, "user1", 101, "old/name", 300));
  fake_.redirect("/repos/old/name", "/repositories/300");
  fake_.serve("/repositories/300", repoBody("new/name", 300));
  events.push_back(pushEvent(id++, "user2", 102, "blocked/repo", 301));
  fake_.fail("/repos/blocked/repo", 451,
             "{\"message\":\"Repository access blocked\",\"block\":{\"reason\":\"dmca\"}}");
  fake_.publish(events);
  run(pipelines(), 10min);

  EXPECT_EQ(count("SELECT count(*) FROM push_events"), 21);
  EXPECT_EQ(count("SELECT count(*) FROM push_events WHERE enrichment_status = 'completed'"), 19);
  EXPECT_EQ(count("SELECT count(*) FROM push_events WHERE enrichment_status = 'gone'"), 2);
  EXPECT_EQ(
      count("SELECT count(*) FROM push_events p JOIN actors a ON a.id = p.actor_id "
            "JOIN repositories r ON r.id = p.repository_id "
            "WHERE p.enrichment_status = 'completed' AND a.status = 'ok' AND r.status = 'ok'"),
      19);
  EXPECT_EQ(count("SELECT count(*) FROM actors WHERE login = 'pull[bot]' AND id = 105"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM actors WHERE id = 666 AND status = 'gone'"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM repositories WHERE id = 301 AND status = 'gone'"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM repositories WHERE id = 300 AND status = 'ok'"), 1);
  // Each distinct entity was asked for once, however many push events named it.
  EXPECT_EQ(fake_.requestsFor("/users/"), 7);
  EXPECT_EQ(fake_.requestsFor("/repos/"), 8);
  EXPECT_EQ(fake_.requestsFor("/repositories/"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM push_events WHERE enrichment_status = 'in_progress'"), 0);
}

TEST_P(Enrichment, AMoveToAnotherOriginIsFollowedWithoutTheToken) {
  // GitHub answers a renamed user or repository with a 301; a hostile or compromised answer can
  // point at any host. The second server records what it receives: never the token.
  fakegh::FakeGitHub other(clock_);
  other.setRateLimit(5000, 5000);
  other.start();
  fake_.redirect("/users/mover", other.baseUrl() + "/users/moved");
  other.serve("/users/moved", userBody("moved", 901));
  fake_.redirect("/repos/org/mover", other.baseUrl() + "/repositories/902");
  other.serve("/repositories/902", repoBody("org/moved", 902));
  fake_.serve("/users/stayer", userBody("stayer", 903));
  fake_.serve("/repos/org/stayer", repoBody("org/stayer", 904));
  fake_.publish({pushEvent(52000000000, "mover", 901, "org/mover", 902),
                 pushEvent(52000000001, "stayer", 903, "org/stayer", 904)});
  run(pipelines(", token: ghp_0123456789secret"), 5min);

  EXPECT_EQ(other.requestsFor("/users/moved"), 1) << "the move was not followed";
  EXPECT_EQ(other.requestsFor("/repositories/902"), 1);
  for (const auto& r : other.requests()) {
    EXPECT_FALSE(r.authorized) << "the token reached another origin: GET " << r.target;
  }
  int enrichmentRequests = 0;
  for (const auto& r : fake_.requests()) {
    if (r.target.rfind("/users/", 0) != 0 && r.target.rfind("/repos/", 0) != 0) continue;
    ++enrichmentRequests;
    EXPECT_TRUE(r.authorized) << "its own origin still gets the token: GET " << r.target;
  }
  EXPECT_EQ(enrichmentRequests, 4);
  EXPECT_EQ(count("SELECT count(*) FROM push_events WHERE enrichment_status = 'completed'"), 2);
}

TEST_P(Enrichment, ASecondRunWithinTheTtlSendsNothingAndAfterItOnlyConditionalRequests) {
  serveTheSameFour();
  pushByTheSameFour(60000000000);
  run(pipelines(), 5min);
  int entityRequests = fake_.requestsFor("/users/") + fake_.requestsFor("/repos/");
  ASSERT_EQ(entityRequests, 8);
  // New push events by the same people in the same repositories, two hours later.
  clock_.advance(2h);
  pushByTheSameFour(61000000000);
  run(pipelines(), 5min);
  EXPECT_EQ(fake_.requestsFor("/users/") + fake_.requestsFor("/repos/"), 8)
      << "the cache was not used";
  EXPECT_EQ(count("SELECT count(*) FROM push_events WHERE enrichment_status = 'completed'"), 8);
  // A day later the cache is stale: conditional requests, answered 304.
  clock_.advance(25h);
  pushByTheSameFour(62000000000);
  int64_t notModifiedBefore = metrics_.counter("enrich.enrich_not_modified").load();
  run(pipelines(), 5min);
  int conditional = 0;
  for (const auto& r : fake_.requests()) {
    if ((r.target.rfind("/users/", 0) == 0 || r.target.rfind("/repos/", 0) == 0) &&
        !r.ifNoneMatch.empty()) {
      ++conditional;
      EXPECT_EQ(r.status, 304);
    }
  }
  EXPECT_EQ(conditional, 8);
  EXPECT_EQ(metrics_.counter("enrich.enrich_not_modified").load() - notModifiedBefore, 8);
  EXPECT_EQ(count("SELECT count(*) FROM push_events WHERE enrichment_status = 'completed'"), 12);
}

// A run while the clock was 30 days ahead stored fetched_at times in the future; with the clock
// right again those entries are of unknown age: stale, asked for again (conditionally), not
// taken as fresh for 30 days.
TEST_P(Enrichment, EntriesFetchedWhileTheClockWasAheadAreNotFreshForThatLong) {
  serveTheSameFour();
  clock_.advance(30 * 24h);
  pushByTheSameFour(63000000000);
  run(pipelines(), 5min);
  ASSERT_EQ(fake_.requestsFor("/users/") + fake_.requestsFor("/repos/"), 8);
  clock_.advance(-30 * 24h);  // the clock is right again
  pushByTheSameFour(64000000000);
  run(pipelines(), 5min);
  int conditional = 0;
  for (const auto& r : fake_.requests()) {
    bool entity = r.target.rfind("/users/", 0) == 0 || r.target.rfind("/repos/", 0) == 0;
    conditional += entity && !r.ifNoneMatch.empty();
  }
  EXPECT_EQ(conditional, 8) << "entries from the future were taken as fresh";
  EXPECT_EQ(count("SELECT count(*) FROM push_events WHERE enrichment_status = 'completed'"), 8);
}

INSTANTIATE_TEST_SUITE_P(Backends, Enrichment,
                         testing::Values(etltest::Backend::Postgres, etltest::Backend::Sqlite,
                                         etltest::Backend::Mariadb),
                         [](const auto& info) { return etltest::backendName(info.param); });

class EnrichmentOnPostgres : public Enrichment {};

TEST_P(EnrichmentOnPostgres, SharesSixtyRequestsAnHourWithoutStarvingIngestion) {
  // 500 pending push events naming 20 actors and 20 repositories, already ingested (a backfill).
  std::string lines;
  for (int i = 0; i < 500; ++i) {
    int a = i % 20, r = (i / 3) % 20;
    lines += pushEvent(70000000000 + i, "dev" + std::to_string(a), 1000 + a,
                       "team/project" + std::to_string(r), 2000 + r) +
             "\n";
  }
  for (int i = 0; i < 20; ++i) {
    fake_.serve("/users/dev" + std::to_string(i), userBody("dev" + std::to_string(i), 1000 + i));
    fake_.serve("/repos/team/project" + std::to_string(i),
                repoBody("team/project" + std::to_string(i), 2000 + i));
  }
  etltest::writeFile(dir_ / "backfill.jsonl", lines);
  etltest::writeFile(
      dir_ / "backfill.yaml",
      connection() + "pipelines:\n  backfill:\n    source: {plugin: file, path: \"" +
          (dir_ / "backfill.jsonl") +
          "\", stream: github_events}\n    transforms: [{plugin: push_event_parser}]\n" +
          etltest::shippedSink("gharchive.yaml", "backfill"));
  ASSERT_EQ(
      etltest::runEtlrun({"--once", "--state-dir=" + (dir_ / "state"), dir_ / "backfill.yaml"})
          .exitCode,
      0);
  ASSERT_EQ(count("SELECT count(*) FROM push_events WHERE enrichment_status = 'pending'"), 500);

  // The live feed: 60 requests an hour, a poll every 2 minutes, events without new pushes.
  fake_.setRateLimit(60);
  fake_.setPollInterval(120);
  std::vector<std::string> quiet;
  for (const auto& t : etltest::templateEvents(etltest::dataDir())) {
    if (t.find("\"type\":\"PushEvent\"") == std::string::npos) quiet.push_back(t);
  }
  fake_.autoPublish(quiet, 30s, 1);
  run(pipelines(), 3h);

  EXPECT_EQ(fake_.violations(), 0);
  int entityRequests = fake_.requestsFor("/users/") + fake_.requestsFor("/repos/");
  EXPECT_LE(entityRequests, 40) << "an entity was fetched twice";
  EXPECT_EQ(count("SELECT count(*) FROM push_events WHERE enrichment_status = 'completed'"), 500);
  // Ingestion kept its schedule the whole time: no poll refused, none skipped.
  std::vector<etl::TimePoint> polls;
  for (const auto& r : fake_.requests()) {
    if (r.target.rfind("/events", 0) == 0 && r.target.find("&page=") == std::string::npos) {
      EXPECT_NE(r.status, 403);
      polls.push_back(r.at);
    }
  }
  ASSERT_GE(polls.size(), 80u);  // 3 h / 2 min = 90
  etl::TimePoint::duration widest{};
  for (std::size_t i = 1; i < polls.size(); ++i) {
    EXPECT_LT(polls[i] - polls[i - 1], 240s) << "ingestion poll " << i << " was held back";
    widest = std::max(widest, polls[i] - polls[i - 1]);
  }
  std::cout << "widest gap between ingestion polls: "
            << std::chrono::duration_cast<std::chrono::seconds>(widest).count()
            << " s (every 120 s due)\n";
  EXPECT_GT(metrics_.counter("enrich.enrich_pending").load(), 0) << "enrichment never had to wait";
}

INSTANTIATE_TEST_SUITE_P(Quota, EnrichmentOnPostgres, testing::Values(etltest::Backend::Postgres),
                         [](const auto&) { return std::string("PostgreSQL"); });

TEST(EnrichmentCrash, KillNineMidEnrichmentLeavesNothingStuckAndRefetchesAtMostOnce) {
  etltest::TestDatabase db;
  etltest::TempDir dir;
  fakegh::FakeGitHub fake(etl::systemClock());
  fake.setRateLimit(5000);
  fake.setResourceDelay(100ms);  // real time: enrichment takes a few seconds
  std::string lines;
  for (int i = 0; i < 60; ++i) {
    lines += pushEvent(80000000000 + i, "k" + std::to_string(i % 15), 3000 + i % 15,
                       "k/r" + std::to_string(i % 15), 4000 + i % 15) +
             "\n";
  }
  for (int i = 0; i < 15; ++i) {
    fake.serve("/users/k" + std::to_string(i), userBody("k" + std::to_string(i), 3000 + i));
    fake.serve("/repos/k/r" + std::to_string(i), repoBody("k/r" + std::to_string(i), 4000 + i));
  }
  fake.start();
  etltest::writeFile(dir / "in.jsonl", lines);
  etltest::writeFile(
      dir / "p.yaml",
      etltest::githubConnection(db.uri()) +
          "pipelines:\n  backfill:\n    source: {plugin: file, "
          "path: \"" +
          (dir / "in.jsonl") +
          "\", stream: github_events}\n    transforms: [{plugin: push_event_parser}]\n" +
          etltest::shippedSink("gharchive.yaml", "backfill") + "  enrich:\n" +
          etltest::shippedBlock("github.yaml", "enrich", "source",
                                {{"lease", "lease: 2s\n      poll_interval: 200ms"}}) +
          "    transforms: [{plugin: github_enrich, connection: github, base_url: \"" +
          fake.baseUrl() + "\"}]\n" + etltest::shippedSink("github.yaml", "enrich") +
          "    batch: {max_records: 8}\n");
  int pid = etltest::startEtlrun({"--state-dir=" + (dir / "state"), dir / "p.yaml"}, dir / "out",
                                 dir / "err");
  for (int i = 0; i < 1500 && fake.requestsFor("/users/") + fake.requestsFor("/repos/") < 8; ++i) {
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_GE(fake.requestsFor("/users/") + fake.requestsFor("/repos/"), 8)
      << "enrichment never started:\n"
      << etltest::readFile(dir / "err");
  ::kill(pid, SIGKILL);
  etltest::waitFor(pid);
  EXPECT_GT(db.count("SELECT count(*) FROM push_events WHERE enrichment_status = 'in_progress'"), 0)
      << "the kill did not catch enrichment mid-batch";
  std::this_thread::sleep_for(2500ms);  // the lease runs out
  auto result = etltest::runEtlrun({"--once", "--state-dir=" + (dir / "state"), dir / "p.yaml"});
  ASSERT_EQ(result.exitCode, 0) << result.err;
  EXPECT_EQ(db.count("SELECT count(*) FROM push_events WHERE enrichment_status = 'in_progress'"),
            0);
  EXPECT_EQ(db.count("SELECT count(*) FROM push_events WHERE enrichment_status = 'completed'"), 60);
  // No entity fetched more than once more than needed (at most twice in all).
  std::map<std::string, int> perPath;
  for (const auto& r : fake.requests()) ++perPath[r.target];
  for (const auto& [path, n] : perPath) EXPECT_LE(n, 2) << path;
}

}  // namespace

namespace {

TEST_P(Enrichment, FailuresAreRetriedWithBackoffUpToMaxAttemptsAndPartialResultsAreKept) {
  fake_.serve("/users/fine", userBody("fine", 1));
  fake_.fail("/repos/o/broken", 500, "{\"message\":\"Server Error\"}");
  fake_.publish({pushEvent(90000000000, "fine", 1, "o/broken", 2)});
  run(pipelines(", max_attempts: 3, retry_backoff: 1m"), 30min);
  EXPECT_EQ(count("SELECT count(*) FROM push_events WHERE enrichment_status = 'failed' AND "
                  "attempts = 3 AND next_attempt_at IS NULL AND last_error LIKE 'repository:%'"),
            1);
  // The actor was fetched once and kept; the repository was asked three times, one request each
  // (the queue's backoff is the one retry layer), never a fourth.
  EXPECT_EQ(count("SELECT count(*) FROM actors WHERE id = 1 AND status = 'ok'"), 1);
  EXPECT_EQ(fake_.requestsFor("/users/"), 1);
  EXPECT_EQ(fake_.requestsFor("/repos/"), 3);
  EXPECT_EQ(metrics_.counter("enrich.enrich_failed").load(), 3);
}

}  // namespace
