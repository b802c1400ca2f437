// The jq transform's limits, through the real etlrun binary and its worker processes: a program
// that never ends, that makes endless outputs, that needs unbounded memory, whose outputs are too
// large, and a worker killed from outside are each that record's dead letter with its reason,
// and every other record comes out, in order. SIGTERM ends etlrun within seconds while a program
// runs, storing nothing of the batch; the next run reads it again.
#include <Poco/File.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "test_env.h"

namespace {

using Clock = std::chrono::steady_clock;

// Each record's `kind` says how the program misbehaves on it; ordinary records give {id}.
const char* kProgram = R"(
          if .kind == "loop" then until(false; .)
          elif .kind == "endless" then repeat(.)
          elif .kind == "memory" then reduce range(40) as $i ("x"; . + .) | length
          elif .kind == "wide" then [range(100000)]
          elif .kind == "sleep" then until(false; .)
          else {id} end)";

std::string pipeline(const std::string& limits) {
  return std::string(
             "pipelines:\n  t:\n    source: {plugin: file, path: \"${INPUT}\", stream: s}\n"
             "    transforms:\n      - plugin: jq\n        workers: 2\n") +
         limits + "        program: |" + kProgram +
         "\n    sink: {plugin: jsonl, path: \"${OUTPUT}\", format: raw}\n"
         "    batch: {max_records: 100, max_latency: 100ms}\n";
}

std::vector<std::string> lines(const std::string& path) {
  std::vector<std::string> out;
  if (!Poco::File(path).exists()) return out;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::string reasons(const std::string& deadLetters) {
  std::string all;
  for (const auto& line : lines(deadLetters)) all += line + "\n";
  return all;
}

TEST(JqLimits, EachRunawayRecordIsADeadLetterWithItsReasonAndTheRestComesOut) {
  etltest::TempDir dir;
  std::ofstream(dir / "p.yaml") << pipeline(
      "        timeout: 1s\n        max_outputs: 1000\n        max_output_bytes: 65536\n"
      "        max_memory_mib: 128\n");
  std::string expected;
  std::ostringstream text;
  const char* kinds[] = {"loop", "endless", "memory", "wide"};
  for (int i = 1; i <= 400; ++i) {
    if (i % 100 == 50) {
      text << "{\"id\":" << i << ",\"kind\":\"" << kinds[i / 100] << "\"}\n";
    } else {
      text << "{\"id\":" << i << "}\n";
      expected += "{\"id\":" + std::to_string(i) + "}\n";
    }
  }
  std::ofstream(dir / "in.jsonl") << text.str();
  auto start = Clock::now();
  auto result = etltest::runEtlrun({"--once", "--state-dir=" + (dir / "state"), dir / "p.yaml"},
                                   {{"INPUT", dir / "in.jsonl"}, {"OUTPUT", dir / "out.jsonl"}});
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  ASSERT_EQ(result.exitCode, 0) << result.err;
  EXPECT_EQ(etltest::readFile(dir / "out.jsonl"), expected);
  auto letters = lines(dir / "state/t.dead_letters.jsonl");
  ASSERT_EQ(letters.size(), 4u) << reasons(dir / "state/t.dead_letters.jsonl");
  EXPECT_NE(letters[0].find("\\\"loop\\\""), std::string::npos) << letters[0];
  EXPECT_NE(letters[0].find("ran longer than 1s on this record (timeout)"), std::string::npos)
      << letters[0];
  EXPECT_NE(letters[1].find("more than 1000 outputs for this record (max_outputs)"),
            std::string::npos)
      << letters[1];
  EXPECT_NE(letters[2].find("ran out of memory (max_memory 128 MiB)"), std::string::npos)
      << letters[2];
  EXPECT_NE(letters[3].find("exceed 65536 bytes (max_output_bytes)"), std::string::npos)
      << letters[3];
  // The time budget bounds the run: one timeout, not a hang.
  EXPECT_LT(seconds, 30) << result.err;
  EXPECT_NE(result.err.find("jq worker restarted"), std::string::npos) << result.err;
}

// The pids of the etl_jq_worker processes whose parent is `parent`.
std::vector<int> workersOf(int parent) {
  std::istringstream each(
      etltest::runProcess("/usr/bin/pgrep", {"-P", std::to_string(parent), "etl_jq_worker"}).out);
  std::vector<int> pids;
  for (int pid; each >> pid;) pids.push_back(pid);
  return pids;
}

// Whether `pid` still runs (a zombie waiting for its reaper does not).
bool running(int pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return false;
  auto close = line.rfind(')');
  return close != std::string::npos && close + 2 < line.size() && line[close + 2] != 'Z';
}

TEST(JqLimits, AWorkerKilledFromOutsideCostsOnlyItsRecord) {
  etltest::TempDir dir;
  std::ofstream(dir / "p.yaml") << pipeline("        timeout: 60s\n");
  std::string expected;
  std::ostringstream text;
  for (int i = 1; i <= 50; ++i) {
    if (i == 20) {
      text << "{\"id\":20,\"kind\":\"sleep\"}\n";
    } else {
      text << "{\"id\":" << i << "}\n";
      expected += "{\"id\":" + std::to_string(i) + "}\n";
    }
  }
  std::ofstream(dir / "in.jsonl") << text.str();
  int pid = etltest::startEtlrun({"--once", "--state-dir=" + (dir / "state"), dir / "p.yaml"},
                                 dir / "out.log", dir / "err.log",
                                 {{"INPUT", dir / "in.jsonl"}, {"OUTPUT", dir / "out.jsonl"}});
  // The record runs for up to 60 s: kill every worker while it does (one of them is on it).
  auto deadline = Clock::now() + std::chrono::seconds(20);
  int killed = 0;
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  while (Clock::now() < deadline && killed == 0) {
    for (int worker : workersOf(pid)) {
      ::kill(worker, SIGKILL);
      ++killed;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_GT(killed, 0) << "no jq worker found";
  int code = etltest::waitFor(pid, 30);
  std::string err = etltest::readFile(dir / "err.log");
  ASSERT_EQ(code, 0) << err;
  EXPECT_EQ(etltest::readFile(dir / "out.jsonl"), expected);
  auto letters = lines(dir / "state/t.dead_letters.jsonl");
  ASSERT_EQ(letters.size(), 1u) << reasons(dir / "state/t.dead_letters.jsonl");
  EXPECT_NE(letters[0].find("the jq worker died on this record (signal 9"), std::string::npos)
      << letters[0];
  EXPECT_NE(letters[0].find("\\\"sleep\\\""), std::string::npos) << letters[0];
}

TEST(JqLimits, SigtermEndsTheRunWithinSecondsWhileAProgramRuns) {
  etltest::TempDir dir;
  std::ofstream(dir / "p.yaml") << pipeline("        timeout: 1h\n");
  std::ofstream(dir / "in.jsonl") << "{\"id\":1}\n{\"id\":2,\"kind\":\"sleep\"}\n{\"id\":3}\n";
  int pid = etltest::startEtlrun({"--once", "--state-dir=" + (dir / "state"), dir / "p.yaml"},
                                 dir / "out.log", dir / "err.log",
                                 {{"INPUT", dir / "in.jsonl"}, {"OUTPUT", dir / "out.jsonl"}});
  // Wait until the program is running on the record that never ends.
  auto deadline = Clock::now() + std::chrono::seconds(20);
  while (Clock::now() < deadline && workersOf(pid).empty()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  std::vector<int> workers = workersOf(pid);
  ASSERT_FALSE(workers.empty()) << etltest::readFile(dir / "err.log");
  auto start = Clock::now();
  ::kill(pid, SIGTERM);
  int code = etltest::waitFor(pid, 10);
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::string err = etltest::readFile(dir / "err.log");
  ASSERT_NE(code, etltest::kTimedOut) << err;
  EXPECT_LT(seconds, 5) << err;
  // Nothing of the batch was stored, and no worker outlives etlrun.
  EXPECT_TRUE(lines(dir / "out.jsonl").empty());
  EXPECT_TRUE(lines(dir / "state/t.dead_letters.jsonl").empty());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  for (int worker : workers) EXPECT_FALSE(running(worker)) << "jq worker " << worker << " lives on";
  // The next run, with a time budget, reads the batch again: the runaway is a dead letter.
  std::ofstream(dir / "p.yaml") << pipeline("        timeout: 300ms\n");
  auto again = etltest::runEtlrun({"--once", "--state-dir=" + (dir / "state"), dir / "p.yaml"},
                                  {{"INPUT", dir / "in.jsonl"}, {"OUTPUT", dir / "out.jsonl"}});
  ASSERT_EQ(again.exitCode, 0) << again.err;
  EXPECT_EQ(etltest::readFile(dir / "out.jsonl"), "{\"id\":1}\n{\"id\":3}\n");
  EXPECT_EQ(lines(dir / "state/t.dead_letters.jsonl").size(), 1u);
}

// The program runs the same for every user and never reads etlrun's environment: ~/.jq is not
// included, and `env`/`$ENV` see no secrets (only TZ and the locale pass).
TEST(JqLimits, TheProgramSeesNeitherHomeNorTheEnvironment) {
  etltest::TempDir dir;
  Poco::File(dir / "home").createDirectories();
  etltest::writeFile(dir / "home/.jq", "def ascii_downcase: \"HIJACKED\";\n");
  std::ofstream(dir / "p.yaml")
      << "pipelines:\n  t:\n    source: {plugin: file, path: \"${INPUT}\", stream: s}\n"
         "    transforms:\n      - plugin: jq\n        program: '{name: (.name | "
         "ascii_downcase), secret: $ENV.ETL_TEST_SECRET, env: (env | has(\"ETL_TEST_SECRET\"))}'\n"
         "    sink: {plugin: jsonl, path: \"${OUTPUT}\"}\n";
  std::ofstream(dir / "in.jsonl") << "{\"name\":\"Ana\"}\n";
  auto result = etltest::runEtlrun({"--once", "--state-dir=" + (dir / "state"), dir / "p.yaml"},
                                   {{"INPUT", dir / "in.jsonl"},
                                    {"OUTPUT", dir / "out.jsonl"},
                                    {"HOME", dir / "home"},
                                    {"ETL_TEST_SECRET", "hunter2"}});
  ASSERT_EQ(result.exitCode, 0) << result.err;
  EXPECT_EQ(etltest::readFile(dir / "out.jsonl"),
            "{\"name\":\"ana\",\"secret\":null,\"env\":false}\n");
}

// A compile error on a very long line is a message, not a crash: etlrun never compiles in its own
// process, and jq's message (which holds the whole line) is read without recursion.
TEST(JqLimits, ACompileErrorOnAVeryLongLineIsReported) {
  etltest::TempDir dir;
  std::ofstream(dir / "p.yaml")
      << "pipelines:\n  t:\n    source: {plugin: file, path: x, stream: "
         "s}\n    transforms:\n      - plugin: jq\n        program: '{a: \""
      << std::string(100000, 'x') << "\"} | $missing'\n    sink: {plugin: jsonl}\n";
  auto result = etltest::runEtlrun({"validate", dir / "p.yaml"});
  EXPECT_EQ(result.exitCode, 78) << result.err.substr(0, 2000);
  EXPECT_NE(result.err.find("p.yaml:6:19: jq: $missing is not defined"), std::string::npos)
      << result.err.substr(0, 2000);
}

}  // namespace
