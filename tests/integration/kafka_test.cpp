// etlrun on Kafka, against librdkafka's mock cluster (3 brokers, the real protocol on real
// sockets) with real etlrun processes: file -> kafka -> a consumer group of etlrun workers ->
// PostgreSQL, one worker killed with SIGKILL and another started mid-run, a broker lost while
// producing; and the fake GitHub -> kafka with transactions across a SIGKILL.
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <signal.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "etl/record.h"
#include "event_generator.h"
#include "fake_github.h"
#include "kafka_mock.h"
#include "postgres_env.h"
#include "test_env.h"

using namespace std::chrono_literals;

namespace {

struct Worker {
  int pid = 0;
  std::string err;  // its stderr file
};

TEST(Kafka, AConsumerGroupStoresEachEventExactlyOnceAcrossKillNineRebalancesAndABrokerLoss) {
  etltest::TempDir dir;
  etltest::TestDatabase db;
  etltest::KafkaMock kafka(3);
  kafka.createTopic("events", 6);
  auto templates = etltest::templateEvents(etltest::dataDir());
  const uint64_t perRound = 3000;

  // Producing: GH Archive lines keyed by event id, at least once (the idempotent producer).
  auto produce = [&](int round, bool loseABroker) {
    std::string input = dir / ("round" + std::to_string(round) + ".jsonl");
    etltest::writeEvents(templates, perRound, 1000000 + round * perRound, input);
    std::string yaml = dir / ("produce" + std::to_string(round) + ".yaml");
    etltest::writeFile(yaml, "pipelines:\n  produce:\n    source: {plugin: file, path: \"" + input +
                                 "\"}\n    sink: {plugin: kafka, brokers: \"" + kafka.bootstraps() +
                                 "\", topic: events, key: id}\n");
    std::string err = dir / ("produce" + std::to_string(round) + ".err");
    int pid = etltest::startEtlrun({"--once", "--state-dir=" + (dir / "produce-state"), yaml},
                                   dir / "produce.out", err);
    if (loseABroker) {
      // Broker 2 leads a third of the partitions: its messages wait until it is back.
      std::this_thread::sleep_for(200ms);
      kafka.setBrokerDown(2, true);
      std::this_thread::sleep_for(3s);
      kafka.setBrokerDown(2, false);
    }
    EXPECT_EQ(etltest::waitFor(pid, 120), 0) << etltest::readFile(err);
  };

  std::string yaml = dir / "consume.yaml";
  etltest::writeFile(
      yaml,
      "pipelines:\n  consume:\n"
      "    source:\n"
      "      plugin: kafka_consumer\n"
      "      brokers: \"" +
          kafka.bootstraps() +
          "\"\n"
          "      topics: [events]\n"
          "      group: loaders\n"
          "      properties: {session.timeout.ms: 3000, heartbeat.interval.ms: 300}\n"
          "    sink:\n"
          "      plugin: sql\n"
          "      connection: \"" +
          db.uri() +
          "\"\n"
          "      create: auto\n"
          "      tables:\n"  // no key: an event stored twice would be two rows
          "        event_log: {stream: events, columns: {id: id, type: type}}\n"
          "    batch: {max_records: 25, max_latency: 100ms, queue: 2}\n");
  std::vector<Worker> workers;
  auto startWorker = [&] {
    Worker w;
    w.err = dir / ("worker" + std::to_string(workers.size() + 1) + ".err");
    w.pid = etltest::startEtlrun({"--state-dir=" + (dir / "consume-state"), yaml},
                                 dir / "worker.out", w.err);
    workers.push_back(w);
  };
  auto stored = [&]() -> int64_t {
    try {
      return db.count("SELECT count(*) FROM event_log");
    } catch (const std::exception&) {
      return 0;  // not created yet
    }
  };
  auto owns = [&](const Worker& w) {
    return etltest::readFile(w.err).find("partitions assigned: events/") != std::string::npos;
  };

  produce(1, false);
  for (int i = 0; i < 3; ++i) startWorker();
  // Worker 2 holds partitions and the group is storing: it dies with batches in flight.
  ASSERT_TRUE(etltest::waitUntil([&] { return owns(workers[1]) && stored() > 0; }, 60))
      << etltest::readFile(workers[1].err);
  int64_t atKill = stored();
  ::kill(workers[1].pid, SIGKILL);
  EXPECT_EQ(etltest::waitFor(workers[1].pid, 10), -SIGKILL);
  produce(2, true);  // while the group moves worker 2's partitions, and a broker is lost
  startWorker();     // a fourth joins: partitions move again (cooperatively)
  EXPECT_TRUE(etltest::waitUntil([&] { return owns(workers[3]); }, 60))
      << "the fourth worker got no partitions: " << etltest::readFile(workers[3].err);
  produce(3, false);
  const int64_t total = 3 * perRound;
  bool all = etltest::waitUntil([&] { return stored() >= total; }, 120);
  std::this_thread::sleep_for(1s);  // anything stored twice would show now
  for (std::size_t i = 0; i < workers.size(); ++i) {
    if (i == 1) continue;
    ::kill(workers[i].pid, SIGTERM);
    EXPECT_EQ(etltest::waitFor(workers[i].pid, 60), 0) << etltest::readFile(workers[i].err);
  }
  ASSERT_TRUE(all) << "stored " << stored() << " of " << total;
  EXPECT_LT(atKill, static_cast<int64_t>(perRound)) << "the kill came after the work";
  EXPECT_EQ(stored(), total);
  EXPECT_EQ(db.count("SELECT count(DISTINCT id) FROM event_log"), total);
  // Every partition's position is in the database, and it is the end of the partition.
  // A row per partition, and one naming the pipeline that wrote them.
  EXPECT_EQ(db.count("SELECT count(*) FROM etl_checkpoint_parts WHERE pipeline = 'consume'"), 7);
  EXPECT_EQ(db.count("SELECT sum(checkpoint::bigint) FROM etl_checkpoint_parts WHERE part <> "
                     "'etl_written_by'"),
            total);
  // Partitions moved from live workers to the fourth (logged).
  int revoked = 0;
  for (const auto& w : workers) {
    revoked += etltest::readFile(w.err).find(
                   "partitions revoked after their batches committed: "
                   "events/") != std::string::npos;
  }
  EXPECT_GE(revoked, 1) << "no partition moved from a live worker";
  // Consumer lag per partition is a gauge (the totals logged at exit show it).
  EXPECT_NE(etltest::readFile(workers[0].err)
                .find("kafka_consumer_lag{pipeline=\"consume\","
                      "topic=\"events\",partition="),
            std::string::npos)
      << etltest::readFile(workers[0].err);
}

// A member stalls (SIGSTOP) in the middle of a batch's transaction, longer than the session
// timeout: the group gives its partitions to another member, which stores everything. Resumed,
// the stalled member must store nothing of its batch and must not move any position back (its
// positions are older than the new owner's): the batch's conditional checkpoint update matches no
// row, the batch rolls back, and the member stops.
TEST(Kafka, AStalledMemberResumedAfterItsPartitionsMovedStoresNothingTwice) {
  etltest::TempDir dir;
  etltest::TestDatabase db;
  etltest::KafkaMock kafka(1);
  kafka.createTopic("events", 4);
  const uint64_t total = 2000;
  auto templates = etltest::templateEvents(etltest::dataDir());
  std::vector<etltest::RawMessage> messages;
  {
    std::string input = dir / "events.jsonl";
    etltest::writeEvents(templates, total, 5000000, input);
    std::istringstream lines(etltest::readFile(input));
    std::string line;
    for (int i = 0; std::getline(lines, line); ++i) messages.push_back({std::to_string(i), line});
  }
  ASSERT_EQ(messages.size(), total);
  // A few first; the rest once A's writes wait for the test's lock, so A reads them then.
  const std::size_t first = 100;
  etltest::produce(kafka.bootstraps(), "events", {messages.begin(), messages.begin() + first});
  std::string yaml = dir / "consume.yaml";
  etltest::writeFile(
      yaml,
      "pipelines:\n  consume:\n    source:\n      plugin: kafka_consumer\n"
      "      brokers: \"" +
          kafka.bootstraps() +
          "\"\n      topics: [events]\n      group: loaders\n"
          "      properties: {session.timeout.ms: 3000, "
          "heartbeat.interval.ms: 300}\n"
          "    sink:\n      plugin: sql\n      connection: \"" +
          db.uri() +
          "\"\n      create: auto\n      tables:\n"  // no key: a second copy is a second row
          "        event_log: {stream: events, columns: {id: id}}\n"
          "    batch: {max_records: 50, max_latency: 100ms}\n");

  // Positions are sampled all along: none may ever move back.
  std::atomic<bool> sampling{true};
  std::map<std::string, int64_t> highest;
  std::vector<std::string> movedBack;
  struct Joined {
    std::atomic<bool>& flag;
    std::thread thread;
    ~Joined() {
      flag = false;
      if (thread.joinable()) thread.join();
    }
  } sampler{
      sampling, std::thread([&] {
        while (sampling) {
          try {
            for (const auto& row : etltest::sql(db.conninfo(),
                                                "SELECT part || '=' || checkpoint FROM "
                                                "etl_checkpoint_parts WHERE pipeline = 'consume' "
                                                "AND part <> 'etl_written_by'")) {
              auto eq = row.find('=');
              std::string part = row.substr(0, eq);
              int64_t at = std::stoll(row.substr(eq + 1));
              if (highest.count(part) && at < highest[part]) {
                movedBack.push_back(part + ": " + std::to_string(highest[part]) + " -> " +
                                    std::to_string(at));
              }
              highest[part] = std::max(highest[part], at);
            }
          } catch (const std::exception&) {  // the tables do not exist yet
          }
          std::this_thread::sleep_for(20ms);
        }
      })};
  auto stored = [&]() -> int64_t {
    try {
      return db.count("SELECT count(*) FROM event_log");
    } catch (const std::exception&) {
      return 0;
    }
  };

  Worker a{0, dir / "a.err"};
  a.pid = etltest::startEtlrun({"--state-dir=" + (dir / "state-a"), yaml}, dir / "a.out", a.err);
  ASSERT_TRUE(etltest::waitUntil([&] { return stored() > 0; }, 60)) << etltest::readFile(a.err);
  // The next batch of A waits for a lock the test holds, inside its transaction; then A stalls.
  PGconn* lock = PQconnectdb(db.conninfo().c_str());
  ASSERT_EQ(PQstatus(lock), CONNECTION_OK);
  PQclear(PQexec(lock, "BEGIN"));
  PGresult* locked = PQexec(lock, "LOCK TABLE event_log IN SHARE MODE");
  ASSERT_EQ(PQresultStatus(locked), PGRES_COMMAND_OK) << PQerrorMessage(lock);
  PQclear(locked);
  etltest::produce(kafka.bootstraps(), "events", {messages.begin() + first, messages.end()});
  ASSERT_TRUE(etltest::waitUntil(
      [&] {
        return db.count(
                   "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                   "AND datname = current_database()") > 0;
      },
      30))
      << etltest::readFile(a.err);
  int64_t atStall = stored();
  ::kill(a.pid, SIGSTOP);
  PQclear(PQexec(lock, "COMMIT"));
  PQfinish(lock);

  // B joins; once A's session times out, B owns every partition and stores everything.
  Worker b{0, dir / "b.err"};
  b.pid = etltest::startEtlrun({"--state-dir=" + (dir / "state-b"), yaml}, dir / "b.out", b.err);
  bool all = etltest::waitUntil([&] { return stored() >= static_cast<int64_t>(total); }, 90);
  ::kill(a.pid, SIGCONT);
  int aExit = etltest::waitFor(a.pid, 30);
  std::this_thread::sleep_for(1s);  // anything A or B stored twice would show now
  ::kill(b.pid, SIGTERM);
  EXPECT_EQ(etltest::waitFor(b.pid, 30), 0) << etltest::readFile(b.err);
  sampling = false;
  sampler.thread.join();

  ASSERT_TRUE(all) << "stored " << stored() << " of " << total << "\n" << etltest::readFile(b.err);
  EXPECT_LT(atStall, static_cast<int64_t>(total)) << "A stalled after the work";
  EXPECT_EQ(stored(), static_cast<int64_t>(total)) << etltest::readFile(a.err);
  EXPECT_EQ(db.count("SELECT count(DISTINCT id) FROM event_log"), static_cast<int64_t>(total));
  EXPECT_TRUE(movedBack.empty()) << movedBack.front();
  EXPECT_EQ(db.count("SELECT sum(checkpoint::bigint) FROM etl_checkpoint_parts WHERE part <> "
                     "'etl_written_by'"),
            static_cast<int64_t>(total));
  // A held a batch it had read and not committed: resumed, it was fenced and stopped.
  std::string aLog = etltest::readFile(a.err);
  EXPECT_EQ(aExit, 70) << aLog;
  EXPECT_NE(aLog.find("moved on under this process"), std::string::npos) << aLog;
}

// A group that never forms (its coordinator is down): a --once run (cron) does not wait forever
// but fails saying why, and a service stops within 5 s of SIGTERM.
TEST(Kafka, AGroupThatNeverFormsEndsAOnceRunAndDoesNotHoldUpAStop) {
  etltest::TempDir dir;
  etltest::KafkaMock kafka(3);
  kafka.createTopic("events", 2);
  kafka.setCoordinator("group", "lonely", 2);
  kafka.setBrokerDown(2, true);
  etltest::writeFile(
      dir / "p.yaml",
      "pipelines:\n  consume:\n    source: {plugin: kafka_consumer, brokers: \"" +
          kafka.bootstraps() +
          "\", topics: [events], group: lonely, join_timeout: 2s}\n"
          "    sink: {plugin: jsonl, path: \"" +
          (dir / "out.jsonl") +
          "\"}\n"
          "    retry: {initial_backoff: 500ms, max_backoff: 1s, give_up_after: 6s}\n");
  auto started = std::chrono::steady_clock::now();
  int oncePid = etltest::startEtlrun({"--once", "--state-dir=" + (dir / "state"), dir / "p.yaml"},
                                     dir / "once.out", dir / "once.err");
  int onceCode = etltest::waitFor(oncePid, 60);
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::string onceErr = etltest::readFile(dir / "once.err");
  EXPECT_EQ(onceCode, 70) << onceErr;
  EXPECT_LT(took, 30) << onceErr;
  EXPECT_NE(onceErr.find("the group 'lonely' has not formed"), std::string::npos) << onceErr;

  int pid = etltest::startEtlrun({"--state-dir=" + (dir / "state"), dir / "p.yaml"},
                                 dir / "service.out", dir / "service.err");
  // Stopped while it waits for the group, once it has said why it waits.
  EXPECT_TRUE(etltest::waitUntil(
      [&] {
        return etltest::readFile(dir / "service.err").find("has not formed") != std::string::npos;
      },
      30));
  auto sent = std::chrono::steady_clock::now();
  ::kill(pid, SIGTERM);
  int code = etltest::waitFor(pid, 30);
  double stopped = std::chrono::duration<double>(std::chrono::steady_clock::now() - sent).count();
  std::string err = etltest::readFile(dir / "service.err");
  EXPECT_LT(stopped, 5) << err;
  EXPECT_TRUE(code == 0 || code == 75) << code << "\n" << err;
  EXPECT_NE(err.find("has not formed"), std::string::npos) << err;
}

TEST(Kafka, GithubEventsIntoATopicWithTransactionsHoldEachEventOnceAcrossKillNine) {
  etltest::TempDir dir;
  etltest::KafkaMock kafka(3);
  kafka.createTopic("github-events", 3);
  kafka.createTopic("etlrun-checkpoints", 1);
  // Broker 2 leads one partition of the data and nothing else: when it is down, a transaction
  // delivers the other partitions' messages and waits for that one's.
  kafka.setCoordinator("transaction", "etlrun.ingest", 1);
  kafka.setLeader("etlrun-checkpoints", 0, 1);
  kafka.setLeader("github-events", 0, 2);
  kafka.setLeader("github-events", 1, 1);
  kafka.setLeader("github-events", 2, 3);
  fakegh::FakeGitHub fake(etl::systemClock());
  fake.setPollInterval(1);
  fake.autoPublish(etltest::templateEvents(etltest::dataDir()), 100ms, 7);
  fake.start();
  std::string yaml = dir / "p.yaml";
  etltest::writeFile(yaml,
                     "pipelines:\n  ingest:\n"
                     "    source: {plugin: github_events, base_url: " +
                         fake.baseUrl() +
                         ", min_poll_interval: 1s}\n"
                         "    sink:\n"
                         "      plugin: kafka\n"
                         "      brokers: \"" +
                         kafka.bootstraps() +
                         "\"\n"
                         "      topic: github-events\n"
                         "      exactly_once: true\n"
                         "    batch: {max_records: 10, max_latency: 50ms}\n");
  std::vector<std::string> args = {"--state-dir=" + (dir / "state"), yaml};
  int pid = etltest::startEtlrun(args, dir / "out", dir / "err1");
  auto committed = [&] {
    return etltest::readFile(dir / "err1").find("records read") != std::string::npos ||
           etltest::readTopic(kafka.bootstraps(), "etlrun-checkpoints").size() >= 3;
  };
  ASSERT_TRUE(etltest::waitUntil(committed, 60)) << etltest::readFile(dir / "err1");
  kafka.setBrokerDown(2, true);
  std::this_thread::sleep_for(2500ms);  // a transaction is open, half delivered
  ::kill(pid, SIGKILL);
  EXPECT_EQ(etltest::waitFor(pid, 10), -SIGKILL);
  kafka.setBrokerDown(2, false);
  fake.autoPublish({}, 0ms, 0);  // the feed stops moving: the next run catches up and ends
  auto second = etltest::runEtlrun({"--once", "--state-dir=" + (dir / "state"), yaml});
  ASSERT_EQ(second.exitCode, 0) << second.err;
  EXPECT_NE(second.err.find("resuming from checkpoint"), std::string::npos) << second.err;

  // A transaction committed when its checkpoint message is there. A real broker hides the rest
  // from read_committed consumers; librdkafka 2.0.2's mock writes no abort markers, so this does
  // what read_committed does on a real cluster, by the "etl-batch" header both messages carry.
  std::set<std::string> committedBatches;
  for (const auto& m : etltest::readTopic(kafka.bootstraps(), "etlrun-checkpoints")) {
    EXPECT_EQ(m.key, "etlrun.ingest");
    committedBatches.insert(m.batch);
  }
  std::map<std::string, int> seen;
  std::size_t aborted = 0;
  for (const auto& m : etltest::readTopic(kafka.bootstraps(), "github-events")) {
    EXPECT_EQ(m.stream, "github_events");
    if (!committedBatches.count(m.batch)) {
      ++aborted;
      continue;
    }
    std::string id = etl::Record("e", m.value).get<std::string>("id");
    EXPECT_EQ(m.key, id) << "keyed by the event id";
    ++seen[id];
  }
  auto published = fake.publishedIds();
  ASSERT_GT(published.size(), 50u);
  for (const auto& id : published) EXPECT_EQ(seen[id], 1) << "event " << id;
  EXPECT_EQ(seen.size(), published.size());
  EXPECT_GT(aborted, 0u) << "the kill was meant to leave a transaction half delivered";
  std::cout << "events " << published.size() << ", committed transactions "
            << committedBatches.size() << ", messages of uncommitted ones " << aborted << "\n";
}

// The shipped pipelines as they are, only their environment set: GitHub -> github-kafka.yaml ->
// Kafka -> kafka-postgres.yaml -> PostgreSQL stores the same rows as github.yaml straight.
TEST(Kafka, TheShippedKafkaPipelinesStoreWhatGithubYamlStores) {
  etltest::TempDir dir;
  etltest::TestDatabase direct, viaKafka;
  etltest::KafkaMock kafka(3);
  kafka.createTopic("github-events", 4);
  kafka.createTopic("etlrun-checkpoints", 1);
  fakegh::FakeGitHub fake(etl::systemClock());
  fake.loadFixtures(etltest::dataDir() + "/events/api_events_2026-01-12.json");
  fake.start();
  std::string pipelines = etltest::sourceDir() + "/pipelines/";
  auto run = [&](const std::string& file, const std::string& database, const std::string& state) {
    auto result =
        etltest::runEtlrun({"--once", pipelines + file}, {{"GITHUB_API_URL", fake.baseUrl()},
                                                          {"KAFKA_BROKERS", kafka.bootstraps()},
                                                          {"ETL_DATABASE", database},
                                                          {"ETL_STATE_DIR", dir / state}});
    EXPECT_EQ(result.exitCode, 0) << file << ": " << result.err;
    return result;
  };
  // github.yaml's enrichment has no token here: its work stays pending, as designed.
  run("github.yaml", direct.uri(), "direct");
  run("github-kafka.yaml", "", "poll");
  auto load = run("kafka-postgres.yaml", viaKafka.uri(), "load");
  EXPECT_NE(load.err.find("partitions assigned: github-events/"), std::string::npos) << load.err;
  const char* events =
      "SELECT event_id || ' ' || type || ' ' || md5(raw::text) FROM github_events "
      "ORDER BY event_id";
  const char* pushes =
      "SELECT push_id || ' ' || event_id || ' ' || ref || ' ' || head || ' ' || "
      "commit_count FROM push_events ORDER BY push_id";
  auto want = etltest::sql(direct.conninfo(), events);
  ASSERT_GT(want.size(), 20u);
  EXPECT_EQ(etltest::sql(viaKafka.conninfo(), events), want);
  EXPECT_EQ(etltest::sql(viaKafka.conninfo(), pushes), etltest::sql(direct.conninfo(), pushes));
  // Four partitions, and the pipeline that wrote them: its tables, not its topics (a partition's
  // position stands whatever topics are added).
  EXPECT_EQ(viaKafka.count("SELECT count(*) FROM etl_checkpoint_parts WHERE pipeline = 'load'"), 5);
  EXPECT_EQ(
      etltest::sql(viaKafka.conninfo(),
                   "SELECT checkpoint FROM etl_checkpoint_parts WHERE part = 'etl_written_by'"),
      std::vector<std::string>{
          "{\"sink\":{\"plugin\":\"sql\",\"tables\":[\"github_events\",\"push_events\"]},"
          "\"source\":{\"plugin\":\"kafka_consumer\"}}"});
}

// librdkafka properties pass through, are checked by validate (naming the property, never its
// value), and a secret among them appears in no output, even with librdkafka's debug logging on.
TEST(Kafka, PropertiesAreCheckedAndTheirSecretsNeverLogged) {
  etltest::TempDir dir;
  etltest::KafkaMock kafka(1);
  const std::string secret = "Kafka-S3cret-Value-42";
  auto yaml = [&](const std::string& properties) {
    etltest::writeFile(
        dir / "p.yaml",
        "pipelines:\n  send:\n    source: {plugin: file, path: \"" + etltest::dataDir() +
            "/gharchive/gharchive_2021-07-21_hour06_200events.jsonl\"}\n"
            "    sink:\n      plugin: kafka\n      brokers: \"" +
            kafka.bootstraps() + "\"\n      topic: t\n      properties: " + properties +
            "\n    retry: {initial_backoff: 200ms, give_up_after: 2s}\n");
    return dir / "p.yaml";
  };
  std::map<std::string, std::string> env = {{"KAFKA_PASSWORD", secret}};
  auto bad = etltest::runEtlrun(
      {"validate", yaml("{sasl.password: \"${KAFKA_PASSWORD}\", no.such.thing: 1}")}, env);
  EXPECT_EQ(bad.exitCode, 78) << bad.err;
  EXPECT_NE(bad.err.find("no.such.thing"), std::string::npos) << bad.err;
  auto forced = etltest::runEtlrun({"validate", yaml("{enable.idempotence: false}")}, env);
  EXPECT_EQ(forced.exitCode, 78) << forced.err;
  EXPECT_NE(forced.err.find("enable.idempotence"), std::string::npos) << forced.err;
  // The mock speaks no SASL: the run fails, logging librdkafka's debug output.
  auto run = etltest::runEtlrun(
      {"--once", "--state-dir=" + (dir / "state"),
       yaml("{security.protocol: sasl_plaintext, sasl.mechanism: PLAIN, sasl.username: etl, "
            "sasl.password: \"${KAFKA_PASSWORD}\", debug: \"broker,security,conf\", "
            "message.timeout.ms: 1000}")},
      env);
  EXPECT_EQ(run.exitCode, 70) << run.err;
  EXPECT_NE(run.err.find("librdkafka"), std::string::npos) << run.err;
  for (const auto& text : {bad.err, bad.out, forced.err, run.err, run.out}) {
    EXPECT_EQ(text.find(secret), std::string::npos) << text;
    EXPECT_EQ(text.find("S3cret"), std::string::npos);
  }
}

// Whatever another producer put in the topic (a tombstone, bytes that are not JSON, invalid
// UTF-8, a NUL) becomes a dead letter with its reason, the rest of its batch is stored, and the
// partition's offset moves past all of it.
TEST(Kafka, AnyBytesFromTheTopicBecomeDeadLettersAndTheRestIsStored) {
  etltest::TempDir dir;
  etltest::TestDatabase db;
  etltest::KafkaMock kafka(1);
  kafka.createTopic("mixed", 1);
  std::vector<etltest::RawMessage> messages;
  for (int i = 0; i < 20; ++i) {
    messages.push_back({std::to_string(i), "{\"id\":\"" + std::to_string(i) + "\",\"n\":1}"});
    if (i == 3) messages.push_back({std::string("gone"), std::nullopt});  // a tombstone
    if (i == 7) messages.push_back({std::nullopt, std::string("not json at all")});
    if (i == 11) messages.push_back({std::string("\xff"), std::string("{\"id\":\"\xff\xfe\"}")});
    if (i == 15) messages.push_back({std::nullopt, std::string("{\"id\":\"a\0b\"}", 12)});
  }
  etltest::produce(kafka.bootstraps(), "mixed", messages);
  etltest::writeFile(dir / "p.yaml",
                     "pipelines:\n  load:\n    source: {plugin: kafka_consumer, brokers: \"" +
                         kafka.bootstraps() +
                         "\", topics: [mixed], group: g,\n"
                         "      properties: {session.timeout.ms: 3000}}\n"
                         "    sink:\n      plugin: sql\n      connection: \"" +
                         db.uri() +
                         "\"\n      create: auto\n"
                         "      tables: {rows: {stream: mixed, columns: {id: id, doc: {value: "
                         "record, type: jsonb}}}}\n");
  auto run = etltest::runEtlrun({"--once", "--state-dir=" + (dir / "state"), dir / "p.yaml"});
  ASSERT_EQ(run.exitCode, 0) << run.err;
  EXPECT_EQ(db.count("SELECT count(*) FROM rows"), 20);
  EXPECT_EQ(db.count("SELECT count(*) FROM etl_dead_letters"), 4);
  EXPECT_EQ(db.count("SELECT count(*) FROM etl_dead_letters WHERE record_bytes IS NOT NULL"), 2)
      << "invalid UTF-8 and the NUL keep their exact bytes";
  EXPECT_EQ(db.count("SELECT checkpoint::bigint FROM etl_checkpoint_parts WHERE part = "
                     "'mixed/0'"),
            24);
  // Nothing is read twice on the next start.
  auto again = etltest::runEtlrun({"--once", "--state-dir=" + (dir / "state"), dir / "p.yaml"});
  ASSERT_EQ(again.exitCode, 0) << again.err;
  EXPECT_EQ(db.count("SELECT count(*) FROM rows"), 20);
  EXPECT_EQ(db.count("SELECT count(*) FROM etl_dead_letters"), 4);
}

// A broken checkpoint in the checkpoint topic stops the pipeline saying where it is and how to
// reset it; the reset it names (a tombstone) starts the pipeline from the beginning.
TEST(Kafka, ABrokenCheckpointNamesItsTopicAndATombstoneResetsIt) {
  etltest::TempDir dir;
  etltest::KafkaMock kafka(1);
  kafka.createTopic("out", 1);
  kafka.createTopic("etlrun-checkpoints", 1);
  etltest::writeFile(dir / "p.yaml",
                     "pipelines:\n  send:\n    source: {plugin: file, path: \"" +
                         etltest::dataDir() +
                         "/gharchive/gharchive_2021-07-21_hour06_200events.jsonl\"}\n"
                         "    sink: {plugin: kafka, brokers: \"" +
                         kafka.bootstraps() + "\", topic: out, exactly_once: true}\n");
  std::vector<std::string> args = {"--once", "--state-dir=" + (dir / "state"), dir / "p.yaml"};
  etltest::produce(kafka.bootstraps(), "etlrun-checkpoints", {{std::string("etlrun.send"), ""}});
  auto broken = etltest::runEtlrun(args);
  EXPECT_EQ(broken.exitCode, 70) << broken.err;
  EXPECT_NE(broken.err.find("topic etlrun-checkpoints (partition 0, key etlrun.send)"),
            std::string::npos)
      << broken.err;
  EXPECT_NE(broken.err.find("produce a tombstone (key etlrun.send, no value)"), std::string::npos)
      << broken.err;
  EXPECT_EQ(etltest::readTopic(kafka.bootstraps(), "out").size(), 0u) << "nothing was read";
  etltest::produce(kafka.bootstraps(), "etlrun-checkpoints",
                   {{std::string("etlrun.send"), std::nullopt}});
  auto reset = etltest::runEtlrun(args);
  ASSERT_EQ(reset.exitCode, 0) << reset.err;
  EXPECT_NE(reset.err.find("starting fresh"), std::string::npos) << reset.err;
  EXPECT_EQ(etltest::readTopic(kafka.bootstraps(), "out").size(), 200u);
}

}  // namespace
