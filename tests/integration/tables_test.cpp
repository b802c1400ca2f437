// Any stream into any table by YAML alone: the shipped pipelines/gharchive-activity.yaml stores GH
// Archive IssuesEvents (an upsert: each issue's latest state) and WatchEvents (an insert) into
// tables it creates itself, on PostgreSQL, the embedded SQLite file and MariaDB, exactly once under
// kill -9; a missing required value is a dead letter naming its path, a missing optional one NULL.
#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/Session.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <deque>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "backends.h"
#include "claim_queue.h"
#include "commit_order.h"
#include "database.h"
#include "etl/errors.h"
#include "etl/record.h"
#include "event_generator.h"
#include "list_query.h"
#include "postgres_env.h"
#include "shipped_pipelines.h"
#include "test_env.h"

namespace {

class Tables : public testing::TestWithParam<etltest::Backend> {
 protected:
  std::map<std::string, std::string> env(int batch) const {
    bool sqlite = GetParam() == etltest::Backend::Sqlite;
    return {{"GHARCHIVE_FILES", dir_ / "hours-*.json"},
            {"ETL_STATE_DIR", dir_ / "state"},
            {"ACTIVITY_BATCH", std::to_string(batch)},
            {sqlite ? "-ETL_DATABASE" : "ETL_DATABASE", sqlite ? "" : db_.uri()}};
  }
  std::string pipeline() const {
    return etltest::sourceDir() + "/pipelines/gharchive-activity.yaml";
  }
  std::vector<std::string> column(const std::string& statement) const {
    return db_.column(statement);
  }
  int64_t count(const std::string& statement) const { return std::stoll(column(statement).at(0)); }

  etltest::TempDir dir_;
  etltest::BackendDb db_{GetParam(), dir_ / "state/activity.sqlite"};
};

TEST_P(Tables, IssuesAndStarsByYamlAloneExactlyOnceUnderKillNine) {
  // Three "hours" of real recorded events with fresh ids; issues recur (upserts), and two
  // hostile IssuesEvents: one without the required issue id, one without the optional closed_at.
  auto templates = etltest::templateEvents(etltest::dataDir());
  uint64_t id = 40000000000;
  std::string noIssueId, noClosedAt;
  for (const auto& t : templates) {
    if (t.find("\"type\":\"IssuesEvent\"") == std::string::npos) continue;
    noIssueId = etltest::withUniqueIds(t, 39999999998);
    std::size_t at = noIssueId.find("\"id\":", noIssueId.find("\"issue\":"));
    noIssueId.replace(at, 5, "\"id_gone\":");
    noClosedAt = etltest::withUniqueIds(t, 39999999999);
    break;
  }
  ASSERT_FALSE(noIssueId.empty());
  for (int hour = 0; hour < 3; ++hour) {
    std::string lines = hour == 0 ? noIssueId + "\n" + noClosedAt + "\n" : "";
    for (int i = 0; i < 4000; ++i) {
      lines +=
          etltest::withUniqueIds(templates[static_cast<std::size_t>(i) % templates.size()], id++) +
          "\n";
    }
    etltest::writeFile(dir_ / ("hours-" + std::to_string(hour) + ".json"), lines);
  }
  // What a correct store holds, worked out independently of etlrun.
  std::map<std::string, std::string> lastEventOfIssue;  // issue id -> last event id, file order
  std::set<std::string> stars;
  for (int hour = 0; hour < 3; ++hour) {
    for (const auto& line :
         etltest::readLines(dir_ / ("hours-" + std::to_string(hour) + ".json"))) {
      etl::Record r("events", line);
      auto type = r.get<std::string>("type");
      if (type == "WatchEvent") stars.insert(r.get<std::string>("id"));
      if (type == "IssuesEvent" && r.has("payload.issue.id")) {
        lastEventOfIssue[*r.text("payload.issue.id")] = r.get<std::string>("id");
      }
    }
  }
  ASSERT_GT(stars.size(), 50u);
  ASSERT_GE(lastEventOfIssue.size(), 3u);

  unsigned seed = std::random_device{}();
  std::cout << "kill -9 times from seed " << seed << std::endl;
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 random(seed);
  for (int i = 0; i < 8; ++i) {
    int pid = etltest::startEtlrun({pipeline()}, dir_ / "out", dir_ / "err", env(150));
    std::this_thread::sleep_for(std::chrono::milliseconds(50 + random() % 300));
    ::kill(pid, SIGKILL);
    etltest::waitFor(pid);
  }
  auto last = etltest::runEtlrun({"--once", pipeline()}, env(150));
  ASSERT_EQ(last.exitCode, 0) << last.err;

  EXPECT_EQ(count("SELECT count(*) FROM stars"), static_cast<int64_t>(stars.size()));
  EXPECT_EQ(count("SELECT count(DISTINCT event_id) FROM stars"),
            static_cast<int64_t>(stars.size()));
  EXPECT_EQ(count("SELECT count(*) FROM issues"), static_cast<int64_t>(lastEventOfIssue.size()));
  for (const auto& [issue, event] : lastEventOfIssue) {
    EXPECT_EQ(column("SELECT last_event_id FROM issues WHERE issue_id = " + issue).at(0), event)
        << "issue " << issue << " does not hold its latest event";
  }
  // jsonb (or JSON text in SQLite) holds the whole event and the labels array.
  std::map<etltest::Backend, std::pair<const char*, const char*>> json{
      {etltest::Backend::Postgres,
       {"SELECT count(*) FROM stars WHERE event->>'id' = event_id AND "
        "event->>'type' = 'WatchEvent'",
        "SELECT count(*) FROM issues WHERE jsonb_typeof(labels) = 'array'"}},
      {etltest::Backend::Sqlite,
       {"SELECT count(*) FROM stars WHERE json_extract(event, '$.id') = "
        "event_id AND json_extract(event, '$.type') = 'WatchEvent'",
        "SELECT count(*) FROM issues WHERE json_type(labels) = 'array'"}},
      {etltest::Backend::Mariadb,
       {"SELECT count(*) FROM stars WHERE JSON_VALUE(event, '$.id') = event_id AND "
        "JSON_VALUE(event, '$.type') = 'WatchEvent'",
        "SELECT count(*) FROM issues WHERE JSON_TYPE(labels) = 'ARRAY'"}}};
  EXPECT_EQ(count(json[GetParam()].first), static_cast<int64_t>(stars.size()));
  EXPECT_EQ(count(json[GetParam()].second), static_cast<int64_t>(lastEventOfIssue.size()));
  // Optional and absent: NULL. Required and absent: a dead letter naming the path.
  EXPECT_GT(count("SELECT count(*) FROM issues WHERE closed_at IS NULL"), 0);
  EXPECT_EQ(count("SELECT count(*) FROM etl_dead_letters WHERE reason LIKE "
                  "'%payload.issue.id%missing%'"),
            1);
  auto again = etltest::runEtlrun({"--once", pipeline()}, env(150));
  ASSERT_EQ(again.exitCode, 0) << again.err;
  EXPECT_NE(again.err.find("3 already read (skipped)"), std::string::npos) << again.err;
  EXPECT_EQ(count("SELECT count(*) FROM stars"), static_cast<int64_t>(stars.size()));
}

INSTANTIATE_TEST_SUITE_P(Backends, Tables,
                         testing::Values(etltest::Backend::Postgres, etltest::Backend::Sqlite,
                                         etltest::Backend::Mariadb),
                         [](const auto& info) { return etltest::backendName(info.param); });

}  // namespace

namespace {

// Batch `seq` of `rows` (per table) written through the table writer, each row a unit of its own
// (its dead letter, if refused, named by table and row), then marked committed in `order`.
sql::WriteResult writeBatch(sql::Database& database, etl::CommitOrder& order, uint64_t seq,
                            const std::vector<std::vector<sql::Row>>& rows) {
  sql::Units units(rows.size());
  uint32_t unit = 0;
  for (std::size_t t = 0; t < rows.size(); ++t) {
    for (std::size_t r = 0; r < rows[t].size(); ++r) units[t].push_back(unit++);
  }
  etl::CommitOrder::Turn turn(order, seq);
  auto result = database.write(
      rows, units, {}, "test", sql::Checkpoint{},
      [](const std::vector<sql::Refusal>& refused) {
        sql::DeadLetterRow letter;
        letter.fingerprint =
            std::to_string(refused[0].table) + "/" + std::to_string(refused[0].row);
        letter.plugin = "test";
        letter.reason = refused[0].reason;
        letter.record = "{}";
        return letter;
      },
      turn);
  order.committed(seq);
  return result;
}

// A queue table (`columns`, keyed by id) made by the sink's writer (create: auto) and filled
// with `rows`, one unit each.
void fillQueue(const std::string& uri, const std::string& table,
               const std::vector<sql::Column>& columns, const std::vector<sql::Row>& rows) {
  sql::DatabaseOptions options;
  options.uri = uri;
  options.createTables = true;
  sql::TableSpec spec;
  spec.name = table;
  spec.key = {"id"};
  spec.columns = columns;
  options.tables = {spec};
  auto database = sql::makeDatabase(options, Poco::Logger::get("test"));
  etl::CommitOrder order;
  writeBatch(*database, order, 1, {rows});
}

class ClaimQueue : public testing::TestWithParam<etltest::Backend> {};

// Two claimers on one queue table at once never get the same row; a claim older than the lease
// is taken back; a final failure (ready status, no due time) is never claimed again.
TEST_P(ClaimQueue, ConcurrentClaimersShareNothingAndLeasesExpire) {
  etltest::TempDir dir;
  etltest::BackendDb db(GetParam(), dir / "queue.sqlite");
  std::string uri = db.uri();  // sqlite: the file queue.sqlite
  std::vector<sql::Row> rows;
  std::deque<std::string> texts;
  for (int i = 1; i <= 400; ++i) {
    texts.push_back(std::to_string(i));
    std::string_view id = texts.back();
    bool finalFailure = i % 100 == 0;  // failed, with no due time: never again
    rows.push_back({id, finalFailure ? "failed" : "pending", std::nullopt, std::nullopt, "x"});
  }
  fillQueue(uri, "jobs",
            {{"id", "bigint"},
             {"status", "text"},
             {"due_at", "text"},
             {"claimed_at", "text"},
             {"payload", "text"}},
            rows);

  sql::ClaimSpec spec{"jobs",        "id",     {"id", "payload"}, "status", {"pending", "failed"},
                      "in_progress", "due_at", "claimed_at"};
  std::vector<std::vector<std::string>> claimed(2);
  std::vector<std::thread> claimers;
  for (int c = 0; c < 2; ++c) {
    claimers.emplace_back([&, c] {
      auto queue = sql::makeClaimQueue(uri, dir.path(), spec, Poco::Logger::get("test"));
      for (int round = 0; round < 50; ++round) {
        for (auto& json : queue->claim("2026-01-01T00:00:00.000Z", "2025-12-31T23:55:00.000Z", 7)) {
          claimed[c].push_back(*etl::Record("c", json).text("id"));
        }
      }
    });
  }
  for (auto& t : claimers) t.join();
  std::set<std::string> all;
  for (const auto& list : claimed) {
    for (const auto& id : list) EXPECT_TRUE(all.insert(id).second) << "row " << id << " twice";
  }
  EXPECT_EQ(all.size(), 396u) << "every due row once, final failures never";
  auto queue = sql::makeClaimQueue(uri, dir.path(), spec, Poco::Logger::get("test"));
  EXPECT_EQ(queue->counts()["in_progress"], 396);
  // Within the lease nothing comes back; after it, every claim of a dead claimer does.
  EXPECT_TRUE(queue->claim("2026-01-01T00:01:00.000Z", "2025-12-31T23:56:00.000Z", 1000).empty());
  EXPECT_EQ(queue->claim("2026-01-01T00:10:00.000Z", "2026-01-01T00:05:00.000Z", 1000).size(),
            396u);
}

// Claimed rows come by key, as the claim chose them: numerically for integer keys (negative ones
// too), as text otherwise; and on MariaDB as well, whose claim is three statements.
TEST_P(ClaimQueue, ClaimedRowsComeInKeyOrder) {
  etltest::TempDir dir;
  etltest::BackendDb db(GetParam(), dir / "queue.sqlite");
  std::string uri = db.uri();  // sqlite: the file queue.sqlite
  auto claimedIds = [&](const std::string& table, const std::string& keyType,
                        const std::vector<std::string>& keys) {
    std::vector<sql::Row> rows;
    for (const auto& k : keys) rows.push_back({std::string_view(k), "pending", std::nullopt});
    fillQueue(uri, table, {{"id", keyType}, {"status", "text"}, {"claimed_at", "text"}}, rows);
    sql::ClaimSpec spec{table, "id", {"id"}, "status", {"pending"}, "claimed", "", "claimed_at"};
    auto queue = sql::makeClaimQueue(uri, dir.path(), spec, Poco::Logger::get("test"));
    EXPECT_TRUE(queue->claim("2026-01-01T00:00:00.000Z", "2025-12-31T23:55:00.000Z", 0).empty());
    std::vector<std::string> ids;
    for (auto& json : queue->claim("2026-01-01T00:00:00.000Z", "2025-12-31T23:55:00.000Z", 10)) {
      etl::Record r("c", json);
      ids.push_back(keyType == "bigint" ? std::to_string(r.get<int64_t>("id")) : *r.text("id"));
    }
    return ids;
  };
  EXPECT_EQ(claimedIds("numbered", "bigint", {"20", "-5", "3", "-10"}),
            (std::vector<std::string>{"-10", "-5", "3", "20"}));
  EXPECT_EQ(claimedIds("named", "text", {"b", "aa", "ab"}),
            (std::vector<std::string>{"aa", "ab", "b"}));
}

// A claim larger than a prepared statement's 65,535 values (MySQL's limit on ?) is one claim.
TEST_P(ClaimQueue, AClaimOfSeventyThousandRowsIsOneClaim) {
  etltest::TempDir dir;
  etltest::BackendDb db(GetParam(), dir / "queue.sqlite");
  std::string uri = db.uri();  // sqlite: the file queue.sqlite
  std::deque<std::string> texts;
  std::vector<sql::Row> rows;
  for (int i = 1; i <= 70000; ++i) {
    texts.push_back(std::to_string(i));
    rows.push_back({std::string_view(texts.back()), "pending", std::nullopt});
  }
  fillQueue(uri, "jobs", {{"id", "bigint"}, {"status", "text"}, {"claimed_at", "text"}}, rows);
  sql::ClaimSpec spec{"jobs", "id", {"id"}, "status", {"pending"}, "claimed", "", "claimed_at"};
  auto queue = sql::makeClaimQueue(uri, dir.path(), spec, Poco::Logger::get("test"));
  auto claimed = queue->claim("2026-01-01T00:00:00.000Z", "2025-12-31T23:55:00.000Z", 100000);
  ASSERT_EQ(claimed.size(), 70000u);
  EXPECT_EQ(etl::Record("c", claimed.front()).get<int64_t>("id"), 1);
  EXPECT_EQ(etl::Record("c", claimed.back()).get<int64_t>("id"), 70000);
  EXPECT_EQ(queue->counts()["claimed"], 70000);
}

// A watch list's query may set things up first: on PostgreSQL, statements without values go by
// the simple protocol, which takes several and returns the last one's rows.
TEST(ListQuery, APostgresQueryMayHoldSeveralStatements) {
  etltest::TestDatabase db;
  auto query = sql::makeListQuery(db.uri(), "", "SET search_path TO public; SELECT 'octo/cat'",
                                  Poco::Logger::get("test"), std::chrono::seconds(10));
  EXPECT_EQ(query->run(), std::vector<std::string>{"octo/cat"});
}

// A query given up on at its answer timeout does not run on: the server ends it a second later
// (statement_timeout), where without that a slow query kept loading it until it finished.
TEST(ListQuery, AQueryGivenUpOnIsEndedByTheServerToo) {
  etltest::TestDatabase db;
  auto query = sql::makeListQuery(db.uri(), "", "SELECT pg_sleep(8)::text",
                                  Poco::Logger::get("test"), std::chrono::seconds(1));
  auto start = std::chrono::steady_clock::now();
  EXPECT_THROW(query->run(), etl::RetryableError);
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 3);
  auto running = [&] {
    return etltest::sqlCount(db.conninfo(),
                             "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND "
                             "query = 'SELECT pg_sleep(8)::text'");
  };
  EXPECT_TRUE(etltest::waitUntil([&] { return running() == 0; }, 4))
      << "the query given up on still ran on the server";
}

// A table named with its schema (PostgreSQL's analytics.events, a MariaDB database's table,
// SQLite's main.events) in every mode, in bulk and row by row: upsert keeping a stored value where
// the new one is NULL, update, and rows the database refuses as dead letters.
class QualifiedTable : public testing::TestWithParam<etltest::Backend> {};

TEST_P(QualifiedTable, EachModeWritesATableNamedWithItsSchema) {
  etltest::TempDir dir;
  etltest::BackendDb db(GetParam(), dir / "q.sqlite");
  std::string schema = "main";
  if (GetParam() == etltest::Backend::Postgres) {
    schema = "analytics";
    db.column("CREATE SCHEMA analytics");
  } else if (GetParam() == etltest::Backend::Mariadb) {
    schema = "analytics_" + std::to_string(::getpid());
    db.column("DROP DATABASE IF EXISTS " + schema);
    db.column("CREATE DATABASE " + schema);
  }
  std::string table = schema + ".events";
  sql::DatabaseOptions options;
  options.uri = db.uri();
  options.createTables = true;
  sql::TableSpec upsert{table,
                        {{"id", "bigint"}, {"name", "text"}, {"note", "text", true, true}},
                        {"id"},
                        sql::Mode::Upsert};
  sql::TableSpec update{table, {{"id", "bigint"}, {"name", "text"}}, {"id"}, sql::Mode::Update};
  options.tables = {upsert, update};
  auto database = sql::makeDatabase(options, Poco::Logger::get("test"));
  etl::CommitOrder order;
  uint64_t batch = 0;
  auto write = [&](std::vector<sql::Row> upserts, std::vector<sql::Row> updates) {
    return writeBatch(*database, order, ++batch, {upserts, updates}).refused.size();
  };
  // Row by row: "abc" is no bigint for any of the three.
  EXPECT_EQ(write({{"1", "a", "n1"}, {"2", "b", std::nullopt}, {"abc", "bad", "x"}}, {}), 1u);
  EXPECT_EQ(write({{"1", "a2", std::nullopt}, {"abc", "bad", std::nullopt}},
                  {{"2", "b2"}, {"3", "nobody"}}),
            1u);
  EXPECT_EQ(write({}, {{"1", "a3"}}), 0u);  // in bulk (PostgreSQL: the staged merge)
  EXPECT_EQ(db.column("SELECT id || ':' || name || ':' || coalesce(note, '-') FROM " + table +
                      " ORDER BY id"),
            (std::vector<std::string>{"1:a3:n1", "2:b2:-"}));
  if (GetParam() == etltest::Backend::Mariadb) db.column("DROP DATABASE " + schema);
}

INSTANTIATE_TEST_SUITE_P(Backends, QualifiedTable,
                         testing::Values(etltest::Backend::Postgres, etltest::Backend::Sqlite,
                                         etltest::Backend::Mariadb),
                         [](const auto& info) { return etltest::backendName(info.param); });

INSTANTIATE_TEST_SUITE_P(Backends, ClaimQueue,
                         testing::Values(etltest::Backend::Postgres, etltest::Backend::Sqlite,
                                         etltest::Backend::Mariadb),
                         [](const auto& info) { return etltest::backendName(info.param); });

}  // namespace
