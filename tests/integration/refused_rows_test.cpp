// Rows PostgreSQL refuses for reasons beyond bad values and constraints: a key too large for its
// index (54000), a trigger that raises for one row (P0001), an array nested 100,000 deep for a
// jsonb column (54001). Each refused row is one dead letter with the server's reason; the rest of
// the batch is stored; the pipeline goes on (before, each stopped it with exit 70 on every start).
// A mistake in the mapping itself (a column the table lacks) still stops the pipeline: it is not
// any row's fault. MariaDB: a key longer than its column (1406), a trigger's SIGNAL (1644), JSON
// nested deeper than MariaDB takes (4025), a NUL byte in a text (stored whole, not cut).
#include <Poco/File.h>
#include <gtest/gtest.h>

#include <fstream>
#include <random>

#include "backends.h"
#include "mariadb_env.h"
#include "postgres_env.h"
#include "test_env.h"

namespace {

std::string pipeline(const std::string& uri, const std::string& input, const std::string& column) {
  return "connections:\n  db: {uri: \"" + uri +
         "\", migrations: migrations}\npipelines:\n  p:\n    source: {plugin: file, path: \"" +
         input +
         "\", stream: things}\n    sink:\n      plugin: sql\n      connection: db\n      tables:\n"
         "        things:\n          key: [id]\n          columns:\n"
         "            id: {path: id, required: true}\n            " +
         column + ": doc\n    batch: {max_records: 1000, max_latency: 1s}\n";
}

TEST(RefusedRows, EachIsOneDeadLetterAndTheRestIsStored) {
  etltest::TempDir dir;
  etltest::TestDatabase db;
  Poco::File(dir / "migrations/postgresql").createDirectories();
  etltest::writeFile(dir / "migrations/postgresql/001_things.sql",
                     "CREATE TABLE things (id text PRIMARY KEY, doc jsonb);\n"
                     "CREATE FUNCTION refuse_bad() RETURNS trigger LANGUAGE plpgsql AS $$\n"
                     "BEGIN\n  IF NEW.id = 'bad-trigger' THEN RAISE EXCEPTION 'no bad things';"
                     " END IF;\n  RETURN NEW;\nEND $$;\n"
                     "CREATE TRIGGER things_check BEFORE INSERT ON things FOR EACH ROW EXECUTE "
                     "FUNCTION refuse_bad();\n");
  // Random letters do not compress: a key of 10,000 of them cannot fit a btree index row.
  std::mt19937 random(7);
  std::string huge;
  for (int i = 0; i < 10000; ++i) huge += static_cast<char>('a' + random() % 26);
  std::string deep = std::string(100000, '[') + std::string(100000, ']');
  std::ofstream input(dir / "in.jsonl");
  int good = 0;
  for (int i = 0; i < 300; ++i) {
    if (i == 50) input << "{\"id\":\"" << huge << "\",\"doc\":{}}\n";
    if (i == 150) input << "{\"id\":\"bad-trigger\",\"doc\":{}}\n";
    if (i == 250) input << "{\"id\":\"deep\",\"doc\":" << deep << "}\n";
    input << "{\"id\":\"t" << i << "\",\"doc\":{\"n\":" << i << "}}\n";
    ++good;
  }
  input.close();
  etltest::writeFile(dir / "p.yaml", pipeline(db.uri(), dir / "in.jsonl", "doc"));
  auto run = etltest::runEtlrun({"--once", "--state-dir=" + (dir / "state"), dir / "p.yaml"});
  ASSERT_EQ(run.exitCode, 0) << run.err.substr(run.err.size() > 3000 ? run.err.size() - 3000 : 0);
  EXPECT_EQ(db.count("SELECT count(*) FROM things"), good);
  EXPECT_EQ(db.count("SELECT count(*) FROM etl_dead_letters"), 3);
  EXPECT_EQ(db.count("SELECT count(*) FROM etl_dead_letters WHERE reason LIKE '%index row%' AND "
                     "reason LIKE '%54000%'"),
            1);
  EXPECT_EQ(db.count("SELECT count(*) FROM etl_dead_letters WHERE reason LIKE '%no bad things%' "
                     "AND reason LIKE '%P0001%'"),
            1);
  // Nested deeper than any database's JSON type takes: refused before the database, the same way
  // on every one.
  EXPECT_EQ(db.count("SELECT count(*) FROM etl_dead_letters WHERE reason LIKE '%doc of things "
                     "(jsonb)%too deep%'"),
            1);
  // Started again: nothing more to do, nothing stored twice, no letter twice.
  auto again = etltest::runEtlrun({"--once", "--state-dir=" + (dir / "state"), dir / "p.yaml"});
  EXPECT_EQ(again.exitCode, 0) << again.err;
  EXPECT_EQ(db.count("SELECT count(*) FROM things"), good);
  EXPECT_EQ(db.count("SELECT count(*) FROM etl_dead_letters"), 3);
}

TEST(RefusedRows, OnMariaDbEachIsOneDeadLetterAndTheRestIsStored) {
  etltest::TempDir dir;
  etltest::TestMariaDb db;
  Poco::File(dir / "migrations/mysql").createDirectories();
  // The trigger's body holds a ';': a DELIMITER line keeps it one statement, as in the client.
  etltest::writeFile(dir / "migrations/mysql/001_things.sql",
                     "CREATE TABLE things (id VARCHAR(100) PRIMARY KEY, doc JSON, note LONGTEXT);\n"
                     "DELIMITER //\n"
                     "CREATE TRIGGER things_check BEFORE INSERT ON things FOR EACH ROW\n"
                     "IF NEW.id = 'bad-trigger' THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = "
                     "'no bad things'; END IF//\nDELIMITER ;\n");
  std::string deep = std::string(100, '[') + std::string(100, ']');
  std::ofstream input(dir / "in.jsonl");
  int good = 0;
  for (int i = 0; i < 300; ++i) {
    if (i == 50) input << "{\"id\":\"" << std::string(101, 'k') << "\",\"doc\":{}}\n";
    if (i == 150) input << "{\"id\":\"bad-trigger\",\"doc\":{}}\n";
    if (i == 250) input << "{\"id\":\"deep\",\"doc\":" << deep << "}\n";
    if (i == 100) input << "{\"id\":\"nul\",\"doc\":{},\"note\":\"a\\u0000b\"}\n";
    input << "{\"id\":\"t" << i << "\",\"doc\":{\"n\":" << i << "},\"note\":\"x\"}\n";
    ++good;
  }
  input.close();
  std::string yaml = pipeline(db.uri(), dir / "in.jsonl", "doc");
  yaml.insert(yaml.find("    batch:"), "            note: note\n");
  etltest::writeFile(dir / "p.yaml", yaml);
  auto run = etltest::runEtlrun({"--once", "--state-dir=" + (dir / "state"), dir / "p.yaml"});
  ASSERT_EQ(run.exitCode, 0) << run.err.substr(run.err.size() > 3000 ? run.err.size() - 3000 : 0);
  // A text holding a NUL byte is stored whole, or refused (a dead letter): never cut at the NUL.
  int64_t nulStored = db.count(
      "SELECT count(*) FROM things WHERE id = 'nul' AND note = "
      "CONCAT('a', CHAR(0), 'b') AND CHAR_LENGTH(note) = 3");
  int64_t nulRefused =
      db.count("SELECT count(*) FROM etl_dead_letters WHERE record LIKE '%\"nul\"%'");
  EXPECT_EQ(nulStored + nulRefused, 1);
  EXPECT_EQ(db.count("SELECT count(*) FROM things WHERE id = 'nul'"), nulStored);
  EXPECT_EQ(db.count("SELECT count(*) FROM things"), good + nulStored);
  EXPECT_EQ(db.count("SELECT count(*) FROM etl_dead_letters"), 3 + nulRefused) << run.err;
  // A key longer than its VARCHAR: refused by the sink's check of the table's own type, the same
  // way on every database (MariaDB would say 1406).
  EXPECT_EQ(db.count("SELECT count(*) FROM etl_dead_letters WHERE reason LIKE '%column id of "
                     "things (varchar(100))%longer than varchar(100) allows%'"),
            1);
  EXPECT_EQ(db.count("SELECT count(*) FROM etl_dead_letters WHERE reason LIKE '%no bad things%' "
                     "AND reason LIKE '%1644%'"),
            1);
  EXPECT_EQ(db.count("SELECT count(*) FROM etl_dead_letters WHERE reason LIKE '%4025%'"), 1);
  auto again = etltest::runEtlrun({"--once", "--state-dir=" + (dir / "state"), dir / "p.yaml"});
  EXPECT_EQ(again.exitCode, 0) << again.err;
  EXPECT_EQ(db.count("SELECT count(*) FROM things"), good + nulStored);
  EXPECT_EQ(db.count("SELECT count(*) FROM etl_dead_letters"), 3 + nulRefused);
}

// A mapping that names a column the table lacks is no row's fault: the pipeline stops.
class RefusedRowsMapping : public testing::TestWithParam<etltest::Backend> {};

TEST_P(RefusedRowsMapping, AMappingThatDoesNotFitTheTableStillStopsThePipeline) {
  etltest::TempDir dir;
  etltest::BackendDb db(GetParam(), dir / "unused.sqlite");
  bool mariadb = GetParam() == etltest::Backend::Mariadb;
  std::string folder = dir / (mariadb ? "migrations/mysql" : "migrations/postgresql");
  Poco::File(folder).createDirectories();
  etltest::writeFile(folder + "/001_things.sql",
                     mariadb ? "CREATE TABLE things (id VARCHAR(100) PRIMARY KEY, doc JSON);\n"
                             : "CREATE TABLE things (id text PRIMARY KEY, doc jsonb);\n");
  etltest::writeFile(dir / "in.jsonl", "{\"id\":\"a\",\"doc\":1}\n");
  etltest::writeFile(dir / "p.yaml", pipeline(db.uri(), dir / "in.jsonl", "no_such_column"));
  auto run = etltest::runEtlrun({"--once", "--state-dir=" + (dir / "state"), dir / "p.yaml"});
  EXPECT_NE(run.exitCode, 0) << run.err;
  EXPECT_NE(run.err.find("no_such_column"), std::string::npos) << run.err;
  EXPECT_EQ(db.count("SELECT count(*) FROM things"), 0);
}

INSTANTIATE_TEST_SUITE_P(Servers, RefusedRowsMapping,
                         testing::Values(etltest::Backend::Postgres, etltest::Backend::Mariadb),
                         [](const auto& info) { return etltest::backendName(info.param); });

}  // namespace
