// One pipeline, one owner. Two runs of one pipeline at once (overlapping cron runs, two service
// instances, two pipeline files sharing a database) must never store a record twice: the second
// --once run ends at once (exit 75) reading nothing, a second service waits and takes over when
// the first stops; and if the owner's lock is lost anyway (its database connection cut), the
// compare-and-set checkpoint stops the overtaken process before it stores anything twice.
// Into a keyless table, where a record stored twice shows; on PostgreSQL, SQLite and MariaDB.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <fstream>
#include <map>
#include <thread>

#include "backends.h"
#include "mariadb_env.h"
#include "postgres_env.h"
#include "test_env.h"

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr int kLines = 300000;

class OneOwner : public testing::TestWithParam<etltest::Backend> {
 protected:
  void SetUp() override {
    std::ofstream out(dir_ / "lines.jsonl");
    for (int i = 0; i < kLines; ++i) out << "{\"n\":" << i << "}\n";
  }
  // The pipeline `lines` (its state in `stateDir`), into a keyless table.
  std::string pipeline(const std::string& name) {
    std::string path = dir_ / name;
    std::ofstream(path)
        << "connections:\n  db: {uri: \"" << db_.uri()
        << "\"}\npipelines:\n  lines:\n    source: {plugin: file, path: \""
        << (dir_ / "lines.jsonl")
        << "\", stream: s}\n    sink:\n      plugin: sql\n      connection: db\n"
           "      create: auto\n      tables:\n        lines:\n          stream: s\n          "
           "columns: {n: {path: n, type: bigint}}\n"
           "    batch: {max_records: 500, max_latency: 1s}\n";
    return path;
  }
  int64_t count(const std::string& statement) const {
    try {
      return db_.count(statement);
    } catch (const std::exception&) {
      return -1;  // not created yet
    }
  }
  int64_t stored() const { return count("SELECT count(*) FROM \"lines\""); }
  int start(const std::string& yaml, const std::string& state, const std::string& log, bool once) {
    std::vector<std::string> args{"--state-dir=" + (dir_ / state), yaml};
    if (once) args.insert(args.begin(), "--once");
    return etltest::startEtlrun(args, dir_ / (log + ".out"), dir_ / (log + ".err"));
  }
  std::string log(const std::string& name) const {
    return etltest::readFile(dir_ / (name + ".err"));
  }
  bool waitUntil(const std::function<bool()>& done, std::chrono::seconds limit) const {
    auto deadline = Clock::now() + limit;
    while (Clock::now() < deadline) {
      if (done()) return true;
      std::this_thread::sleep_for(20ms);
    }
    return done();
  }
  void expectEachLineOnce() const {
    EXPECT_EQ(stored(), kLines);
    EXPECT_EQ(count("SELECT count(DISTINCT n) FROM \"lines\""), kLines);
  }

  etltest::TempDir dir_;
  etltest::BackendDb db_{GetParam(), dir_ / "shared.sqlite"};
};

TEST_P(OneOwner, ASecondOnceRunOfTheSamePipelineEndsAtOnceReadingNothing) {
  std::string yaml = pipeline("p.yaml");
  int first = start(yaml, "state", "first", true);
  ASSERT_TRUE(waitUntil([&] { return stored() > 0; }, 60s)) << log("first");
  ::kill(first, SIGSTOP);  // still running (and holding the pipeline) whatever the machine's speed
  // Overlapping cron runs: the same file and state directory.
  auto second = etltest::runEtlrun({"--once", "--state-dir=" + (dir_ / "state"), yaml});
  EXPECT_EQ(second.exitCode, 75) << second.err;
  EXPECT_NE(second.err.find("pipeline 'lines' is running in another process (pid " +
                            std::to_string(first)),
            std::string::npos)
      << second.err;
  // Two pipeline files sharing the database (state directories of their own).
  std::string other = pipeline("other.yaml");
  auto third = etltest::runEtlrun({"--once", "--state-dir=" + (dir_ / "state-other"), other});
  EXPECT_EQ(third.exitCode, 75) << third.err;
  // Who holds it: PostgreSQL's application_name, MariaDB's processlist, SQLite's lock file.
  std::map<etltest::Backend, std::string> holder{
      {etltest::Backend::Postgres, "etlrun owner of lines: pid " + std::to_string(first)},
      {etltest::Backend::Mariadb, " of user root from 127.0.0.1:"},
      {etltest::Backend::Sqlite, "another process that stores it in"}};
  EXPECT_NE(third.err.find(holder[GetParam()]), std::string::npos) << third.err;
  ::kill(first, SIGCONT);
  EXPECT_EQ(etltest::waitFor(first, 120), 0) << log("first");
  expectEachLineOnce();
}

TEST_P(OneOwner, ASecondServiceWaitsAndTakesOverWhenTheFirstStops) {
  std::string yaml = pipeline("p.yaml");
  int first = start(yaml, "state-a", "first", false);
  ASSERT_TRUE(waitUntil([&] { return stored() > 0; }, 60s)) << log("first");
  ::kill(first, SIGSTOP);  // still running whatever the machine's speed
  int second = start(pipeline("q.yaml"), "state-b", "second", false);
  ASSERT_TRUE(waitUntil(
      [&] { return log("second").find("waiting, this one takes over") != std::string::npos; }, 30s))
      << log("second");
  ::kill(first, SIGTERM);
  ::kill(first, SIGCONT);
  EXPECT_EQ(etltest::waitFor(first, 60), 0) << log("first");
  ASSERT_TRUE(waitUntil(
      [&] { return log("second").find("is this process's now") != std::string::npos; }, 30s))
      << log("second");
  ASSERT_TRUE(waitUntil([&] { return stored() >= kLines; }, 120s)) << log("second");
  std::this_thread::sleep_for(1s);  // anything stored twice would show now
  ::kill(second, SIGTERM);
  EXPECT_EQ(etltest::waitFor(second, 60), 0) << log("second");
  expectEachLineOnce();
}

// The owner's lock goes with its connection: cut it, and a second process (state of its own)
// takes the pipeline while the first still runs. The first's next checkpoint no longer holds what
// it expects: it rolls back and stops; the second stores the rest. Each line once.
class OneOwnerFenced : public testing::TestWithParam<etltest::Backend> {};

TEST_P(OneOwnerFenced, AnOwnerThatLostItsLockStopsBeforeStoringTwice) {
  etltest::TempDir dir;
  etltest::BackendDb db(GetParam(), "");
  {
    std::ofstream out(dir / "lines.jsonl");
    for (int i = 0; i < kLines; ++i) out << "{\"n\":" << i << "}\n";
  }
  std::string yaml = dir / "p.yaml";
  std::ofstream(yaml)
      << "connections:\n  db: {uri: \"" << db.uri()
      << "\"}\npipelines:\n  lines:\n    source: {plugin: file, path: \"" << (dir / "lines.jsonl")
      << "\", stream: s}\n    sink:\n      plugin: sql\n      connection: db\n"
         "      create: auto\n      tables:\n        lines:\n          stream: s\n          "
         "columns: {n: {path: n, type: bigint}}\n"
         "    batch: {max_records: 200, max_latency: 1s}\n";
  auto stored = [&] {
    try {
      return db.count("SELECT count(*) FROM \"lines\"");
    } catch (const std::exception&) {
      return int64_t{-1};
    }
  };
  int first = etltest::startEtlrun({"--once", "--state-dir=" + (dir / "a"), yaml}, dir / "a.out",
                                   dir / "a.err");
  auto deadline = Clock::now() + 60s;
  while (stored() <= 0 && Clock::now() < deadline) std::this_thread::sleep_for(20ms);
  ASSERT_GT(stored(), 0) << etltest::readFile(dir / "a.err");
  // The first stalls; its owner connection is cut (not the writers'): its lock is gone.
  ::kill(first, SIGSTOP);
  if (GetParam() == etltest::Backend::Postgres) {
    db.column(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name "
        "LIKE 'etlrun owner of lines:%'");
  } else {
    // The connection holding the owner lock of pipeline `lines` (see MysqlDatabase::claim).
    auto owner = db.column(
        "SELECT IS_USED_LOCK(CONCAT('etlrun_owner_', MD5(CONCAT(DATABASE(), CHAR(0), "
        "'lines'))))");
    ASSERT_FALSE(owner.empty() || owner[0].empty());
    db.column("KILL " + owner[0]);
  }
  auto second = etltest::runEtlrun({"--once", "--state-dir=" + (dir / "b"), yaml});
  ASSERT_EQ(second.exitCode, 0) << second.err;
  EXPECT_EQ(stored(), kLines) << second.err;
  // The first resumes with batches it read before: its checkpoint has moved on without it.
  ::kill(first, SIGCONT);
  int firstCode = etltest::waitFor(first, 120);
  std::string firstLog = etltest::readFile(dir / "a.err");
  EXPECT_EQ(firstCode, 70) << firstLog;
  EXPECT_NE(firstLog.find("moved on under this process"), std::string::npos) << firstLog;
  EXPECT_EQ(stored(), kLines) << firstLog << second.err;
  EXPECT_EQ(db.count("SELECT count(DISTINCT n) FROM \"lines\""), kLines);
}

INSTANTIATE_TEST_SUITE_P(Backends, OneOwner,
                         testing::Values(etltest::Backend::Postgres, etltest::Backend::Sqlite,
                                         etltest::Backend::Mariadb),
                         [](const auto& info) { return etltest::backendName(info.param); });

INSTANTIATE_TEST_SUITE_P(Backends, OneOwnerFenced,
                         testing::Values(etltest::Backend::Postgres, etltest::Backend::Mariadb),
                         [](const auto& info) { return etltest::backendName(info.param); });

}  // namespace
