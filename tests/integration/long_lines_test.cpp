// Lines longer than the file source's max_record_bytes, through real etlrun processes running the
// shipped GH Archive backfill (pipelines/gharchive.yaml) into SQLite and into PostgreSQL. The
// issue's inputs: a .json.gz of 4.7 MB holding 1 GiB of NUL bytes without a newline (etlrun grew
// to 2 GiB and died of bad_alloc; into PostgreSQL the server dropped the connection and etlrun
// retried for ever, and every restart did the same), 256 MiB of 'a' before valid events, and one
// 50 MB event. Peak RSS is the kernel's (wait4), not sampled; the bomb files are written
// piece by piece, never held in memory.
#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/Session.h>
#include <gtest/gtest.h>

#include <iostream>
#include <map>
#include <memory>

#include "backends.h"
#include "event_generator.h"
#include "large_file.h"
#include "measured_run.h"
#include "postgres_env.h"
#include "shipped_pipelines.h"
#include "test_env.h"

namespace {

constexpr long kBoundKiB = 200 * 1024;  // memory bounded by configuration, whatever the file
const std::string kTooLong = " bytes is longer than max_record_bytes (16777216): ";

class LongLines : public testing::TestWithParam<etltest::Backend> {
 protected:
  void SetUp() override { templates_ = etltest::templateEvents(etltest::dataDir()); }
  bool sqlite() const { return GetParam() == etltest::Backend::Sqlite; }

  // `count` recorded GitHub events with fresh ids, one a line.
  std::string events(int count) {
    std::string lines;
    for (int i = 0; i < count; ++i, ++nextId_) {
      lines += etltest::withUniqueIds(templates_[nextId_ % templates_.size()], nextId_) + "\n";
    }
    return lines;
  }

  std::string shipped() const { return etltest::sourceDir() + "/pipelines/gharchive.yaml"; }

  etltest::MeasuredRun run(const std::string& pipeline, const std::string& files) {
    return etltest::runEtlrunMeasured(
        {"--once", "--state-dir=" + (dir_ / "state"), pipeline},
        {{"GHARCHIVE_FILES", files},
         {sqlite() ? "-ETL_DATABASE" : "ETL_DATABASE", sqlite() ? "" : db_.uri()}});
  }

  std::vector<std::string> column(const std::string& statement) const {
    return db_.column(statement);
  }
  int64_t count(const std::string& table) const {
    return std::stoll(column("SELECT count(*) FROM " + table).at(0));
  }
  // The file source's dead letters, oldest first.
  std::vector<std::string> letters(const std::string& what = "reason") const {
    return column("SELECT " + what + " FROM etl_dead_letters WHERE plugin = 'file' ORDER BY id");
  }
  std::string bytesOf(const std::string& column) const {
    return "coalesce(" + std::string(sqlite() ? "length(" : "octet_length(") + column + "), 0)";
  }

  etltest::TempDir dir_;
  etltest::BackendDb db_{GetParam(), dir_ / "state/etlrun.sqlite"};
  std::vector<std::string> templates_;
  uint64_t nextId_ = 50000000000;
};

std::string mib(long kib) {
  return std::to_string(kib / 1024) + "." + std::to_string(kib % 1024 * 10 / 1024) + " MiB";
}

TEST_P(LongLines, TheIssuesGzipBombsAreOneDeadLetterEachTheRestIsStoredAndARestartSkipsThem) {
  std::string bomb = dir_ / "2021-07-21-0.json.gz";  // natural order: read first
  std::string aaa = dir_ / "2021-07-21-1.json.gz";
  std::string plain = dir_ / "2021-07-21-2.json";
  {
    etltest::LargeFile out(bomb);
    out.repeat('\0', 1ULL << 30);
    EXPECT_LT(out.close(), 8u << 20) << "the issue's bomb is a few MB of gzip";
  }
  {
    etltest::LargeFile out(aaa);
    out.repeat('a', 256ULL << 20).write("\n" + events(300));
  }
  std::string before = events(100);
  {
    etltest::LargeFile out(plain);  // the same in a plain file, between valid lines
    out.write(before).repeat('b', 20ULL << 20).write("\n" + events(100));
  }
  auto first = run(shipped(), dir_ / "2021-07-21-*");
  ASSERT_EQ(first.exitCode, 0) << first.err;
  std::cout << "bombs (1 GiB + 256 MiB gzip, 20 MiB plain): peak RSS " << mib(first.peakRssKiB)
            << " (" << first.seconds << " s; this test process " << mib(etltest::selfRssKiB())
            << ")\n";
  EXPECT_LT(first.peakRssKiB, kBoundKiB);
  EXPECT_EQ(count("github_events"), 500) << "every valid line after and around the long ones";
  auto reasons = letters();
  ASSERT_EQ(reasons.size(), 3u) << first.err;
  EXPECT_EQ(reasons[0], "line of 1073741824" + kTooLong + bomb +
                            ", line 1, from uncompressed byte 0; read through and skipped, its "
                            "first 1024 bytes are this dead letter's record");
  EXPECT_EQ(reasons[1].rfind(
                "line of 268435456" + kTooLong + aaa + ", line 1, from uncompressed byte 0; ", 0),
            0u)
      << reasons[1];
  EXPECT_EQ(reasons[2].rfind("line of 20971520" + kTooLong + plain + ", line 101, from byte " +
                                 std::to_string(before.size()) + "; ",
                             0),
            0u)
      << reasons[2];
  // Each letter holds its line's first KiB: NUL bytes exactly (record_bytes), letters as text.
  EXPECT_EQ(letters(bytesOf("record_bytes")), (std::vector<std::string>{"1024", "0", "0"}));
  auto records = letters("record");
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[1], std::string(1024, 'a'));
  EXPECT_EQ(records[2], std::string(1024, 'b'));

  // Restarted, nothing is read again: not the bombs, not the lines around them.
  auto again = run(shipped(), dir_ / "2021-07-21-*");
  ASSERT_EQ(again.exitCode, 0) << again.err;
  EXPECT_NE(again.err.find("3 already read (skipped), 0 to read"), std::string::npos) << again.err;
  EXPECT_EQ(again.err.find("longer than max_record_bytes"), std::string::npos) << again.err;
  EXPECT_EQ(letters().size(), 3u);
  EXPECT_EQ(count("github_events"), 500);
}

TEST_P(LongLines, ARestartInsideTheFileResumesPastTheLongLineWithoutReadingItAgain) {
  // Damage after the long line stops the run (on_corrupt: fail) with the file half read: the
  // dead letter and the lines around it are committed, and so is a checkpoint past them.
  std::string file = dir_ / "2021-07-21-0.json.gz";
  std::string head = events(50), tail = events(50);
  uint64_t intact = 0;
  {
    etltest::LargeFile out(file);
    out.write(head).repeat('\0', 256ULL << 20).write("\n" + tail);
    intact = out.flush();
    out.repeat('x', 1 << 20);  // no newline: nothing after the cut is a line
  }
  std::string bytes = etltest::readFile(file);
  etltest::writeFile(file, bytes.substr(0, intact + 16));
  uint64_t resumeAt = head.size() + (256ULL << 20) + 1 + tail.size();

  for (int attempt = 0; attempt < 2; ++attempt) {
    SCOPED_TRACE(attempt);
    auto result = run(shipped(), file);
    EXPECT_EQ(result.exitCode, 70) << result.err;
    EXPECT_NE(result.err.find(file + ": the gzip stream is truncated"), std::string::npos)
        << result.err;
    EXPECT_LT(result.peakRssKiB, kBoundKiB);
    EXPECT_EQ(count("github_events"), 100);
    EXPECT_EQ(letters().size(), 1u);
    bool warned = result.err.find("longer than max_record_bytes") != std::string::npos;
    EXPECT_EQ(warned, attempt == 0) << result.err;
    if (attempt == 1) {
      EXPECT_NE(result.err.find("resuming " + file + " at byte " + std::to_string(resumeAt)),
                std::string::npos)
          << result.err;
    }
  }
}

TEST_P(LongLines, AFiftyMegabyteEventIsStoredUnderARaisedLimit) {
  // A recorded PushEvent whose commits are repeated up to 50 MB, then ordinary events.
  std::string push;
  for (const auto& t : templates_) {
    if (t.find("\"type\":\"PushEvent\"") != std::string::npos &&
        t.find("\"commits\":[{") != std::string::npos &&
        t.find("]},\"public\"") != std::string::npos) {
      push = etltest::withUniqueIds(t, 49999999999);
      break;
    }
  }
  ASSERT_FALSE(push.empty());
  std::size_t open = push.find("\"commits\":[") + 11, close = push.find("]},\"public\"", open);
  std::string group = push.substr(open, close - open);  // the event's commits
  uint64_t perGroup = 0;
  for (std::size_t at = group.find("\"sha\":"); at != std::string::npos;
       at = group.find("\"sha\":", at + 1)) {
    ++perGroup;
  }
  uint64_t groups = (50000000 - push.size()) / (group.size() + 1) + 1;
  uint64_t commits = groups * perGroup;
  uint64_t lineBytes = push.size() + (groups - 1) * (group.size() + 1);
  std::string big = dir_ / "2021-07-21-0.json", small = dir_ / "small.json";
  {
    etltest::LargeFile out(big);
    out.write(push.substr(0, close));
    for (uint64_t g = 1; g < groups; ++g) out.write("," + group);
    out.write(push.substr(close) + "\n" + events(20));
  }
  etltest::writeFile(small, events(20));
  std::string yaml = dir_ / "p.yaml";
  etltest::writeFile(
      yaml, etltest::githubConnection(sqlite() ? "sqlite:etlrun.sqlite" : db_.uri()) +
                "pipelines:\n  backfill:\n" +
                etltest::shippedBlock(
                    "gharchive.yaml", "backfill", "source",
                    {{"stream", "stream: github_events\n      max_record_bytes: 67108864"}}) +
                etltest::shippedBlock("gharchive.yaml", "backfill", "transforms") +
                etltest::shippedSink("gharchive.yaml", "backfill") +
                etltest::shippedBlock("gharchive.yaml", "backfill", "batch"));
  // What the same pipeline takes for small events alone: the figure the big one adds to.
  auto idle = run(yaml, small);
  ASSERT_EQ(idle.exitCode, 0) << idle.err;
  auto result = run(yaml, big);
  ASSERT_EQ(result.exitCode, 0) << result.err;
  double factor = static_cast<double>(result.peakRssKiB - idle.peakRssKiB) * 1024 /
                  static_cast<double>(lineBytes);
  std::cout << "one event of " << lineBytes << " bytes (" << commits << " commits) into "
            << etltest::backendName(GetParam()) << ": peak RSS " << mib(result.peakRssKiB) << ", "
            << mib(idle.peakRssKiB) << " without it: " << factor << "x its size (" << result.seconds
            << " s)\n";
  EXPECT_EQ(letters().size(), 0u) << result.err;
  EXPECT_EQ(count("github_events"), 41);
  std::string id = "'49999999999'";
  EXPECT_EQ(column("SELECT commit_count FROM push_events WHERE event_id = " + id),
            std::vector<std::string>{std::to_string(commits)});
  std::map<etltest::Backend, std::string> commitsOf{
      {etltest::Backend::Postgres, "jsonb_array_length(raw->'payload'->'commits')"},
      {etltest::Backend::Sqlite, "json_array_length(raw, '$.payload.commits')"},
      {etltest::Backend::Mariadb, "JSON_LENGTH(raw, '$.payload.commits')"}};
  EXPECT_EQ(
      column("SELECT " + commitsOf[GetParam()] + " FROM github_events WHERE event_id = " + id),
      std::vector<std::string>{std::to_string(commits)});
  if (!(GetParam() == etltest::Backend::Postgres)) {
    // SQLite and MariaDB keep the bytes as they were read (PostgreSQL's jsonb reformats).
    EXPECT_EQ(column(std::string("SELECT ") +
                     (sqlite() ? "length(CAST(raw AS BLOB))" : "octet_length(raw)") +
                     " FROM github_events WHERE event_id = " + id),
              std::vector<std::string>{std::to_string(lineBytes)});
  }
  // The record is adopted, not copied, by the source; what the sinks add (JSON validation,
  // SQLite's copies of a bound value, PostgreSQL's COPY buffer) is in the README. More than this
  // is a copy too many.
  EXPECT_LT(factor, 8.0);
}

INSTANTIATE_TEST_SUITE_P(Databases, LongLines,
                         testing::Values(etltest::Backend::Postgres, etltest::Backend::Sqlite,
                                         etltest::Backend::Mariadb),
                         [](const auto& info) {
                           return info.param == etltest::Backend::Sqlite
                                      ? std::string("SQLite")
                                      : etltest::backendName(info.param);
                         });

}  // namespace
