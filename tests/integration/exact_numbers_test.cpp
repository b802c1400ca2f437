// Numbers reach the database digit for digit: path columns beside a whole-record jsonb column
// (the records are then validated, parsed whole) keep 1.10, 1E+2 and a 30-digit integer as
// written, and a record with an integer beyond 64 bits or 1e400 (valid JSON) is stored, not
// dead-lettered as "invalid JSON". On PostgreSQL and on SQLite.
#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/Session.h>
#include <gtest/gtest.h>

#include "postgres_env.h"
#include "test_env.h"

namespace {

class ExactNumbers : public testing::TestWithParam<bool> {};

TEST_P(ExactNumbers, PathColumnsBesideAJsonbRecordKeepTheirDigits) {
  bool postgres = GetParam();
  etltest::TempDir dir;
  std::unique_ptr<etltest::TestDatabase> db;
  if (postgres) db = std::make_unique<etltest::TestDatabase>();
  std::string uri = postgres ? db->uri() : "sqlite:" + (dir / "n.sqlite");
  etltest::writeFile(dir / "in.jsonl",
                     "{\"id\":\"a\",\"v\":1.10}\n{\"id\":\"b\",\"v\":1E+2}\n"
                     "{\"id\":\"c\",\"v\":123456789012345678901234567890}\n"
                     "{\"id\":\"d\",\"v\":1e400}\n{\"id\":\"e\",\"v\":-0.000}\n");
  etltest::writeFile(
      dir / "p.yaml",
      "connections:\n  db: {uri: \"" + uri +
          "\"}\npipelines:\n  p:\n    source: {plugin: file, path: \"" + (dir / "in.jsonl") +
          "\", stream: n}\n    sink:\n      plugin: sql\n      connection: db\n"
          "      create: auto\n      tables:\n        numbers:\n          stream: n\n"
          "          key: [id]\n          columns:\n"
          "            id: {path: id, required: true}\n"
          "            v: {path: v, type: text}\n"
          "            raw: {value: record, type: jsonb}\n");
  auto run = etltest::runEtlrun({"--once", "--state-dir=" + (dir / "state"), dir / "p.yaml"});
  ASSERT_EQ(run.exitCode, 0) << run.err;
  std::vector<std::string> values;
  std::string query = "SELECT id || '=' || v FROM numbers ORDER BY id";
  if (postgres) {
    values = etltest::sql(db->conninfo(), query);
    EXPECT_EQ(db->count("SELECT count(*) FROM etl_dead_letters"), 0);
  } else {
    Poco::Data::SQLite::Connector::registerConnector();
    Poco::Data::Session session("SQLite", dir / "n.sqlite");
    session << query, Poco::Data::Keywords::into(values), Poco::Data::Keywords::now;
  }
  EXPECT_EQ(values,
            (std::vector<std::string>{"a=1.10", "b=1E+2", "c=123456789012345678901234567890",
                                      "d=1e400", "e=-0.000"}));
}

INSTANTIATE_TEST_SUITE_P(Backends, ExactNumbers, testing::Values(true, false),
                         [](const testing::TestParamInfo<bool>& info) {
                           return info.param ? "PostgreSQL" : "EmbeddedSQLite";
                         });

}  // namespace
