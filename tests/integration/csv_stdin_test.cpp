// The file source's other inputs through the real etlrun: standard input (a pipe read once, no
// checkpoint) and CSV rows that span lines, stored exactly once across kill -9. The rules of a
// single row are declarative cases (tests/declarative/csv_*).
#include <gtest/gtest.h>
#include <signal.h>

#include <iostream>
#include <random>

#include "event_generator.h"
#include "postgres_env.h"
#include "test_env.h"

namespace {

// `zcat` of two GH Archive hours into etlrun: every event stored; the same input again stores
// nothing twice (the table's key), and no checkpoint of the pipe is kept.
TEST(Stdin, ZcatOfTwoHoursIsStoredAndAPipeKeepsNoCheckpoint) {
  etltest::TempDir dir;
  etltest::TestDatabase db;
  auto templates = etltest::templateEvents(etltest::dataDir());
  etltest::writeEvents(templates, 300, 1000, dir / "2021-07-21-5.json");
  etltest::writeEvents(templates, 200, 5000, dir / "2021-07-21-6.json");
  ASSERT_EQ(
      std::system(
          ("gzip -f " + (dir / "2021-07-21-5.json") + " " + (dir / "2021-07-21-6.json")).c_str()),
      0);
  etltest::writeFile(dir / "p.yaml",
                     "pipelines:\n  pipe:\n    source: {plugin: file, path: \"-\"}\n"
                     "    sink:\n      plugin: sql\n      connection: \"" +
                         db.uri() +
                         "\"\n      create: auto\n      tables:\n"
                         "        events: {stream: events, key: [id], columns: {id: id, type: "
                         "type}}\n");
  std::string command = "zcat " + (dir / "2021-07-21-5.json.gz") + " " +
                        (dir / "2021-07-21-6.json.gz") + " | " + etltest::etlrunBinary() +
                        " --once --plugin-path=" + etltest::pluginDir() +
                        " --state-dir=" + (dir / "state") + " " + (dir / "p.yaml");
  for (int run = 0; run < 2; ++run) {
    auto result = etltest::runProcess("/bin/bash", {"-c", command});
    ASSERT_EQ(result.exitCode, 0) << result.err;
    EXPECT_NE(result.err.find("reading standard input"), std::string::npos) << result.err;
    EXPECT_EQ(result.err.find("already read"), std::string::npos) << result.err;
    EXPECT_EQ(db.count("SELECT count(*) FROM events"), 500);
  }
  EXPECT_EQ(db.count("SELECT count(*) FROM etl_checkpoints"), 0) << "a pipe has no position";
}

// CSV rows with quoted commas and line breaks, into a keyless table, killed (-9) while loading and
// started again: each row stored once. A restart inside the file reads its header anew.
TEST(Csv, RowsSpanningLinesAreStoredExactlyOnceAcrossKillNine) {
  etltest::TempDir dir;
  etltest::TestDatabase db;
  const int rows = 200000;
  std::string csv = "id,name,note\n";
  for (int i = 0; i < rows; ++i) {
    csv +=
        std::to_string(i) + ",\"Name, " + std::to_string(i) + "\",\"line one\nline \"\"two\"\"\"\n";
  }
  etltest::writeFile(dir / "rows.csv", csv);
  etltest::writeFile(
      dir / "p.yaml",
      "pipelines:\n  rows:\n    source: {plugin: file, path: \"" + (dir / "rows.csv") +
          "\", format: csv}\n    sink:\n      plugin: sql\n      connection: \"" + db.uri() +
          "\"\n      create: auto\n      tables:\n"  // no key: a copy is a row
          "        people: {stream: events, columns: {id: id, name: name, note: "
          "note}}\n    batch: {max_records: 100}\n");
  unsigned seed = std::random_device{}();
  std::mt19937 random(seed);
  int64_t killAt = 2000 + static_cast<int64_t>(random() % 60000);
  SCOPED_TRACE("seed " + std::to_string(seed) + ": killed past " + std::to_string(killAt));
  int pid = etltest::startEtlrun({"--state-dir=" + (dir / "state"), dir / "p.yaml"}, dir / "out",
                                 dir / "err");
  auto stored = [&]() -> int64_t {
    try {
      return db.count("SELECT count(*) FROM people");
    } catch (const std::exception&) {
      return 0;
    }
  };
  bool midway = etltest::waitUntil([&] { return stored() >= killAt; }, 60);
  ::kill(pid, SIGKILL);
  etltest::waitFor(pid);
  ASSERT_TRUE(midway) << etltest::readFile(dir / "err");
  int64_t atKill = stored();
  std::cerr << "killed with " << atKill << " of " << rows << " rows stored\n";
  auto rest = etltest::runEtlrun({"--once", "--state-dir=" + (dir / "state"), dir / "p.yaml"});
  ASSERT_EQ(rest.exitCode, 0) << rest.err;
  EXPECT_EQ(stored(), rows) << rest.err;
  if (atKill < rows) {  // the kill came inside the file: it resumed there, past its header
    EXPECT_NE(rest.err.find("rows.csv from byte"), std::string::npos) << rest.err;
  }
  EXPECT_EQ(db.count("SELECT count(DISTINCT id) FROM people"), rows);
  EXPECT_EQ(db.count("SELECT count(*) FROM people WHERE id = '123' AND name = 'Name, 123' AND "
                     "note = E'line one\\nline \"two\"'"),
            1);
}

}  // namespace
