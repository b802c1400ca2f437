// What the sql sink checks of a PostgreSQL schema at start, before it stores anything: a declared
// key must be a unique constraint of the table (else COPY would keep every duplicate), and a
// migration must not begin or end a transaction itself (its COMMIT would keep half of it and the
// rest would run again at the next start); one marked "-- etlrun: no-transaction" runs statement
// by statement, which CREATE INDEX CONCURRENTLY needs. Function bodies ($$ ... BEGIN ... END $$)
// are not transaction control.
#include <Poco/File.h>
#include <gtest/gtest.h>

#include "postgres_env.h"
#include "test_env.h"

namespace {

struct Schema : testing::Test {
  etltest::TempDir dir;
  etltest::TestDatabase db;

  etltest::ProcessResult run(const std::string& migration, const std::string& key) {
    Poco::File(dir / "migrations/postgresql").createDirectories();
    etltest::writeFile(dir / "migrations/postgresql/001_things.sql", migration);
    etltest::writeFile(dir / "in.jsonl", "{\"id\":\"a\",\"v\":1}\n{\"id\":\"a\",\"v\":2}\n");
    etltest::writeFile(dir / "p.yaml",
                       "connections:\n  db: {uri: \"" + db.uri() +
                           "\", migrations: migrations}\npipelines:\n  p:\n    source: {plugin: "
                           "file, path: \"" +
                           (dir / "in.jsonl") +
                           "\", stream: things}\n    sink:\n      plugin: sql\n      connection: "
                           "db\n      tables:\n        things:\n          key: [" +
                           key + "]\n          columns: {id: id, v: v}\n");
    return etltest::runEtlrun({"--once", "--state-dir=" + (dir / "state"), dir / "p.yaml"});
  }
};

TEST_F(Schema, AKeyWithoutAUniqueConstraintStopsBeforeAnythingIsStored) {
  auto r = run("CREATE TABLE things (id text, v int);\n", "id");
  EXPECT_EQ(r.exitCode, 70) << r.err;
  EXPECT_NE(r.err.find("table things in"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("has no unique constraint on its key (\"id\")"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("ALTER TABLE \"things\" ADD UNIQUE (\"id\")"), std::string::npos) << r.err;
  EXPECT_EQ(db.count("SELECT count(*) FROM things"), 0);
}

TEST_F(Schema, AKeyCoveredByAUniqueIndexIsEnough) {
  auto r =
      run("CREATE TABLE things (id text, v int);\nCREATE UNIQUE INDEX things_id ON things (id);\n",
          "id");
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(db.count("SELECT count(*) FROM things"), 1);
}

TEST_F(Schema, AMigrationThatCommitsItselfIsRefusedNamingItsLine) {
  auto r = run(
      "CREATE TABLE things (id text PRIMARY KEY, v int);\nCOMMIT;\nCREATE TABLE more (x int);\n",
      "id");
  EXPECT_EQ(r.exitCode, 70) << r.err;
  EXPECT_NE(r.err.find("001_things.sql:2: COMMIT: each migration runs in a transaction of its own"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(db.count("SELECT count(*) FROM pg_tables WHERE tablename IN ('things', 'more')"), 0);
}

TEST_F(Schema, ANoTransactionMigrationRunsConcurrentIndexesAndFunctionBodiesAreNotControl) {
  auto r = run(
      "-- etlrun: no-transaction\n"
      "CREATE TABLE IF NOT EXISTS things (id text PRIMARY KEY, v int);\n"
      "CREATE OR REPLACE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $body$\n"
      "BEGIN\n  NEW.v := NEW.v + 0; -- a comment; with a semicolon\n  RETURN NEW;\nEND;\n$body$;\n"
      "/* BEGIN; in a comment */\n"
      "CREATE INDEX CONCURRENTLY IF NOT EXISTS things_v ON things (v);\n",
      "id");
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(db.count("SELECT count(*) FROM pg_indexes WHERE indexname = 'things_v'"), 1);
  EXPECT_EQ(db.count("SELECT count(*) FROM etl_schema_migrations"), 1);
}

}  // namespace

namespace {

// The embedded store runs its migrations in one transaction as well: COMMIT in a file is refused
// the same way, while a trigger's BEGIN ... END body is not transaction control.
TEST(SqliteSchema, AMigrationThatCommitsItselfIsRefusedAndTriggerBodiesAreNot) {
  etltest::TempDir dir;
  Poco::File(dir / "migrations/sqlite").createDirectories();
  etltest::writeFile(dir / "in.jsonl", "{\"id\":\"a\",\"v\":1}\n");
  auto run = [&](const std::string& migration) {
    etltest::writeFile(dir / "migrations/sqlite/001_things.sql", migration);
    etltest::writeFile(dir / "p.yaml",
                       "connections:\n  db: {uri: \"sqlite:" + (dir / "s.sqlite") +
                           "\", migrations: migrations}\npipelines:\n  p:\n    source: {plugin: "
                           "file, path: \"" +
                           (dir / "in.jsonl") +
                           "\", stream: things}\n    sink:\n      plugin: sql\n      connection: "
                           "db\n      tables:\n        things:\n          key: [id]\n"
                           "          columns: {id: id, v: v}\n");
    return etltest::runEtlrun({"--once", "--state-dir=" + (dir / "state"), dir / "p.yaml"});
  };
  auto refused = run("CREATE TABLE things (id TEXT PRIMARY KEY, v INTEGER);\nCOMMIT;\n");
  EXPECT_EQ(refused.exitCode, 70) << refused.err;
  EXPECT_NE(refused.err.find("001_things.sql:2: COMMIT: each migration runs in a transaction"),
            std::string::npos)
      << refused.err;
  auto fine =
      run("CREATE TABLE things (id TEXT PRIMARY KEY, v INTEGER, seen INTEGER);\n"
          "CREATE TRIGGER things_seen AFTER INSERT ON things BEGIN\n"
          "  UPDATE things SET seen = 1 WHERE id = NEW.id;\nEND;\n");
  EXPECT_EQ(fine.exitCode, 0) << fine.err;
}

}  // namespace
