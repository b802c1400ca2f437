// GET /metrics of a real etlrun: every family a backfill into SQLite and a failing source produce
// has its # HELP (from core/src/metric_help.cpp) and # TYPE, and no gauge is named like a counter.
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "prometheus_text.h"
#include "test_env.h"

namespace {

using namespace std::chrono_literals;

TEST(Metrics, EveryFamilyOfARealRunIsDescribedAndTyped) {
  etltest::TempDir dir;
  unsigned short port;
  {
    Poco::Net::ServerSocket probe(Poco::Net::SocketAddress("127.0.0.1", 0));
    port = probe.address().port();
  }
  // A backfill with a line that is not JSON (a dead letter), beside a pipeline whose source keeps
  // failing (nothing listens at its base_url), which keeps the process serving after the backfill.
  etltest::writeFile(dir / "in.jsonl",
                     etltest::readFile(etltest::dataDir() +
                                       "/gharchive/gharchive_2021-07-21_hour06_200events.jsonl") +
                         "not json\n");
  etltest::writeFile(
      dir / "p.yaml",
      "connections:\n  db: \"sqlite:" + (dir / "m.sqlite") +
          "\"\npipelines:\n"
          "  backfill:\n"
          "    source: {plugin: file, path: \"" +
          (dir / "in.jsonl") +
          "\", stream: events}\n"
          "    sink:\n      plugin: sql\n      connection: db\n      create: auto\n"
          "      tables:\n        events:\n          stream: events\n          key: [id]\n"
          "          columns: {id: {path: id, required: true}, type: type}\n"
          "  live:\n"
          "    source: {plugin: github_events, base_url: \"http://127.0.0.1:1\"}\n"
          "    sink: {plugin: jsonl, path: \"" +
          (dir / "live.jsonl") + "\"}\n    retry: {initial_backoff: 100ms, max_backoff: 200ms}\n");
  int pid = etltest::startEtlrun({"--http=127.0.0.1:" + std::to_string(port),
                                  "--state-dir=" + (dir / "state"), dir / "p.yaml"},
                                 dir / "out", dir / "err");
  std::string text;
  for (int i = 0; i < 200; ++i) {
    text = etltest::httpGet(port, "/metrics").second;
    if (text.find("etlrun_files_done_total{pipeline=\"backfill\"} 1\n") != std::string::npos &&
        text.find("etlrun_retries_total{pipeline=\"live\"}") != std::string::npos) {
      break;
    }
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_NE(text.find("etlrun_rows_stored_total{pipeline=\"backfill\",table=\"events\"} 200\n"),
            std::string::npos)
      << text << etltest::readFile(dir / "err");
  auto problems = etltest::prometheusProblems(text, true);
  EXPECT_TRUE(problems.empty()) << testing::PrintToString(problems) << "\n" << text;
  auto families = etltest::prometheusFamilies(text);
  auto has = [&](const std::string& name, const std::string& type) {
    return std::find(families.begin(), families.end(), std::make_pair(name, type)) !=
           families.end();
  };
  // The file source's count of files to read is a gauge, no longer etlrun_files_total.
  EXPECT_TRUE(has("etlrun_files_planned", "gauge")) << text;
  EXPECT_FALSE(has("etlrun_files_total", "gauge")) << text;
  EXPECT_NE(text.find("etlrun_files_planned{pipeline=\"backfill\"} 1\n"), std::string::npos);
  for (const char* counter :
       {"etlrun_records_in_total", "etlrun_files_done_total", "etlrun_dead_letter_records_total",
        "etlrun_rows_stored_total", "etlrun_retries_total"}) {
    EXPECT_TRUE(has(counter, "counter")) << counter << "\n" << text;
  }
  EXPECT_TRUE(has("etlrun_batch_write_seconds", "histogram")) << text;
  EXPECT_TRUE(has("etlrun_seconds_since_progress", "gauge")) << text;
  ::kill(pid, SIGTERM);
  EXPECT_EQ(etltest::waitFor(pid, 60), 0) << etltest::readFile(dir / "err");
}

}  // namespace
