// PostgreSQL's notices reach etlrun's log, never stderr on their own: libpq prints them there by
// default ("NOTICE:  relation ... already exists, skipping" on every start), past the logger's
// format and level. A migration's RAISE NOTICE is information; what IF NOT EXISTS says each start
// is debug.
#include <Poco/File.h>
#include <gtest/gtest.h>

#include <sstream>

#include "postgres_env.h"
#include "test_env.h"

namespace {

// The lines libpq would have printed itself ("NOTICE:  ...", "WARNING:  ...").
std::string rawNotices(const std::string& err) {
  std::istringstream lines(err);
  std::string found;
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("NOTICE:", 0) == 0 || line.rfind("WARNING:", 0) == 0) found += line + "\n";
  }
  return found;
}

TEST(PgNotices, GoToThePluginsLoggerAtTheirLevel) {
  etltest::TempDir dir;
  etltest::TestDatabase db;
  Poco::File(dir / "migrations/postgresql").createDirectories();
  etltest::writeFile(dir / "migrations/postgresql/001_things.sql",
                     "CREATE TABLE things (id text PRIMARY KEY);\n"
                     "DO $$ BEGIN RAISE NOTICE 'hello from a migration'; END $$;\n");
  etltest::writeFile(dir / "in.jsonl", "{\"id\":\"a\"}\n");
  etltest::writeFile(dir / "p.yaml",
                     "connections:\n  db: {uri: \"" + db.uri() +
                         "\", migrations: migrations}\npipelines:\n  p:\n    source: {plugin: "
                         "file, path: \"" +
                         (dir / "in.jsonl") +
                         "\", stream: things}\n    sink:\n      plugin: sql\n      connection: "
                         "db\n      tables:\n        things:\n          key: [id]\n"
                         "          columns: {id: id}\n");
  auto run = [&](const std::string& level) {
    return etltest::runEtlrun(
        {"--once", "--log-level=" + level, "--state-dir=" + (dir / "state"), dir / "p.yaml"});
  };
  auto first = run("information");
  ASSERT_EQ(first.exitCode, 0) << first.err;
  EXPECT_EQ(rawNotices(first.err), "") << first.err;
  EXPECT_NE(first.err.find("Information [p.sql] PostgreSQL NOTICE 00000: hello from a migration\n"),
            std::string::npos)
      << first.err;
  // Started again, the schema is checked again: CREATE TABLE IF NOT EXISTS of the tables the
  // sink keeps says each exists. Noise: debug only.
  auto again = run("debug");
  ASSERT_EQ(again.exitCode, 0) << again.err;
  EXPECT_EQ(rawNotices(again.err), "") << again.err;
  EXPECT_NE(again.err.find("Debug [p.sql] PostgreSQL NOTICE 42P07: relation "
                           "\"etl_checkpoints\" already exists, skipping\n"),
            std::string::npos)
      << again.err;
  auto quiet = run("information");
  ASSERT_EQ(quiet.exitCode, 0) << quiet.err;
  EXPECT_EQ(quiet.err.find("already exists"), std::string::npos) << quiet.err;
}

}  // namespace
