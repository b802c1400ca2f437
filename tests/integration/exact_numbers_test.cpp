// Numbers reach the database digit for digit: path columns beside a whole-record jsonb column
// (the records are then validated, parsed whole) keep 1.10, 1E+2 and a 30-digit integer as
// written, and a record with an integer beyond 64 bits or 1e400 (valid JSON) is stored, not
// dead-lettered as "invalid JSON". On PostgreSQL, SQLite and MariaDB.
#include <gtest/gtest.h>

#include "backends.h"
#include "test_env.h"

namespace {

using etltest::Backend;

class ExactNumbers : public testing::TestWithParam<Backend> {};

TEST_P(ExactNumbers, PathColumnsBesideAJsonbRecordKeepTheirDigits) {
  etltest::TempDir dir;
  etltest::BackendDb db(GetParam(), dir / "n.sqlite");
  std::string uri = db.uri();
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
  std::vector<std::string> values = db.column("SELECT id || '=' || v FROM numbers ORDER BY id");
  EXPECT_EQ(db.count("SELECT count(*) FROM etl_dead_letters"), 0);
  EXPECT_EQ(values,
            (std::vector<std::string>{"a=1.10", "b=1E+2", "c=123456789012345678901234567890",
                                      "d=1e400", "e=-0.000"}));
}

INSTANTIATE_TEST_SUITE_P(Backends, ExactNumbers,
                         testing::Values(Backend::Postgres, Backend::Sqlite, Backend::Mariadb),
                         [](const auto& info) { return etltest::backendName(info.param); });

}  // namespace
