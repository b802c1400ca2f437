// `etlrun dead-letters` on a real PostgreSQL and MariaDB: rows a table refused are dead letters;
// after the fix (here: a constraint dropped), replay stores them through the pipeline's transforms
// and sink and removes the letters; a second replay finds nothing; list, show and purge with
// filters.
#include <Poco/File.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "backends.h"
#include "etl/record.h"
#include "event_generator.h"
#include "test_env.h"

namespace {

int lines(const std::string& text) {
  return static_cast<int>(std::count(text.begin(), text.end(), '\n'));
}

class DeadLetters : public testing::TestWithParam<etltest::Backend> {};

TEST_P(DeadLetters, ListShowReplayAfterAFixAndPurge) {
  etltest::TempDir dir;
  etltest::BackendDb db(GetParam(), "");
  const std::string hour =
      etltest::dataDir() + "/gharchive/gharchive_2021-07-21_hour06_200events.jsonl";
  int watches = 0, longNames = 0;
  for (const auto& line : etltest::readLines(hour)) {
    etl::Record r("e", line);
    if (r.get<std::string>("type") != "WatchEvent") continue;
    ++watches;
    longNames += r.get<std::string>("repo.name").size() >= 20 ? 1 : 0;
  }
  ASSERT_GT(longNames, 0);
  ASSERT_LT(longNames, watches);
  etltest::writeFile(dir / "input.jsonl", etltest::readFile(hour) + "{\"broken\n");
  Poco::File(dir / "migrations/postgresql").createDirectories();
  etltest::writeFile(dir / "migrations/postgresql/001_stars.sql",
                     "CREATE TABLE stars (event_id text PRIMARY KEY, "
                     "repo text NOT NULL CONSTRAINT short_names CHECK (length(repo) < 20), "
                     "raw jsonb NOT NULL);\n");
  Poco::File(dir / "migrations/mysql").createDirectories();
  etltest::writeFile(dir / "migrations/mysql/001_stars.sql",
                     "CREATE TABLE stars (event_id VARCHAR(64) PRIMARY KEY, "
                     "repo LONGTEXT NOT NULL, CONSTRAINT short_names CHECK "
                     "(CHAR_LENGTH(repo) < 20), raw JSON NOT NULL);\n");
  std::string yaml = dir / "p.yaml";
  etltest::writeFile(yaml, "connections:\n  db:\n    uri: \"" + db.uri() +
                               "\"\n    migrations: migrations\n"
                               "pipelines:\n  stars:\n    source: {plugin: file, path: \"" +
                               (dir / "input.jsonl") +
                               "\", stream: events}\n"
                               "    transforms: [{plugin: event_filter, match: {type: "
                               "[WatchEvent]}}]\n"
                               "    sink:\n      plugin: sql\n      connection: db\n"
                               "      tables:\n        stars:\n          stream: events\n"
                               "          key: [event_id]\n          columns:\n"
                               "            event_id: {path: id, required: true}\n"
                               "            repo: {path: repo.name, required: true}\n"
                               "            raw: {value: record, type: jsonb}\n");
  auto cli = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"--state-dir=" + (dir / "state"), "dead-letters", yaml});
    return etltest::runEtlrun(args);
  };
  ASSERT_EQ(etltest::runEtlrun({"--once", "--state-dir=" + (dir / "state"), yaml}).exitCode, 0);
  EXPECT_EQ(db.count("SELECT count(*) FROM stars"), watches - longNames);

  auto list = cli({"list"});
  ASSERT_EQ(list.exitCode, 0) << list.err;
  EXPECT_EQ(lines(list.out), longNames + 1) << list.out;  // + the broken line (event_filter)
  auto refused = cli({"list", "--reason=short_names"});
  EXPECT_EQ(lines(refused.out), longNames) << refused.out;
  std::string firstId = refused.out.substr(0, refused.out.find('\t'));
  auto show = cli({"show", firstId});
  EXPECT_NE(show.out.find("\"type\":\"WatchEvent\""), std::string::npos) << show.out;

  // An ID that is not a positive whole number is a usage error that touches nothing (read as 0, it
  // would mean "every letter"; -1 is also --once's short form).
  for (std::string bad : {"abc", "0", "", "-1", "-7", "1e3", "99999999999999999999", " 1"}) {
    for (std::string action : {"purge", "show", "replay"}) {
      auto r = cli({action, bad});
      EXPECT_EQ(r.exitCode, 64) << action << " '" << bad << "': " << r.out << r.err;
      EXPECT_NE(r.err.find("a dead-letter ID is a positive whole number"), std::string::npos)
          << r.err;
      EXPECT_EQ(r.out, "") << action << " '" << bad << "'";
    }
  }
  EXPECT_EQ(db.count("SELECT count(*) FROM etl_dead_letters"), longNames + 1);

  // Before the fix, a replay changes nothing.
  auto early = cli({"replay", "--reason=short_names"});
  ASSERT_EQ(early.exitCode, 0) << early.err;
  EXPECT_NE(early.out.find("replayed " + std::to_string(longNames) + ", stored and removed 0"),
            std::string::npos)
      << early.out;
  // The fix, then the replay: every refused star is stored, its letter gone.
  db.column("ALTER TABLE stars DROP CONSTRAINT short_names");
  auto replay = cli({"replay"});
  ASSERT_EQ(replay.exitCode, 0) << replay.err;
  EXPECT_NE(replay.out.find("stored and removed " + std::to_string(longNames) + ", still dead 1"),
            std::string::npos)
      << replay.out;
  EXPECT_EQ(db.count("SELECT count(*) FROM stars"), watches);
  EXPECT_EQ(lines(cli({"list", "--reason=short_names"}).out), 0);
  // Idempotent: again, nothing is stored twice.
  EXPECT_NE(cli({"replay"}).out.find("stored and removed 0"), std::string::npos);
  EXPECT_EQ(db.count("SELECT count(*) FROM stars"), watches);
  // Purge by filter; an unknown pipeline is a usage error.
  auto purge = cli({"purge", "--plugin=event_filter"});
  EXPECT_NE(purge.out.find("stars: purged 1"), std::string::npos) << purge.out << purge.err;
  EXPECT_EQ(db.count("SELECT count(*) FROM etl_dead_letters"), 0);
  EXPECT_EQ(cli({"list", "--pipeline=nope"}).exitCode, 64);
}

INSTANTIATE_TEST_SUITE_P(Backends, DeadLetters,
                         testing::Values(etltest::Backend::Postgres, etltest::Backend::Mariadb),
                         [](const auto& info) { return etltest::backendName(info.param); });

}  // namespace
