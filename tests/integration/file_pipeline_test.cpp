// file -> event_filter -> jsonl through the real etlrun binary: expected output over recorded
// GitHub events, gzip input, dead letters, and exactly-once output across kill -9 and SIGTERM.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <random>
#include <thread>

#include "event_generator.h"
#include "test_env.h"

namespace {

std::string pipeline(const std::string& input, const std::string& output, bool filter,
                     int maxRecords = 50) {
  std::string yaml = "pipelines:\n  copy:\n    source: {plugin: file, path: \"" + input +
                     "\", stream: github_events, key_field: id}\n";
  if (filter)
    yaml += "    transforms:\n      - plugin: event_filter\n        match: {type: [PushEvent]}\n";
  yaml += "    sink: {plugin: jsonl, path: \"" + output + "\"}\n";
  yaml += "    batch: {max_records: " + std::to_string(maxRecords) + ", max_latency: 200ms}\n";
  return yaml;
}

const std::string kHour = "/gharchive/gharchive_2021-07-21_hour06_200events.jsonl";

TEST(FilePipeline, KeepsThePushEventsOfARecordedGhArchiveHour) {
  etltest::TempDir dir;
  etltest::writeFile(dir / "p.yaml", pipeline(etltest::dataDir() + kHour, dir / "out.jsonl", true));
  auto result = etltest::runEtlrun({"--once", "--state-dir=" + (dir / "state"), dir / "p.yaml"});
  ASSERT_EQ(result.exitCode, 0) << result.err;
  EXPECT_EQ(etltest::readFile(dir / "out.jsonl"),
            etltest::readFile(etltest::dataDir() + "/expected/gharchive_push_events.jsonl"));
  // Run again: the checkpoint says the input is done; nothing is added.
  result = etltest::runEtlrun({"--once", "--state-dir=" + (dir / "state"), dir / "p.yaml"});
  ASSERT_EQ(result.exitCode, 0) << result.err;
  EXPECT_EQ(etltest::readLines(dir / "out.jsonl").size(), 109u);
}

TEST(FilePipeline, ReadsGzipFilesOfAGlobInHourOrder) {
  etltest::TempDir dir;
  auto lines = etltest::readLines(etltest::dataDir() + kHour);
  // Two "hours", named as GH Archive does (no zero padding): 6 must come before 10.
  std::string first, second;
  for (std::size_t i = 0; i < lines.size(); ++i) (i < 120 ? first : second) += lines[i] + "\n";
  etltest::writeFile(dir / "2021-07-21-6.json", first);
  etltest::writeFile(dir / "2021-07-21-10.json", second);
  ASSERT_EQ(
      std::system(
          ("gzip " + (dir / "2021-07-21-6.json") + " " + (dir / "2021-07-21-10.json")).c_str()),
      0);
  etltest::writeFile(dir / "p.yaml",
                     pipeline(dir / "2021-07-21-*.json.gz", dir / "out.jsonl", false));
  auto result = etltest::runEtlrun({"--once", "--state-dir=" + (dir / "state"), dir / "p.yaml"});
  ASSERT_EQ(result.exitCode, 0) << result.err;
  EXPECT_EQ(etltest::readFile(dir / "out.jsonl"), etltest::readFile(etltest::dataDir() + kHour));
}

TEST(FilePipeline, MalformedLinesBecomeDeadLettersAndTheRestIsKept) {
  etltest::TempDir dir;
  auto lines = etltest::readLines(etltest::dataDir() + kHour);
  std::string input = lines[0] + "\n{\"id\":\"1\",\"type\":\"PushEv\n" + lines[1] + "\n";
  etltest::writeFile(dir / "in.jsonl", input);
  std::string yaml = pipeline(dir / "in.jsonl", dir / "out.jsonl", true);
  yaml.replace(yaml.find("[PushEvent]"), 11, "[DeleteEvent, CreateEvent]");
  etltest::writeFile(dir / "p.yaml", yaml);
  auto result = etltest::runEtlrun({"--once", "--state-dir=" + (dir / "state"), dir / "p.yaml"});
  ASSERT_EQ(result.exitCode, 0) << result.err;
  EXPECT_EQ(etltest::readLines(dir / "out.jsonl"), (std::vector<std::string>{lines[0], lines[1]}));
  auto letters = etltest::readLines(dir / "state/copy.dead_letters.jsonl");
  ASSERT_EQ(letters.size(), 1u);
  EXPECT_NE(letters[0].find("\"plugin\":\"event_filter\""), std::string::npos) << letters[0];
  EXPECT_NE(letters[0].find("invalid JSON"), std::string::npos) << letters[0];
  EXPECT_NE(result.err.find("dead letter from event_filter"), std::string::npos);
}

class LargeInput : public testing::Test {
 protected:
  void SetUp() override {
    auto templates = etltest::templateEvents(etltest::dataDir());
    etltest::writeEvents(templates, kEvents, 1000000, dir_ / "in.jsonl");
    etltest::writeFile(dir_ / "p.yaml",
                       pipeline(dir_ / "in.jsonl", dir_ / "out.jsonl", false, 200));
  }
  std::vector<std::string> args() { return {"--state-dir=" + (dir_ / "state"), dir_ / "p.yaml"}; }
  static constexpr int kEvents = 30000;
  etltest::TempDir dir_;
};

TEST_F(LargeInput, KillNineAtRandomMomentsNeitherLosesNorRepeatsALine) {
  std::mt19937 random(std::random_device{}());
  int kills = 0;
  for (int round = 0; round < 8; ++round) {
    int pid = etltest::startEtlrun(args(), dir_ / "stdout", dir_ / "stderr");
    std::this_thread::sleep_for(
        std::chrono::milliseconds(random() % 250));  // from before the first commit on
    if (::kill(pid, SIGKILL) == 0) ++kills;
    etltest::waitFor(pid);
  }
  auto result = etltest::runEtlrun({"--once", args()[0], args()[1]});
  ASSERT_EQ(result.exitCode, 0) << result.err;
  EXPECT_GT(kills, 0);
  // Byte for byte the input: every line once, in order.
  EXPECT_TRUE(etltest::readFile(dir_ / "out.jsonl") == etltest::readFile(dir_ / "in.jsonl"))
      << "output has " << etltest::readLines(dir_ / "out.jsonl").size() << " lines, input "
      << kEvents;
}

TEST_F(LargeInput, SigtermDrainsCommitsAndExitsZero) {
  int pid = etltest::startEtlrun(args(), dir_ / "stdout", dir_ / "stderr");
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  ::kill(pid, SIGTERM);
  EXPECT_EQ(etltest::waitFor(pid, 60), 0) << etltest::readFile(dir_ / "stderr");
  EXPECT_NE(etltest::readFile(dir_ / "stderr").find("draining"), std::string::npos);
  // What is in the file is exactly what the checkpoint covers: a restart completes it.
  auto result = etltest::runEtlrun({"--once", args()[0], args()[1]});
  ASSERT_EQ(result.exitCode, 0) << result.err;
  EXPECT_EQ(result.err.find("uncommitted bytes"), std::string::npos) << "SIGTERM left a torn batch";
  EXPECT_TRUE(etltest::readFile(dir_ / "out.jsonl") == etltest::readFile(dir_ / "in.jsonl"));
}

}  // namespace
