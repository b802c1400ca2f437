// Why PostgreSQL and SQLite stay on their native APIs (libpq, SQLite's C API) where MariaDB is on
// Poco::Data: the same rows (GH Archive-like events: the id as key, the whole event as JSON) stored
// in batches of 5,000, one transaction each, in the same run,
//  - by etlrun's table writer (sql::makeDatabase, Database::write: COPY on PostgreSQL, a prepared
//    statement on SQLite), and
//  - by Poco::Data's connector for that database, its best bulk form: one prepared INSERT ... ON
//    CONFLICT DO NOTHING bound to vectors of the batch's values (Poco runs it once per row);
//  - SQLite also by the form a Session on Poco::Data would take for etlrun's row path (rows one at
//    a time, as the row-by-row fallback and the dead letters need): one Poco::Data::Statement
//    bound to two strings, re-executed per row.
//   scripts/with-postgres.sh build/bench/bench_poco_data [events=100000]
#include <Poco/Data/PostgreSQL/Connector.h>
#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/Session.h>
#include <Poco/Data/Transaction.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "database.h"
#include "etl/batch.h"
#include "etl/record.h"
#include "event_generator.h"
#include "postgres_env.h"
#include "test_env.h"

namespace {

using Clock = std::chrono::steady_clock;
using namespace Poco::Data::Keywords;

constexpr std::size_t kBatch = 5000;

double since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

struct Rows {
  std::vector<std::string> ids, raws;
};

// Batches commit one after the other here: each is at once its turn.
struct Immediate : etl::CommitTurn {
  bool wait(const Blocking&) override { return true; }
  void hold(std::string) override {}
};

Poco::Logger& logger() {
  return Poco::Logger::get("bench");
}

// etlrun's table writer, batch by batch.
double etlrunWrite(const std::string& uri, const std::string& stateDir, const Rows& rows) {
  sql::DatabaseOptions options;
  options.uri = uri;
  options.stateDir = stateDir;
  options.createTables = true;
  sql::TableSpec table;
  table.name = "events";
  table.columns = {{"id", "text"}, {"raw", "jsonb"}};
  table.key = {"id"};
  options.tables = {table};
  auto db = sql::makeDatabase(options, logger());
  db->open();
  Immediate turn;
  auto start = Clock::now();
  for (std::size_t from = 0; from < rows.ids.size(); from += kBatch) {
    std::vector<std::vector<sql::Row>> batch(1);
    sql::Units units(1);
    for (std::size_t i = from; i < rows.ids.size() && i < from + kBatch; ++i) {
      batch[0].push_back({std::string_view(rows.ids[i]), std::string_view(rows.raws[i])});
      units[0].push_back(static_cast<uint32_t>(i - from));
    }
    sql::Checkpoint checkpoint;
    checkpoint.writes.push_back({"", "{\"at\":" + std::to_string(from) + "}", false, {}});
    db->write(
        batch, units, {}, "bench", checkpoint,
        [](const std::vector<sql::Refusal>&) { return sql::DeadLetterRow{}; }, turn);
  }
  return since(start);
}

// Poco::Data: a prepared INSERT bound to the batch's vectors, in one transaction per batch.
double pocoWrite(Poco::Data::Session& session, const std::string& insert, const Rows& rows) {
  auto start = Clock::now();
  for (std::size_t from = 0; from < rows.ids.size(); from += kBatch) {
    std::size_t to = std::min(rows.ids.size(), from + kBatch);
    std::vector<std::string> ids(rows.ids.begin() + static_cast<std::ptrdiff_t>(from),
                                 rows.ids.begin() + static_cast<std::ptrdiff_t>(to));
    std::vector<std::string> raws(rows.raws.begin() + static_cast<std::ptrdiff_t>(from),
                                  rows.raws.begin() + static_cast<std::ptrdiff_t>(to));
    Poco::Data::Transaction transaction(session);
    session << insert, use(ids), use(raws), now;
    transaction.commit();
  }
  return since(start);
}

// Poco::Data, one statement re-executed per row with the row's values copied into its bindings.
double pocoRowByRow(Poco::Data::Session& session, const std::string& insert, const Rows& rows) {
  std::string id, raw;
  Poco::Data::Statement statement = (session << insert, use(id), use(raw));
  auto start = Clock::now();
  for (std::size_t from = 0; from < rows.ids.size(); from += kBatch) {
    Poco::Data::Transaction transaction(session);
    for (std::size_t i = from; i < rows.ids.size() && i < from + kBatch; ++i) {
      id = rows.ids[i];
      raw = rows.raws[i];
      statement.execute();
    }
    transaction.commit();
  }
  return since(start);
}

void line(const char* database, const char* how, double seconds, std::size_t rows) {
  std::printf("%-11s %-58s %7.2f s %9.0f rows/s\n", database, how, seconds,
              static_cast<double>(rows) / seconds);
}

}  // namespace

int run(int argc, char** argv);

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const Poco::Exception& e) {
    std::cerr << e.displayText() << "\n";
  } catch (const std::exception& e) {
    std::cerr << e.what() << "\n";
  }
  return 1;
}

int run(int argc, char** argv) {
  std::size_t events = argc > 1 ? std::stoul(argv[1]) : 100000;
  etltest::TempDir dir;
  auto templates = etltest::templateEvents(etltest::dataDir());
  etltest::writeEvents(templates, events, 80000000000, dir / "events.jsonl");
  Rows rows;
  for (const auto& text : etltest::readLines(dir / "events.jsonl")) {
    etl::Record record("e", text);
    rows.ids.push_back(record.get<std::string>("id"));
    rows.raws.push_back(text);
  }
  std::printf("%zu events in batches of %zu, one transaction each\n\n", rows.ids.size(), kBatch);
  Poco::Data::PostgreSQL::Connector::registerConnector();
  Poco::Data::SQLite::Connector::registerConnector();

  // SQLite, in one file each.
  double native = etlrunWrite("sqlite:etlrun.sqlite", dir.path(), rows);
  const char* insert = "INSERT INTO events (id, raw) VALUES (?, ?) ON CONFLICT DO NOTHING";
  auto pocoSqlite = [&](const char* file, auto write) {
    Poco::Data::Session session("SQLite", dir / file);
    session << "PRAGMA journal_mode=WAL", now;
    session << "PRAGMA synchronous=FULL", now;
    session << "CREATE TABLE events (id TEXT PRIMARY KEY, raw TEXT) STRICT", now;
    return write(session, insert, rows);
  };
  double poco = pocoSqlite("poco.sqlite", pocoWrite);
  double pocoRows = pocoSqlite("poco-rows.sqlite", pocoRowByRow);
  line("SQLite", "etlrun (C API, one prepared statement)", native, rows.ids.size());
  line("SQLite", "Poco::Data SQLite (vectors bound to one INSERT)", poco, rows.ids.size());
  line("SQLite", "Poco::Data SQLite (one statement re-executed per row)", pocoRows,
       rows.ids.size());
  std::printf("SQLite: Poco::Data / etlrun = %.2f (vectors), %.2f (per row) (time)\n\n",
              poco / native, pocoRows / native);

  if (!std::getenv("ETLTEST_PG")) {
    std::cerr << "PostgreSQL skipped: run it as scripts/with-postgres.sh " << argv[0] << "\n";
    return 0;
  }
  etltest::TestDatabase mine, theirs;
  native = etlrunWrite(mine.uri(), dir.path(), rows);
  {
    Poco::Data::Session session("PostgreSQL", theirs.conninfo());
    session << "CREATE TABLE events (id text PRIMARY KEY, raw jsonb)", now;
    poco = pocoWrite(session,
                     "INSERT INTO events (id, raw) VALUES ($1, $2::jsonb) ON CONFLICT DO NOTHING",
                     rows);
  }
  line("PostgreSQL", "etlrun (libpq COPY)", native, rows.ids.size());
  line("PostgreSQL", "Poco::Data PostgreSQL (vectors bound to one INSERT)", poco, rows.ids.size());
  std::printf("PostgreSQL: Poco::Data / etlrun = %.2f (time)\n", poco / native);
  return 0;
}
