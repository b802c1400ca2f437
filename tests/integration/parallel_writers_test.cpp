// Parallel ordered writers (`writers: N`) into a real PostgreSQL and MariaDB, through the real
// etlrun binary, killed with SIGKILL at random moments: every record is stored
// exactly once. A table without a key would show any batch stored twice (a checkpoint behind its
// data) or skipped (ahead of it); an upsert of a few hot keys makes the writers fight over the same
// rows (an earlier batch waiting for a later one's lock must not hang), and must end with what the
// last line of each key says.
#include <gtest/gtest.h>
#include <signal.h>

#include <iostream>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "backends.h"
#include "etl/record.h"
#include "event_generator.h"
#include "test_env.h"

namespace {

struct Expected {
  std::size_t lines = 0;                      // valid events, repeats included
  std::set<std::string> ids;                  // distinct events
  std::map<std::string, std::string> latest;  // type -> id of its last line
};

Expected expected(const std::string& path) {
  Expected e;
  for (const auto& line : etltest::readLines(path)) {
    etl::Record r("e", line);
    auto id = r.find<std::string>("id");
    auto type = r.find<std::string>("type");
    if (!id || !type) continue;
    ++e.lines;
    e.ids.insert(*id);
    e.latest[*type] = *id;
  }
  return e;
}

class ParallelWriters : public testing::TestWithParam<std::tuple<etltest::Backend, int>> {};

TEST_P(ParallelWriters, KillNineAtRandomMomentsStoresEachRecordExactlyOnceInOrder) {
  auto [backend, writers] = GetParam();
  etltest::TempDir dir;
  etltest::BackendDb db(backend, dir / "unused.sqlite");
  auto templates = etltest::templateEvents(etltest::dataDir());
  etltest::writeEvents(templates, 15000, 7000000, dir / "in.jsonl");
  // Repeat a slice, as overlapping hour files would: the same keys arrive in two batches.
  std::string input = etltest::readFile(dir / "in.jsonl");
  input += input.substr(0, input.find('\n', input.size() / 8) + 1);
  etltest::writeFile(dir / "in.jsonl", input);
  Expected want = expected(dir / "in.jsonl");

  std::string yaml = dir / "p.yaml";
  etltest::writeFile(
      yaml, "pipelines:\n  load:\n    source: {plugin: file, path: \"" + (dir / "in.jsonl") +
                "\"}\n"
                "    sink:\n"
                "      plugin: sql\n"
                "      writers: " +
                std::to_string(writers) +
                "\n"
                "      connection: \"" +
                db.uri() +
                "\"\n"
                "      create: auto\n"
                "      tables:\n"
                "        events: {stream: events, key: [id], columns: {id: id, type: type}}\n"
                "        event_log: {stream: events, columns: {id: id}}\n"  // no key
                "        latest_by_type:\n"
                "          stream: events\n"
                "          mode: upsert\n"
                "          key: [type]\n"
                "          columns: {type: type, id: id}\n"
                "    batch: {max_records: 40, max_latency: 200ms, queue: 2}\n");
  auto seed = std::random_device{}();
  std::cout << "seed " << seed << " (kill moments)\n";
  std::mt19937 random(seed);
  auto logged = [&]() -> int64_t {
    try {
      return db.count("SELECT count(*) FROM event_log");
    } catch (const std::exception&) {
      return 0;  // killed before it created the table
    }
  };
  int midRun = 0;  // kills that left work undone
  for (int i = 0; i < 12; ++i) {
    int pid =
        etltest::startEtlrun({"--state-dir=" + (dir / "state"), yaml}, dir / "out", dir / "err");
    std::this_thread::sleep_for(std::chrono::milliseconds(40 + random() % 200));
    ::kill(pid, SIGKILL);
    etltest::waitFor(pid);
    if (logged() >= static_cast<int64_t>(want.lines)) break;
    ++midRun;
  }
  EXPECT_GE(midRun, 3) << "the kills came too late to matter";
  auto last = etltest::runEtlrun({"--once", "--state-dir=" + (dir / "state"), yaml});
  ASSERT_EQ(last.exitCode, 0) << last.err;
  EXPECT_NE(last.err.find("resuming from checkpoint"), std::string::npos) << last.err;

  EXPECT_EQ(db.count("SELECT count(*) FROM events"), static_cast<int64_t>(want.ids.size()));
  EXPECT_EQ(db.count("SELECT count(*) FROM event_log"), static_cast<int64_t>(want.lines))
      << "a batch was stored twice or not at all";
  EXPECT_EQ(db.count("SELECT count(*) FROM (SELECT id FROM event_log GROUP BY id "
                     "HAVING count(*) > 2) t"),
            0);
  auto rows = db.column("SELECT type || '=' || id FROM latest_by_type");
  std::set<std::string> got(rows.begin(), rows.end()), wanted;
  for (const auto& [type, id] : want.latest) wanted.insert(type + "=" + id);
  EXPECT_EQ(got, wanted) << "a later batch's upsert was overwritten by an earlier one";
  EXPECT_EQ(db.count("SELECT count(*) FROM etl_dead_letters"), 0);
}

auto writersName = [](const auto& info) {
  return etltest::backendName(std::get<0>(info.param)) + "_" +
         std::to_string(std::get<1>(info.param)) + "writers";
};
INSTANTIATE_TEST_SUITE_P(Writers, ParallelWriters,
                         testing::Combine(testing::Values(etltest::Backend::Postgres,
                                                          etltest::Backend::Mariadb),
                                          testing::Values(1, 2, 4)),
                         writersName);

}  // namespace
