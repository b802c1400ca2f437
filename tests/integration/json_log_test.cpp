// etlrun --log-format=json: every line on stderr is one JSON object (time, level, logger, pipeline,
// plugin, message), whatever the messages hold: here a file name with a control character, a
// quote and a byte that is not UTF-8, and a dead letter of such bytes; and mistakes in the file.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <sstream>

#include "etl/record.h"
#include "test_env.h"

namespace {

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// Each line valid JSON (RFC 8259, UTF-8 checked) with the fields every line has.
void expectJsonLines(const std::string& err) {
  auto all = lines(err);
  ASSERT_FALSE(all.empty());
  for (const auto& line : all) {
    etl::Record record("log", line);
    ASSERT_EQ(record.jsonError(), "") << line;
    for (const char* field : {"time", "level", "logger", "message"}) {
      EXPECT_TRUE(record.find<std::string>(field)) << field << " missing: " << line;
    }
  }
}

TEST(JsonLog, EveryLineIsAJsonObjectWhateverTheMessagesHold) {
  etltest::TempDir dir;
  std::string in = dir / "in";
  ::mkdir(in.c_str(), 0755);
  std::string name = in + "/odd\x01\xff\"name.jsonl";
  etltest::writeFile(name, "{\"id\":\"1\",\"type\":\"PushEvent\"}\nnot json \x02\xfe\n");
  etltest::writeFile(dir / "p.yaml", "pipelines:\n  p:\n    source: {plugin: file, path: \"" + in +
                                         "/*.jsonl\"}\n    sink: {plugin: jsonl, path: \"" +
                                         (dir / "out.jsonl") + "\"}\n");
  auto result = etltest::runEtlrun({"--once", "--log-format=json", "--log-level=debug",
                                    "--state-dir=" + (dir / "state"), dir / "p.yaml"});
  ASSERT_EQ(result.exitCode, 0) << result.err;
  expectJsonLines(result.err);
  bool sawFile = false, sawRunner = false, sawApp = false, sawDeadLetter = false;
  for (const auto& line : lines(result.err)) {
    etl::Record record("log", line);
    auto logger = record.get<std::string>("logger");
    auto message = record.get<std::string>("message");
    if (logger == "p.file") {
      EXPECT_EQ(record.find<std::string>("pipeline"), "p") << line;
      EXPECT_EQ(record.find<std::string>("plugin"), "file") << line;
      // The file's name, its bad byte as U+FFFD and its control character escaped.
      if (message.find("reading file 1/1: ") != std::string::npos) {
        sawFile = true;
        EXPECT_NE(message.find("odd\x01\xEF\xBF\xBD\"name.jsonl"), std::string::npos) << line;
        EXPECT_NE(line.find("odd\\u0001\xEF\xBF\xBD\\\"name.jsonl"), std::string::npos) << line;
      }
    } else if (logger == "p") {
      sawRunner = true;
      EXPECT_EQ(record.find<std::string>("pipeline"), "p") << line;
      EXPECT_FALSE(record.has("plugin")) << line;
      sawDeadLetter = sawDeadLetter || message.find("dead letter") != std::string::npos;
    } else if (logger == "etlrun") {
      sawApp = true;
      EXPECT_FALSE(record.has("pipeline")) << line;
    }
    auto level = record.get<std::string>("level");
    EXPECT_TRUE(level == "debug" || level == "information" || level == "warning") << line;
    EXPECT_EQ(record.get<std::string>("time").size(), 24u) << line;  // 2026-01-12T10:00:00.000Z
  }
  EXPECT_TRUE(sawFile && sawRunner && sawApp && sawDeadLetter) << result.err;
}

TEST(JsonLog, MistakesInThePipelineFileAreJsonLinesToo) {
  etltest::TempDir dir;
  etltest::writeFile(dir / "p.yaml",
                     "pipelines:\n  p:\n    source: {plugin: file, pth: x}\n    sink: {plugin: "
                     "jsonl}\n");
  auto result = etltest::runEtlrun({"--log-format=json", dir / "p.yaml"});
  EXPECT_EQ(result.exitCode, 78) << result.err;
  expectJsonLines(result.err);
  EXPECT_NE(result.err.find("unknown key 'pth'"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("\"level\":\"critical\""), std::string::npos) << result.err;
}

TEST(JsonLog, AnUnknownFormatIsAUsageError) {
  auto result = etltest::runEtlrun({"--log-format=xml", "validate", "x.yaml"});
  EXPECT_EQ(result.exitCode, 64) << result.err;
  EXPECT_NE(result.err.find("expected text or json, got 'xml'"), std::string::npos) << result.err;
}

}  // namespace
