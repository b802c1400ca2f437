// A run where (nearly) every record becomes a dead letter is a failure, not a success: something
// is wrong with all of them (the mapping, the table, the input). health.max_dead_letter_ratio
// over the last dead_letter_window records; 0.9 by default with --once. The letters are kept.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>

#include "test_env.h"

namespace {

struct Threshold : testing::Test {
  etltest::TempDir dir;

  // `lines` lines, every `badEvery`-th one not JSON (1: all of them).
  etltest::ProcessResult run(int lines, int badEvery, const std::string& health, bool once) {
    std::ofstream in(dir / "in.jsonl");
    for (int i = 0; i < lines; ++i) {
      if (i % badEvery == 0) {
        in << "not json " << i << "\n";
      } else {
        in << "{\"type\":\"PushEvent\",\"n\":" << i << "}\n";
      }
    }
    in.close();
    std::ofstream(dir / "p.yaml")
        << "pipelines:\n  t:\n    source: {plugin: file, path: \"" << (dir / "in.jsonl")
        << "\", stream: s}\n    transforms: [{plugin: event_filter, match: {type: [PushEvent]}}]\n"
        << "    sink: {plugin: jsonl, path: \"" << (dir / "out.jsonl") << "\"}\n"
        << "    batch: {max_records: 50, max_latency: 100ms}\n"
        << (health.empty() ? "" : "    health: " + health + "\n");
    std::vector<std::string> args{"--state-dir=" + (dir / "state"), dir / "p.yaml"};
    if (once) args.insert(args.begin(), "--once");
    return etltest::runEtlrun(args);
  }
  int letters() const {
    std::string text = etltest::readFile(dir / "state/t.dead_letters.jsonl");
    return static_cast<int>(std::count(text.begin(), text.end(), '\n'));
  }
};

TEST_F(Threshold, AOnceRunWhoseRecordsAllBecameDeadLettersFails) {
  auto r = run(300, 1, "", true);
  EXPECT_EQ(r.exitCode, 70) << r.err;
  EXPECT_NE(r.err.find("300 of the last 300 records became dead letters, more than "
                       "health.max_dead_letter_ratio (90%, the default with --once)"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(letters(), 300);  // kept, for a replay after the fix
}

TEST_F(Threshold, AFewBadRecordsAreDeadLettersAndTheRunSucceeds) {
  auto r = run(300, 10, "", true);
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(letters(), 30);
}

TEST_F(Threshold, ARatioOfOneNeverFailsAndATinyRunIsNotJudged) {
  auto r = run(300, 1, "{max_dead_letter_ratio: 1}", true);
  EXPECT_EQ(r.exitCode, 0) << r.err;
  auto tiny = run(20, 1, "", true);  // 20 bad lines: too few to be a pattern
  EXPECT_EQ(tiny.exitCode, 0) << tiny.err;
}

TEST_F(Threshold, AServiceFailsOnceItsWindowIsMostlyDeadLetters) {
  // Every line bad: once 100 records are in, more than half of them, the service stops (exit 70).
  auto r = run(3000, 1, "{max_dead_letter_ratio: 0.5, dead_letter_window: 100}", false);
  EXPECT_EQ(r.exitCode, 70) << r.err;
  EXPECT_NE(r.err.find("records became dead letters, more than health.max_dead_letter_ratio "
                       "(50%)"),
            std::string::npos)
      << r.err;
}

}  // namespace
