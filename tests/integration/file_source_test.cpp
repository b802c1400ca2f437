// The file source against what a backfill meets in the wild, through the real etlrun binary:
// hours loaded out of order, files changed after they were read, truncated and corrupt .gz files,
// a file that disappears mid-run, and broken checkpoints.
#include <Poco/File.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <set>
#include <thread>

#include "etl/record.h"
#include "event_generator.h"
#include "postgres_env.h"
#include "shipped_pipelines.h"
#include "test_env.h"

namespace {

const std::string kHour = "/gharchive/gharchive_2021-07-21_hour06_200events.jsonl";

class FileSource : public testing::Test {
 protected:
  // GH Archive-style hour files day-H.json(.gz) of `perFile` events each, with unique ids.
  void makeHours(const std::string& day, int hours, int perFile, bool gzip) {
    auto templates = etltest::templateEvents(etltest::dataDir());
    for (int h = 0; h < hours; ++h) {
      std::string name = dir_ / (day + "-" + std::to_string(h) + ".json");
      std::string content;
      for (int i = 0; i < perFile; ++i) {
        content += etltest::withUniqueIds(templates[static_cast<std::size_t>(i) % templates.size()],
                                          nextId_++) +
                   "\n";
      }
      etltest::writeFile(name, content);
      if (gzip) {
        ASSERT_EQ(std::system(("gzip -f " + name).c_str()), 0);
      }
    }
  }
  std::string yaml(const std::string& glob, const std::string& extra = "") {
    std::string path = dir_ / "p.yaml";
    etltest::writeFile(path, "pipelines:\n  backfill:\n    source: {plugin: file, path: \"" + glob +
                                 "\", stream: github_events" + extra +
                                 "}\n    sink: {plugin: jsonl, path: \"" + (dir_ / "out.jsonl") +
                                 "\", fsync: false}\n    batch: {max_records: 40}\n");
    return path;
  }
  etltest::ProcessResult run(const std::string& glob, const std::string& extra = "") {
    return etltest::runEtlrun({"--once", "--state-dir=" + (dir_ / "state"), yaml(glob, extra)});
  }
  std::multiset<std::string> outputIds() {
    std::multiset<std::string> ids;
    for (const auto& line : etltest::readLines(dir_ / "out.jsonl")) {
      ids.insert(etl::Record("e", line).get<std::string>("id"));
    }
    return ids;
  }
  std::size_t distinct() {
    auto ids = outputIds();
    EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), ids.size()) << "duplicates";
    return ids.size();
  }

  etltest::TempDir dir_;
  uint64_t nextId_ = 30000000000;
};

TEST_F(FileSource, EarlierHoursAfterLaterOnesAreAllReadAndReadOnesAreSkippedAndCounted) {
  makeHours("2021-07-22", 3, 50, true);
  auto later = run(dir_ / "2021-07-22-*.json.gz");
  ASSERT_EQ(later.exitCode, 0) << later.err;
  EXPECT_EQ(distinct(), 150u);
  // A backfill of the day before, with the same state: every one of its files is read.
  makeHours("2021-07-21", 4, 50, true);
  auto earlier = run(dir_ / "2021-07-21-*.json.gz");
  ASSERT_EQ(earlier.exitCode, 0) << earlier.err;
  EXPECT_EQ(distinct(), 350u);
  EXPECT_NE(earlier.err.find("0 already read (skipped), 4 to read"), std::string::npos)
      << earlier.err;
  // Both days at once: everything is already read, and the log says so.
  auto both = run(dir_ / "2021-07-2*.json.gz");
  ASSERT_EQ(both.exitCode, 0) << both.err;
  EXPECT_NE(both.err.find("7 already read (skipped), 0 to read"), std::string::npos) << both.err;
  EXPECT_EQ(distinct(), 350u);
  // A file replaced after it was read is named in a warning.
  ASSERT_EQ(std::system(("echo '{}' | gzip >> " + (dir_ / "2021-07-21-2.json.gz")).c_str()), 0);
  auto changed = run(dir_ / "2021-07-2*.json.gz");
  ASSERT_EQ(changed.exitCode, 0) << changed.err;
  EXPECT_NE(changed.err.find("2021-07-21-2.json.gz changed since it was read"), std::string::npos)
      << changed.err;
  EXPECT_EQ(distinct(), 350u);
}

// More finished files than are kept one by one: the older ones become runs (a range, a count,
// hashes), so the checkpoint stays small; a file added among them later is found and read, files
// deleted are simply gone, and nothing is read twice.
TEST_F(FileSource, ManyFinishedFilesKeepTheCheckpointSmallAndAFileAddedAmongThemIsRead) {
  makeHours("2021-07-21", 600, 2, false);
  auto first = run(dir_ / "2021-07-21-*.json");
  ASSERT_EQ(first.exitCode, 0) << first.err;
  EXPECT_EQ(distinct(), 1200u);
  std::string checkpoint = etltest::readFile(dir_ / "out.jsonl.checkpoint");
  EXPECT_NE(checkpoint.find("\"runs\""), std::string::npos) << checkpoint.substr(0, 400);
  EXPECT_LT(checkpoint.size(), 40000u) << "600 files one by one";
  // A later run reads nothing again.
  auto again = run(dir_ / "2021-07-21-*.json");
  ASSERT_EQ(again.exitCode, 0) << again.err;
  EXPECT_NE(again.err.find("600 already read (skipped), 0 to read"), std::string::npos)
      << again.err;
  // A file appears among those read long ago (in a run's range): found by the hash, read.
  etltest::writeFile(
      dir_ / "2021-07-21-10a.json",
      etltest::withUniqueIds(etltest::templateEvents(etltest::dataDir())[0], 1) + "\n");
  auto added = run(dir_ / "2021-07-21-*.json");
  ASSERT_EQ(added.exitCode, 0) << added.err;
  EXPECT_NE(added.err.find("2021-07-21-10a.json appeared among files read earlier"),
            std::string::npos)
      << added.err;
  EXPECT_NE(added.err.find("600 already read (skipped), 1 to read"), std::string::npos)
      << added.err;
  EXPECT_EQ(distinct(), 1201u);
  // Files read and then deleted (cleaning up) are simply gone; the rest stay read.
  std::remove((dir_ / "2021-07-21-3.json").c_str());
  std::remove((dir_ / "2021-07-21-4.json").c_str());
  auto cleaned = run(dir_ / "2021-07-21-*.json");
  ASSERT_EQ(cleaned.exitCode, 0) << cleaned.err;
  EXPECT_NE(cleaned.err.find("599 already read (skipped), 0 to read"), std::string::npos)
      << cleaned.err;
  EXPECT_EQ(cleaned.err.find("appeared among"), std::string::npos) << cleaned.err;
  EXPECT_EQ(distinct(), 1201u);
}

// A file read, then replaced by another file of the same name (other first bytes): read as a new
// file; one only appended to is named as changed and not read again.
TEST_F(FileSource, AFileReplacedUnderItsNameIsReadAgainAndOneAppendedToIsNamed) {
  makeHours("2021-07-21", 3, 20, false);
  ASSERT_EQ(run(dir_ / "2021-07-21-*.json").exitCode, 0);
  EXPECT_EQ(distinct(), 60u);
  // -1 replaced by another file (written beside it, renamed over it), -2 appended to.
  {
    std::ofstream other(dir_ / "replacement");
    auto templates = etltest::templateEvents(etltest::dataDir());
    for (int i = 0; i < 30; ++i) {
      other << etltest::withUniqueIds(templates[static_cast<std::size_t>(i)], 90000 + i) << "\n";
    }
  }
  ASSERT_EQ(std::rename((dir_ / "replacement").c_str(), (dir_ / "2021-07-21-1.json").c_str()), 0);
  std::ofstream(dir_ / "2021-07-21-2.json", std::ios::app) << "{\"id\":\"appended\"}\n";
  auto next = run(dir_ / "2021-07-21-*.json");
  ASSERT_EQ(next.exitCode, 0) << next.err;
  EXPECT_NE(next.err.find("2021-07-21-1.json was replaced by another file since it was read"),
            std::string::npos)
      << next.err;
  EXPECT_NE(next.err.find("2021-07-21-2.json changed since it was read"), std::string::npos)
      << next.err;
  EXPECT_EQ(distinct(), 90u);
}

// Killed (-9) inside a file, which is then replaced by a longer, other file of the same name: the
// new file is read from its start, not resumed at the old offset (its head skipped).
TEST_F(FileSource, AFileReplacedAfterAKillInsideItIsReadFromItsStart) {
  makeHours("2021-07-21", 1, 20000, false);
  std::string file = dir_ / "2021-07-21-0.json";
  int pid =
      etltest::startEtlrun({"--state-dir=" + (dir_ / "state"), yaml(file)}, dir_ / "o", dir_ / "e");
  ASSERT_TRUE(etltest::waitUntil(
      [&] {
        return etltest::readFile(dir_ / "out.jsonl.checkpoint").find("\"partial\":{\"") !=
               std::string::npos;
      },
      30));
  ::kill(pid, SIGKILL);
  etltest::waitFor(pid);
  std::string before = etltest::readFile(dir_ / "out.jsonl.checkpoint");
  ASSERT_NE(before.find("2021-07-21-0.json"), std::string::npos) << before.substr(0, 300);
  std::size_t storedBefore = etltest::readLines(dir_ / "out.jsonl").size();
  ASSERT_LT(storedBefore, 20000u) << "the kill came after the file";
  std::remove(file.c_str());
  uint64_t firstNew = nextId_;
  makeHours("2021-07-21", 1, 30000, false);  // other ids, a longer file
  auto rest = run(file);
  ASSERT_EQ(rest.exitCode, 0) << rest.err;
  EXPECT_NE(rest.err.find("was replaced by another file since it was read to byte"),
            std::string::npos)
      << rest.err;
  distinct();  // no duplicates
  std::size_t fromNew = 0;
  for (const auto& id : outputIds()) fromNew += std::stoull(id) >= firstNew ? 1 : 0;
  EXPECT_EQ(fromNew, 30000u) << "the new file's head was skipped";
}

TEST_F(FileSource, ATruncatedGzipKeepsEveryLineBeforeTheDamageAndNamesFileAndByte) {
  makeHours("2021-07-21", 3, 200, true);
  std::string damaged = dir_ / "2021-07-21-1.json.gz";
  std::string bytes = etltest::readFile(damaged);
  etltest::writeFile(damaged, bytes.substr(0, bytes.size() / 2));
  // What a correct reader can get out of the damaged half: its complete lines.
  ASSERT_NE(
      std::system(("gzip -dc " + damaged + " > " + (dir_ / "partial") + " 2>/dev/null").c_str()),
      -1);
  std::string partial = etltest::readFile(dir_ / "partial");
  std::size_t completeLines =
      static_cast<std::size_t>(std::count(partial.begin(), partial.end(), '\n'));
  ASSERT_GT(completeLines, 10u);

  for (int attempt = 0; attempt < 2; ++attempt) {  // a rerun fails the same way, adds nothing
    auto result = run(dir_ / "2021-07-21-*.json.gz");
    EXPECT_EQ(result.exitCode, 70) << result.err;
    EXPECT_NE(result.err.find(damaged + ": the gzip stream is truncated"), std::string::npos)
        << result.err;
    EXPECT_NE(result.err.find("at byte "), std::string::npos) << result.err;
    EXPECT_NE(result.err.find("on_corrupt: skip"), std::string::npos) << result.err;
    EXPECT_EQ(distinct(), 200u + completeLines);
  }
  // on_corrupt: skip records a dead letter naming the file and goes on with the next file.
  auto skipped = run(dir_ / "2021-07-21-*.json.gz", ", on_corrupt: skip");
  ASSERT_EQ(skipped.exitCode, 0) << skipped.err;
  EXPECT_EQ(distinct(), 400u + completeLines);
  std::string letters = etltest::readFile(dir_ / "state/backfill.dead_letters.jsonl");
  EXPECT_NE(letters.find("2021-07-21-1.json.gz: the gzip stream is truncated"), std::string::npos)
      << letters;
  EXPECT_NE(letters.find("\"plugin\":\"file\""), std::string::npos) << letters;
}

TEST_F(FileSource, ACorruptGzipStopsWithTheFileAndByteOrIsSkipped) {
  makeHours("2021-07-21", 2, 300, true);
  std::string damaged = dir_ / "2021-07-21-0.json.gz";
  std::string bytes = etltest::readFile(damaged);
  for (std::size_t i = bytes.size() / 2; i < bytes.size() / 2 + 64; ++i) bytes[i] = '\x55';
  etltest::writeFile(damaged, bytes);
  auto result = run(dir_ / "2021-07-21-*.json.gz");
  EXPECT_EQ(result.exitCode, 70) << result.err;
  EXPECT_NE(result.err.find(damaged + ": corrupt gzip data"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("at byte "), std::string::npos) << result.err;
  // The lines before the damage are delivered in order. (Deflate notices damage a little after
  // it: the few lines decoded in between are garbled, and a JSON sink dead-letters them.)
  std::vector<std::string> good;
  for (const auto& line : etltest::readLines(dir_ / "out.jsonl")) {
    if (etl::Record("e", line).jsonError().empty()) good.push_back(line);
  }
  ASSERT_GT(good.size(), 50u) << "the lines before the damage were not stored";
  EXPECT_LT(good.size(), 300u);
  for (std::size_t i = 0; i + 1 < good.size(); ++i) {
    EXPECT_EQ(etl::Record("e", good[i]).get<std::string>("id"), std::to_string(30000000000 + i));
  }
  std::size_t before = etltest::readLines(dir_ / "out.jsonl").size();
  auto skipped = run(dir_ / "2021-07-21-*.json.gz", ", on_corrupt: skip");
  ASSERT_EQ(skipped.exitCode, 0) << skipped.err;
  auto lines = etltest::readLines(dir_ / "out.jsonl");
  ASSERT_EQ(lines.size(), before + 300u);
  for (std::size_t i = 0; i < 300; ++i) {
    EXPECT_EQ(etl::Record("e", lines[before + i]).get<std::string>("id"),
              std::to_string(30000000300 + i));
  }
}

TEST_F(FileSource, AFileThatDisappearsMidRunFailsAtOnceNamingIt) {
  // The first "file" is a pipe this test writes slowly; meanwhile the second file is deleted.
  std::string fifo = dir_ / "2021-07-21-0.json";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0);
  makeHours("2021-07-21-x", 1, 10, false);  // 2021-07-21-x-0.json sorts after the pipe
  std::string second = dir_ / "2021-07-21-x-0.json";
  int pid = etltest::startEtlrun(
      {"--once", "--state-dir=" + (dir_ / "state"), yaml(dir_ / "2021-07-21-*.json")},
      dir_ / "stdout", dir_ / "stderr");
  {
    std::ofstream writer(fifo);  // blocks until etlrun opens the pipe
    writer << etltest::withUniqueIds(etltest::templateEvents(etltest::dataDir())[0], 1) << "\n";
    writer.flush();
    ASSERT_EQ(::unlink(second.c_str()), 0);
  }
  int code = etltest::waitFor(pid, 60);
  std::string err = etltest::readFile(dir_ / "stderr");
  EXPECT_EQ(code, 70) << err;
  EXPECT_NE(err.find("cannot open " + second), std::string::npos) << err;
  EXPECT_EQ(err.find("retrying"), std::string::npos) << "a vanished file is not retried: " << err;
  EXPECT_EQ(distinct(), 1u) << "what was read before is kept";
}

// The checkpoint of a file -> jsonl pipeline lives in the jsonl sidecar: magic, size, checkpoint.
class BrokenCheckpoint : public FileSource {
 protected:
  void breakWith(const std::string& checkpoint) {
    std::string sidecar = dir_ / "out.jsonl.checkpoint";
    std::string text = etltest::readFile(sidecar);
    std::size_t second = text.find('\n', text.find('\n') + 1);
    etltest::writeFile(sidecar, text.substr(0, second + 1) + checkpoint);
  }
  void expectRefusedNamingWhereAndHow(const etltest::ProcessResult& result) {
    EXPECT_EQ(result.exitCode, 70) << result.err;
    EXPECT_NE(result.err.find("pipeline 'backfill'"), std::string::npos) << result.err;
    EXPECT_NE(result.err.find(dir_ / "out.jsonl.checkpoint"), std::string::npos) << result.err;
    EXPECT_NE(result.err.find("delete"), std::string::npos) << result.err;
  }
};

TEST_F(BrokenCheckpoint, GarbageWrongTypesNegativeOffsetsAndEmptiedFilesAreRefusedNotRestarted) {
  makeHours("2021-07-21", 2, 30, false);
  ASSERT_EQ(run(dir_ / "2021-07-21-*.json").exitCode, 0);
  ASSERT_EQ(distinct(), 60u);
  for (const std::string& broken : {std::string("garbage{"), std::string("[1,2,3]"),
                                    std::string(R"({"done":{"a":["big",1]},"partial":{}})"),
                                    std::string(R"({"done":{},"partial":{"x.json":-5}})"),
                                    std::string(R"({"file":"x.json","offset":-1,"done":false})"),
                                    std::string(R"({"file":7,"offset":0,"done":false})")}) {
    SCOPED_TRACE(broken);
    breakWith(broken);
    auto result = run(dir_ / "2021-07-21-*.json");
    expectRefusedNamingWhereAndHow(result);
    EXPECT_EQ(distinct(), 60u) << "a broken checkpoint was read as 'start from scratch'";
  }
  etltest::writeFile(dir_ / "out.jsonl.checkpoint", "");
  auto emptied = run(dir_ / "2021-07-21-*.json");
  EXPECT_NE(emptied.exitCode, 0);
  EXPECT_NE(emptied.err.find("is empty"), std::string::npos) << emptied.err;
  EXPECT_NE(emptied.err.find("delete"), std::string::npos) << emptied.err;
  EXPECT_EQ(distinct(), 60u);
}

TEST_F(BrokenCheckpoint, AFileShorterThanItsCheckpointIsNamedNotSkipped) {
  makeHours("2021-07-21", 1, 30, false);
  std::string file = dir_ / "2021-07-21-0.json";
  ASSERT_EQ(run(dir_ / "2021-07-21-*.json").exitCode, 0);
  breakWith(R"({"done":{},"partial":{")" + file + R"(":999999}})");
  auto result = run(dir_ / "2021-07-21-*.json");
  EXPECT_EQ(result.exitCode, 70) << result.err;
  EXPECT_NE(result.err.find(file + ": has "), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("the file was replaced or cut"), std::string::npos) << result.err;
}

TEST_F(BrokenCheckpoint, AnEmptiedCoreCheckpointFileIsRefused) {
  // A sink that cannot hold checkpoints (stdout): the core keeps it in state_dir.
  makeHours("2021-07-21", 1, 5, false);
  std::string path = dir_ / "p.yaml";
  etltest::writeFile(path, "pipelines:\n  tostdout:\n    source: {plugin: file, path: \"" +
                               (dir_ / "2021-07-21-*.json") + "\"}\n    sink: {plugin: jsonl}\n");
  ASSERT_EQ(etltest::runEtlrun({"--once", "--state-dir=" + (dir_ / "state"), path}).exitCode, 0);
  etltest::writeFile(dir_ / "state/tostdout.checkpoint", "");
  auto result = etltest::runEtlrun({"--once", "--state-dir=" + (dir_ / "state"), path});
  EXPECT_EQ(result.exitCode, 70) << result.err;
  EXPECT_TRUE(result.out.empty()) << "it started from scratch: " << result.out;
  EXPECT_NE(result.err.find("pipeline 'tostdout'"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("delete " + (dir_ / "state/tostdout.checkpoint")), std::string::npos)
      << result.err;
}

TEST(FileNames, ANameThatIsNotUtf8DoesNotStopABackfillIntoPostgres) {
  // File names are bytes; the checkpoint naming them is committed as text with the rows.
  etltest::TempDir dir;
  etltest::TestDatabase db;
  std::string odd = dir / "2021-07-21-\xff\xfe.json";
  etltest::writeFile(odd, etltest::readFile(etltest::dataDir() + kHour));
  std::string path = dir / "p.yaml";
  etltest::writeFile(path, etltest::githubConnection(db.uri()) +
                               "pipelines:\n  backfill:\n    source: {plugin: file, path: \"" +
                               (dir / "2021-07-21-*.json") + "\", stream: github_events}\n" +
                               etltest::shippedSink("gharchive.yaml", "backfill"));
  auto first = etltest::runEtlrun({"--once", "--state-dir=" + (dir / "state"), path});
  ASSERT_EQ(first.exitCode, 0) << first.err;
  EXPECT_EQ(db.count("SELECT count(*) FROM github_events"), 200);
  auto again = etltest::runEtlrun({"--once", "--state-dir=" + (dir / "state"), path});
  ASSERT_EQ(again.exitCode, 0) << again.err;
  EXPECT_NE(again.err.find("1 already read (skipped), 0 to read"), std::string::npos) << again.err;
}

TEST(BrokenPostgresCheckpoint, NamesTheTableAndTheStatementThatResetsIt) {
  etltest::TempDir dir;
  etltest::TestDatabase db;
  std::string path = dir / "p.yaml";
  etltest::writeFile(path, etltest::githubConnection(db.uri()) +
                               "pipelines:\n  backfill:\n    source: {plugin: file, path: \"" +
                               etltest::dataDir() + kHour + "\", stream: github_events}\n" +
                               etltest::shippedSink("gharchive.yaml", "backfill"));
  ASSERT_EQ(etltest::runEtlrun({"--once", "--state-dir=" + (dir / "state"), path}).exitCode, 0);
  for (const char* broken : {"garbage", "", "{\"done\":{},\"partial\":{\"x\":-3}}"}) {
    SCOPED_TRACE(broken);
    etltest::sql(db.conninfo(),
                 std::string("UPDATE etl_checkpoints SET checkpoint = '") + broken + "'");
    auto result = etltest::runEtlrun({"--once", "--state-dir=" + (dir / "state"), path});
    EXPECT_EQ(result.exitCode, 70) << result.err;
    EXPECT_NE(result.err.find("pipeline 'backfill'"), std::string::npos) << result.err;
    EXPECT_NE(result.err.find("table etl_checkpoints of postgresql://"), std::string::npos)
        << result.err;
    EXPECT_NE(result.err.find("DELETE FROM etl_checkpoints WHERE pipeline = 'backfill'"),
              std::string::npos)
        << result.err;
  }
}

}  // namespace

namespace {

// On a terminal a backfill redraws one live line (records, rate, files done/total); with stderr
// not a terminal, nothing of the kind is written.
TEST(Progress, ALiveLineOnATerminalOnlyThere) {
  etltest::TempDir dir;
  std::string fifo = dir / "2021-07-21-0.json";  // a slow first file: the test writes it
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0);
  etltest::writeFile(dir / "2021-07-21-1.json", etltest::readFile(etltest::dataDir() + kHour));
  std::string yaml = dir / "p.yaml";
  etltest::writeFile(yaml, "pipelines:\n  backfill:\n    source: {plugin: file, path: \"" +
                               (dir / "2021-07-21-*.json") +
                               "\"}\n    sink: {plugin: jsonl, path: \"" + (dir / "out.jsonl") +
                               "\", fsync: false}\n");
  for (bool terminal : {true, false}) {
    SCOPED_TRACE(terminal ? "terminal" : "pipe");
    if (Poco::File(dir / "state").exists()) Poco::File(dir / "state").remove(true);
    std::remove((dir / "out.jsonl").c_str());
    std::remove((dir / "out.jsonl.checkpoint").c_str());
    std::string command = etltest::etlrunBinary() + " --plugin-path=" + etltest::pluginDir() +
                          " --once --state-dir=" + (dir / "state") + " " + yaml;
    int pid = terminal
                  ? etltest::startProcess("/usr/bin/script", {"-qefc", command, dir / "typescript"},
                                          dir / "stdout", dir / "stderr")
                  : etltest::startEtlrun({"--once", "--state-dir=" + (dir / "state"), yaml},
                                         dir / "stdout", dir / "stderr");
    {
      std::ofstream writer(fifo);
      writer << etltest::readLines(etltest::dataDir() + kHour)[0] << "\n" << std::flush;
      std::this_thread::sleep_for(std::chrono::milliseconds(1300));  // a few redraws
    }
    ASSERT_EQ(etltest::waitFor(pid, 60), 0) << etltest::readFile(dir / "stderr");
    std::string screen = etltest::readFile(terminal ? dir / "typescript" : dir / "stderr");
    bool live = screen.find("\r\033[K") != std::string::npos;
    EXPECT_EQ(live, terminal) << screen;
    if (terminal) {
      EXPECT_NE(screen.find("\r\033[Kbackfill: "), std::string::npos) << screen;
      EXPECT_NE(screen.find("files 0/2"), std::string::npos) << screen;
    }
  }
}

}  // namespace
