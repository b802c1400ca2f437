// The shipped GitHub tables (pipelines/gharchive.yaml's sql sink) on both backends (a real
// PostgreSQL 15 and the embedded SQLite default), through the real etlrun binary: exactly-once
// storage, replays, dead letters, kill -9, a server that goes away, concurrent migrations, and the
// GitHub pipeline end to end.

#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/Session.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/ParseHandler.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Logger.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "backends.h"
#include "database.h"
#include "etl/errors.h"
#include "etl/record.h"
#include "event_generator.h"
#include "fake_github.h"
#include "pg_session.h"
#include "postgres_env.h"
#include "shipped_pipelines.h"
#include "test_env.h"

namespace {

using namespace std::chrono_literals;

std::vector<std::string> sqliteColumn(const std::string& path, const std::string& statement) {
  Poco::Data::SQLite::Connector::registerConnector();
  Poco::Data::Session session("SQLite", path);
  std::vector<std::string> values;
  session << statement, Poco::Data::Keywords::into(values), Poco::Data::Keywords::now;
  return values;
}

// One backend under test: where it stores, how the pipeline names it, how to count its rows.
class Backend {
 public:
  Backend(etltest::Backend backend, const std::string& dir)
      : db_(backend, dir + "/store.sqlite"), dir_(dir) {}
  std::string uri() const {
    return sqlite() ? etltest::sqliteUri(dir_ + "/store.sqlite") : db_.uri();
  }
  int64_t count(const std::string& statement) const { return db_.count(statement); }
  std::vector<std::string> column(const std::string& statement) const {
    return db_.column(statement);
  }
  bool postgres() const { return db_.backend() == etltest::Backend::Postgres; }
  bool sqlite() const { return db_.backend() == etltest::Backend::Sqlite; }
  etltest::Backend kind() const { return db_.backend(); }

 private:
  etltest::BackendDb db_;
  std::string dir_;
};

struct Input {
  std::set<std::string> eventIds;
  std::set<std::string> pushIds;
};

// Counts what a correct store must hold for an input file, independently of etlrun's parsing.
Input expected(const std::string& path) {
  Input in;
  for (const auto& line : etltest::readLines(path)) {
    etl::Record r("e", line);
    if (!r.jsonError().empty()) continue;
    auto id = r.find<std::string>("id");
    if (!id) continue;
    in.eventIds.insert(*id);
    if (r.find<std::string>("type") == std::string("PushEvent") && r.has("payload.push_id")) {
      in.pushIds.insert(std::to_string(r.get<int64_t>("payload.push_id")));
    }
  }
  return in;
}

class Store : public testing::TestWithParam<etltest::Backend> {
 protected:
  Store() : backend_(GetParam(), dir_.path()) {}

  // GH Archive lines -> push_event_parser -> the shipped backfill sink, into this backend.
  std::string pipeline(const std::string& name, const std::string& input, int batch = 500) {
    std::string path = dir_ / (name + ".yaml");
    etltest::writeFile(path, etltest::githubConnection(backend_.uri()) + "pipelines:\n  " + name +
                                 ":\n    source: {plugin: file, path: \"" + input +
                                 "\", stream: github_events}\n"
                                 "    transforms: [{plugin: push_event_parser}]\n" +
                                 etltest::shippedSink("gharchive.yaml", "backfill") +
                                 "    batch: {max_records: " + std::to_string(batch) +
                                 ", max_latency: 200ms}\n");
    return path;
  }
  etltest::ProcessResult runOnce(const std::string& yaml,
                                 const std::map<std::string, std::string>& env = {}) {
    return etltest::runEtlrun({"--once", "--state-dir=" + (dir_ / "state"), yaml}, env);
  }
  void expectStored(const Input& in) {
    EXPECT_EQ(backend_.count("SELECT count(*) FROM github_events"),
              static_cast<int64_t>(in.eventIds.size()));
    EXPECT_EQ(backend_.count("SELECT count(*) FROM push_events"),
              static_cast<int64_t>(in.pushIds.size()));
  }

  etltest::TempDir dir_;
  Backend backend_;
};

TEST_P(Store, StoresEachEventOnceAndAReplayAddsNothing) {
  auto templates = etltest::templateEvents(etltest::dataDir());
  std::string input;
  for (const auto& t : templates) input += t + "\n";
  for (int i = 0; i < 20; ++i) input += templates[i] + "\n";  // repeats inside the input
  etltest::writeFile(dir_ / "in.jsonl", input);
  Input in = expected(dir_ / "in.jsonl");
  ASSERT_GT(in.pushIds.size(), 100u);
  auto first = runOnce(pipeline("first", dir_ / "in.jsonl", 64));
  ASSERT_EQ(first.exitCode, 0) << first.err;
  expectStored(in);
  // Another pipeline name has no checkpoint: the whole input is written again, and ignored.
  auto replay = runOnce(pipeline("replay", dir_ / "in.jsonl", 64));
  ASSERT_EQ(replay.exitCode, 0) << replay.err;
  expectStored(in);
  EXPECT_NE(replay.err.find(R"(rows_stored{pipeline="replay",table="github_events"} = 0)"),
            std::string::npos)
      << replay.err;
  // Every payload shape was parsed: old (size, commits), new (no size).
  EXPECT_GT(backend_.count("SELECT count(*) FROM push_events WHERE size IS NULL"), 0);
  EXPECT_GT(backend_.count("SELECT count(*) FROM push_events WHERE commit_count > 0"), 0);
  EXPECT_EQ(backend_.count("SELECT count(*) FROM push_events WHERE enrichment_status = 'pending'"),
            static_cast<int64_t>(in.pushIds.size()));
  EXPECT_EQ(backend_.count("SELECT count(*) FROM etl_checkpoints"), 2);
  EXPECT_EQ(backend_.count("SELECT count(*) FROM etl_schema_migrations"),
            static_cast<int64_t>(
                sql::readMigrations(etltest::sourceDir() + "/pipelines/github/migrations",
                                    sql::dialectNamed("postgresql"))
                    .size()));
}

TEST_P(Store, BadRecordsBecomeDeadLettersWithReasonsAndTheRestIsStored) {
  auto lines = etltest::readLines(etltest::dataDir() +
                                  "/gharchive/gharchive_2021-07-21_hour06_200events.jsonl");
  std::string push = *std::find_if(lines.begin(), lines.end(), [](const std::string& l) {
    return l.find("\"type\":\"PushEvent\"") != std::string::npos;
  });
  std::string noPushId = etltest::withUniqueIds(push, 42);
  std::size_t at = noPushId.find("\"push_id\":");
  noPushId.erase(at, noPushId.find(',', at) - at + 1);
  std::string nulChar = etltest::withUniqueIds(lines[0], 43);
  nulChar.insert(nulChar.find("\"ref\":\"") + 7, "\\u0000");
  std::string input = lines[0] + "\n" + "{\"id\":\"7\",\"type\":\"PushEv\n" + noPushId + "\n" +
                      lines[1] + "\n" + nulChar + "\n" + push + "\n";
  etltest::writeFile(dir_ / "in.jsonl", input);
  auto result = runOnce(pipeline("p", dir_ / "in.jsonl"));
  ASSERT_EQ(result.exitCode, 0) << result.err;
  auto reasons = backend_.column("SELECT reason FROM etl_dead_letters ORDER BY reason");
  std::string all;
  for (const auto& r : reasons) all += r + "\n";
  EXPECT_NE(all.find("invalid JSON"), std::string::npos) << all;
  EXPECT_NE(all.find("field 'payload.push_id' is missing"), std::string::npos) << all;
  // No JSON column stores \u0000 the same everywhere (PostgreSQL's jsonb refuses it): a dead
  // letter on every database, and the rest of the batch is kept.
  int64_t events = 4;
  EXPECT_EQ(reasons.size(), 3u) << all;
  EXPECT_NE(all.find("\\u0000"), std::string::npos) << all;
  EXPECT_EQ(backend_.count("SELECT count(*) FROM github_events"), events);
  EXPECT_EQ(backend_.count("SELECT count(*) FROM push_events"), 1);
  EXPECT_EQ(
      backend_.count("SELECT count(*) FROM etl_dead_letters WHERE plugin = 'push_event_parser'"),
      1);
  // A replay of the same input does not duplicate dead letters.
  ASSERT_EQ(runOnce(pipeline("again", dir_ / "in.jsonl")).exitCode, 0);
  EXPECT_EQ(backend_.count("SELECT count(*) FROM etl_dead_letters"),
            static_cast<int64_t>(reasons.size()));
}

// The PushEvents of a recorded API exchange, as compact JSON lines.
std::vector<std::string> recordedPushEvents(const std::string& file) {
  std::ifstream in(etltest::dataDir() + "/" + file);
  Poco::JSON::Parser parser(new Poco::JSON::ParseHandler(true));
  auto exchanges = parser.parse(in).extract<Poco::JSON::Object::Ptr>()->getArray("exchanges");
  std::vector<std::string> events;
  for (std::size_t x = 0; x < exchanges->size(); ++x) {
    auto body = exchanges->getObject(static_cast<unsigned>(x))->getObject("response")->get("body");
    if (body.type() != typeid(Poco::JSON::Array::Ptr)) continue;
    auto page = body.extract<Poco::JSON::Array::Ptr>();
    for (std::size_t i = 0; i < page->size(); ++i) {
      auto event = page->getObject(static_cast<unsigned>(i));
      if (event->getValue<std::string>("type") != "PushEvent") continue;
      std::ostringstream out;
      event->stringify(out);
      events.push_back(out.str());
    }
  }
  return events;
}

std::string hex(const std::string& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) out += {digits[c >> 4], digits[c & 15]};
  return out;
}

TEST_P(Store, AnyBytesBecomeADeadLetterAndTheRestOfTheBatchCommits) {
  auto lines = etltest::readLines(etltest::dataDir() +
                                  "/gharchive/gharchive_2021-07-21_hour06_200events.jsonl");
  std::vector<std::string> pushes;
  for (const auto& l : lines) {
    if (l.find("\"type\":\"PushEvent\"") != std::string::npos) pushes.push_back(l);
  }
  ASSERT_GE(pushes.size(), 10u);
  auto edit = [](std::string line, uint64_t id, const std::string& find, const std::string& put) {
    line = etltest::withUniqueIds(line, id);
    std::size_t at = line.find(find);
    EXPECT_NE(at, std::string::npos) << find;
    return line.replace(at, find.size(), put);
  };
  // Hostile lines of the families GH Archive and the API can carry, among good ones.
  std::string badType = edit(pushes[0], 901, "\"type\":\"PushEvent\"",
                             "\"type\":\"Push\xff"
                             "Event\"");
  std::string badRef = edit(pushes[1], 902, "\"ref\":\"", "\"ref\":\"\xc3\x28\xe2\x82");
  std::string nulRef = edit(pushes[2], 903, "\"ref\":\"", "\"ref\":\"refs/heads/a\\u0000b");
  std::string rawNul = edit(pushes[3], 904, "\"ref\":\"", std::string("\"ref\":\"x\0y", 10));
  std::string surrogate = edit(pushes[4], 905, "\"ref\":\"", "\"ref\":\"\\ud800");
  std::string overlong = edit(pushes[5], 906, "\"ref\":\"", "\"ref\":\"\xc0\xaf");
  // jsonb refuses the event for a NUL in a field its push row does not carry: the row is clean,
  // and still never stored without its event.
  std::string nulMessage = edit(pushes[8], 907, "\"message\":\"", "\"message\":\"a\\u0000b");
  auto old = recordedPushEvents("events/api_repo_events_2012-05-27_PyGithub.json");
  ASSERT_FALSE(old.empty());
  std::vector<std::string> good{lines[0], pushes[6], pushes[7], old[0]};
  std::vector<std::string> bad{badType, badRef, nulRef, rawNul, surrogate, overlong, nulMessage};
  std::string input;
  for (std::size_t i = 0; i < good.size(); ++i)
    input += good[i] + "\n" + bad[i % bad.size()] + "\n";
  for (std::size_t i = good.size(); i < bad.size(); ++i) input += bad[i] + "\n";
  etltest::writeFile(dir_ / "in.jsonl", input);

  for (int run = 0; run < 2; ++run) {  // a rerun changes nothing
    auto result = runOnce(pipeline("backfill", dir_ / "in.jsonl"));
    ASSERT_EQ(result.exitCode, 0) << result.err;
    for (const auto& line : good) {
      std::string id = etl::Record("e", line).get<std::string>("id");
      EXPECT_EQ(backend_.count("SELECT count(*) FROM github_events WHERE event_id = '" + id + "'"),
                1)
          << "good event " << id << " lost";
    }
    // A dead letter holding exactly `line`'s bytes (in record, or in record_bytes when they are
    // not valid UTF-8 text).
    auto deadLetters = [&](const std::string& line, bool asBytes) {
      std::map<etltest::Backend, std::pair<std::string, std::string>> columns{
          {etltest::Backend::Postgres,
           {"encode(record_bytes, 'hex')", "encode(convert_to(record, 'UTF8'), 'hex')"}},
          {etltest::Backend::Sqlite,
           {"lower(hex(record_bytes))", "lower(hex(CAST(record AS BLOB)))"}},
          {etltest::Backend::Mariadb,
           {"lower(hex(record_bytes))", "lower(hex(CAST(record AS BINARY)))"}}};
      const auto& pair = columns[backend_.kind()];
      std::string column = asBytes ? pair.first : pair.second;
      return backend_.count("SELECT count(DISTINCT fingerprint) FROM etl_dead_letters WHERE " +
                            column + " = '" + hex(line) + "'");
    };
    for (const auto& line : {badType, badRef, rawNul, overlong}) {
      EXPECT_GE(deadLetters(line, true), 1) << "not kept byte for byte: " << line;
    }
    // Never a derived row without its raw event, never a truncated one.
    EXPECT_EQ(backend_.count("SELECT count(*) FROM push_events p WHERE NOT EXISTS (SELECT 1 FROM "
                             "github_events e WHERE e.event_id = p.event_id)"),
              0);
    // No JSON column stores \u0000 or a lone surrogate the same everywhere (jsonb refuses them):
    // on every database both the raw event and its push row are dead letters (the push row for
    // its NUL, which no text column takes either, or for its event missing: the foreign key).
    for (const char* id : {"903", "905"}) {
      EXPECT_EQ(backend_.count("SELECT count(*) FROM github_events WHERE event_id = '" +
                               std::string(id) + "'"),
                0);
    }
    EXPECT_EQ(backend_.count("SELECT count(*) FROM etl_dead_letters WHERE stream = "
                             "'push_events' AND record LIKE '%\"event_id\":\"903\"%'"),
              1);
    EXPECT_EQ(backend_.count("SELECT count(*) FROM push_events WHERE ref LIKE 'refs/heads/a%'"), 0);
    EXPECT_EQ(backend_.count("SELECT count(*) FROM github_events WHERE event_id = '907'"), 0);
    EXPECT_EQ(backend_.count("SELECT count(*) FROM push_events WHERE event_id = '907'"), 0);
    EXPECT_EQ(backend_.count("SELECT count(*) FROM etl_dead_letters WHERE stream = "
                             "'push_events' AND record LIKE '%\"event_id\":\"907\"%' AND "
                             "reason LIKE '%foreign key%'"),
              1);
    // The 2012 shape (no payload.before) is a push_events row with before NULL.
    int64_t pushId = etl::Record("e", old[0]).get<int64_t>("payload.push_id");
    EXPECT_EQ(
        backend_.count("SELECT count(*) FROM push_events WHERE \"before\" IS NULL AND push_id = " +
                       std::to_string(pushId)),
        1);
    // Every line is accounted for: stored, or a dead letter naming why.
    for (std::size_t i = 0; i < bad.size(); ++i) {
      const std::string& line = bad[i];
      int64_t stored = backend_.count("SELECT count(*) FROM github_events WHERE event_id = '" +
                                      std::to_string(901 + i) + "'");
      EXPECT_GE(stored + deadLetters(line, true) + deadLetters(line, false), 1)
          << "neither stored nor a dead letter: " << line;
    }
  }
}

TEST_P(Store, KillNineAtTwentyRandomMomentsLosesAndDuplicatesNothing) {
  auto templates = etltest::templateEvents(etltest::dataDir());
  etltest::writeEvents(templates, 15000, 5000000, dir_ / "in.jsonl");
  // Repeat a slice, as overlapping hour files or a re-downloaded file would.
  std::string input = etltest::readFile(dir_ / "in.jsonl");
  input += input.substr(0, input.find('\n', input.size() / 10) + 1);
  etltest::writeFile(dir_ / "in.jsonl", input);
  Input in = expected(dir_ / "in.jsonl");
  std::string yaml = pipeline("backfill", dir_ / "in.jsonl", 300);
  unsigned seed = std::random_device{}();
  std::cout << "kill -9 times from seed " << seed << std::endl;
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 random(seed);
  for (int i = 0; i < 20; ++i) {
    int pid =
        etltest::startEtlrun({"--state-dir=" + (dir_ / "state"), yaml}, dir_ / "out", dir_ / "err");
    std::this_thread::sleep_for(std::chrono::milliseconds(30 + random() % 400));
    ::kill(pid, SIGKILL);
    etltest::waitFor(pid);
  }
  auto last = runOnce(yaml);
  ASSERT_EQ(last.exitCode, 0) << last.err;
  expectStored(in);
}

INSTANTIATE_TEST_SUITE_P(Backends, Store,
                         testing::Values(etltest::Backend::Postgres, etltest::Backend::Sqlite,
                                         etltest::Backend::Mariadb),
                         [](const auto& info) { return etltest::backendName(info.param); });

// A backfill against a private server that the test stops and starts.
class ServerGoesAway : public testing::Test {
 protected:
  void SetUp() override {
    etltest::writeEvents(etltest::templateEvents(etltest::dataDir()), 20000, 7000000,
                         dir / "in.jsonl");
    in = expected(dir / "in.jsonl");
  }
  void writePipeline(const std::string& extra) {
    etltest::writeFile(
        dir / "p.yaml",
        etltest::githubConnection(server.uri()) +
            "pipelines:\n  backfill:\n    source: {plugin: "
            "file, path: \"" +
            (dir / "in.jsonl") +
            "\", stream: github_events}\n    transforms: [{plugin: push_event_parser}]\n" +
            etltest::shippedSink("gharchive.yaml", "backfill") + extra);
  }
  // Waits (20 s at most) until the backfill has committed `events` events.
  void waitForStoredEvents(int64_t events) {
    for (int i = 0; i < 1000; ++i) {
      try {
        if (etltest::sqlCount(server.conninfo(), "SELECT count(*) FROM github_events") >= events) {
          return;
        }
      } catch (const std::exception&) {  // the tables do not exist yet
      }
      std::this_thread::sleep_for(20ms);
    }
    FAIL() << "the backfill never stored " << events << " events";
  }
  void expectAllStored() {
    EXPECT_EQ(etltest::sqlCount(server.conninfo(), "SELECT count(*) FROM github_events"),
              static_cast<int64_t>(in.eventIds.size()));
    EXPECT_EQ(etltest::sqlCount(server.conninfo(), "SELECT count(*) FROM push_events"),
              static_cast<int64_t>(in.pushIds.size()));
  }
  etltest::PrivatePostgres server;
  etltest::TempDir dir;
  Input in;
};

TEST_F(ServerGoesAway, WaitsForTheServerAndLosesNothing) {
  writePipeline(
      "    batch: {max_records: 200}\n    retry: {initial_backoff: 200ms, max_backoff: 1s}\n");
  const std::string password = "Sup3rSecretPassw0rd";
  int pid = etltest::startEtlrun({"--once", "--state-dir=" + (dir / "state"), dir / "p.yaml"},
                                 dir / "out", dir / "err", {{"PGPASSWORD", password}});
  waitForStoredEvents(2000);  // some batches committed; now the server goes away for a while
  server.stop();
  std::this_thread::sleep_for(2s);
  EXPECT_EQ(::kill(pid, 0), 0) << "etlrun gave up instead of waiting";
  server.start();
  EXPECT_EQ(etltest::waitFor(pid, 60), 0) << etltest::readFile(dir / "err");
  std::string err = etltest::readFile(dir / "err");
  EXPECT_NE(err.find("retrying at"), std::string::npos) << err;
  EXPECT_EQ(err.find(password), std::string::npos) << "the password leaked into the log";
  expectAllStored();
}

TEST_F(ServerGoesAway, SigtermWhileTheServerIsDownExitsPromptlyAndLosesNothing) {
  writePipeline("    batch: {max_records: 100, queue: 2}\n");
  int pid = etltest::startEtlrun({"--state-dir=" + (dir / "state"), dir / "p.yaml"}, dir / "out",
                                 dir / "err");
  waitForStoredEvents(500);
  server.stop();
  std::this_thread::sleep_for(1s);  // the queue fills up behind the failing sink
  ::kill(pid, SIGTERM);
  EXPECT_EQ(etltest::waitFor(pid, 15), 0) << "shutdown hung on the dead server (or failed):\n"
                                          << etltest::readFile(dir / "err");
  server.start();
  auto rest = etltest::runEtlrun({"--once", "--state-dir=" + (dir / "state"), dir / "p.yaml"});
  ASSERT_EQ(rest.exitCode, 0) << rest.err;
  expectAllStored();
}

TEST(PostgresStore, ConcurrentStartsApplyEachMigrationOnce) {
  etltest::TestDatabase db;
  std::string migrations = etltest::sourceDir() + "/pipelines/github/migrations";
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      try {
        sql::DatabaseOptions options;
        options.uri = db.uri();
        options.migrations = migrations;
        auto database = sql::makeDatabase(options, Poco::Logger::get("test"));
        database->open();
        EXPECT_FALSE(database->loadCheckpoint("none").has_value());
      } catch (const std::exception& e) {
        ADD_FAILURE() << e.what();
        ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(db.count("SELECT count(*) FROM etl_schema_migrations"),
            static_cast<int64_t>(
                sql::readMigrations(migrations, sql::dialectNamed("postgresql")).size()));
}

TEST(PostgresStore, ConnectionErrorsNeverShowThePassword) {
  sql::PgSession session("postgresql://etl:Hunter2Secret@127.0.0.1:1/db",
                         Poco::Logger::get("test"));
  try {
    session.connect();
    FAIL() << "connected to a closed port";
  } catch (const etl::RetryableError& e) {
    std::string message = e.what();
    EXPECT_EQ(message.find("Hunter2Secret"), std::string::npos) << message;
    EXPECT_NE(message.find("postgresql://etl@127.0.0.1:1/db"), std::string::npos) << message;
  }
}

// The flagship pipeline file, unchanged, against the fake GitHub: PostgreSQL when ETL_DATABASE is
// set, the embedded SQLite file when not, and both hold the same rows.
TEST(GitHubPipeline, PostgresAndTheEmbeddedDefaultStoreTheSameRows) {
  fakegh::FakeGitHub fake(etl::systemClock());
  fake.loadFixtures(etltest::dataDir() + "/events");
  fake.start();
  etltest::TestDatabase db;
  etltest::TempDir pgState, sqliteState;
  std::string yaml = etltest::sourceDir() + "/pipelines/github.yaml";
  auto withPg = etltest::runEtlrun({"--once", yaml}, {{"GITHUB_API_URL", fake.baseUrl()},
                                                      {"ETL_DATABASE", db.uri()},
                                                      {"ETL_STATE_DIR", pgState.path()}});
  ASSERT_EQ(withPg.exitCode, 0) << withPg.err;
  auto embedded = etltest::runEtlrun({"--once", yaml}, {{"GITHUB_API_URL", fake.baseUrl()},
                                                        {"-ETL_DATABASE", ""},
                                                        {"ETL_STATE_DIR", sqliteState.path()}});
  ASSERT_EQ(embedded.exitCode, 0) << embedded.err;
  EXPECT_NE(embedded.err.find("embedded SQLite store"), std::string::npos) << embedded.err;
  std::string sqlitePath = sqliteState / "etlrun.sqlite";  // sqlite:etlrun.sqlite in state_dir
  auto published = fake.publishedIds();
  std::set<std::string> distinct(published.begin(), published.end());
  EXPECT_EQ(db.count("SELECT count(*) FROM github_events"), static_cast<int64_t>(distinct.size()));
  EXPECT_GT(db.count("SELECT count(*) FROM push_events"), 10);
  const char* events =
      "SELECT event_id || '|' || type || '|' || coalesce(actor_id::text, '') || '|' || "
      "coalesce(repo_id::text, '') FROM github_events ORDER BY event_id";
  const char* eventsLite =
      "SELECT event_id || '|' || type || '|' || coalesce(actor_id, '') || '|' || "
      "coalesce(repo_id, '') FROM github_events ORDER BY event_id";
  EXPECT_EQ(etltest::sql(db.conninfo(), events), sqliteColumn(sqlitePath, eventsLite));
  const char* pushes =
      "SELECT push_id || '|' || event_id || '|' || repository_id || '|' || actor_id || "
      "'|' || ref || '|' || head || '|' || before || '|' || coalesce(size::text, '-') "
      "|| '|' || coalesce(commit_count::text, '-') FROM push_events ORDER BY push_id";
  const char* pushesLite =
      "SELECT push_id || '|' || event_id || '|' || repository_id || '|' || actor_id "
      "|| '|' || ref || '|' || head || '|' || before || '|' || coalesce(size, '-') "
      "|| '|' || coalesce(commit_count, '-') FROM push_events ORDER BY push_id";
  EXPECT_EQ(etltest::sql(db.conninfo(), pushes), sqliteColumn(sqlitePath, pushesLite));
  // Raw JSON is stored verbatim in both (jsonb normalises whitespace: compare as jsonb).
  EXPECT_EQ(db.count("SELECT count(*) FROM github_events WHERE raw ? 'payload'"),
            static_cast<int64_t>(distinct.size()));
  // Running again adds nothing.
  auto again = etltest::runEtlrun({"--once", yaml}, {{"GITHUB_API_URL", fake.baseUrl()},
                                                     {"ETL_DATABASE", db.uri()},
                                                     {"ETL_STATE_DIR", pgState.path()}});
  ASSERT_EQ(again.exitCode, 0) << again.err;
  EXPECT_EQ(db.count("SELECT count(*) FROM github_events"), static_cast<int64_t>(distinct.size()));
}

}  // namespace
