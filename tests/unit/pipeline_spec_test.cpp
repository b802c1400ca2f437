#include "pipeline_spec.h"

#include <gtest/gtest.h>

#include "test_env.h"

namespace {

etl::EnvLookup fakeEnv(std::map<std::string, std::string> values) {
  return [values](const std::string& name) -> std::optional<std::string> {
    auto it = values.find(name);
    if (it == values.end()) return std::nullopt;
    return it->second;
  };
}

etl::PipelineFile load(const std::string& yaml, const etl::EnvLookup& env = fakeEnv({})) {
  etltest::TempDir dir;
  etltest::writeFile(dir / "p.yaml", yaml);
  etl::PluginLoader loader({etltest::pluginDir()});
  return etl::loadPipelineFile(dir / "p.yaml", loader, env);
}

std::vector<std::string> errorsOf(const std::string& yaml,
                                  const etl::EnvLookup& env = fakeEnv({})) {
  try {
    load(yaml, env);
  } catch (const etl::ConfigErrors& e) {
    return e.errors();
  }
  return {};
}

const char* kValid = R"(state_dir: ${STATE:-/var/lib/etl}
pipelines:
  one:
    source: {plugin: file, path: "${DATA:?set DATA}/x.jsonl", stream: github_events}
    transforms:
      - plugin: event_filter
        match: {type: [PushEvent, CreateEvent], public: "true"}
    sink: {plugin: jsonl, path: out.jsonl, fsync: no}
    batch: {max_records: 250, max_latency: 1.5s, queue: 2}
    retry: {initial_backoff: 100ms, max_backoff: 2m}
  two:
    source: {plugin: file, path: "$${literal}"}
    sink: {plugin: jsonl}
)";

TEST(PipelineSpec, ParsesTypedValuesDefaultsAndSubstitutions) {
  auto file = load(kValid, fakeEnv({{"DATA", "/data"}}));
  EXPECT_EQ(file.stateDir, "/var/lib/etl");
  ASSERT_EQ(file.pipelines.size(), 2u);
  const auto& one = file.pipelines[0];
  EXPECT_EQ(one.name, "one");
  EXPECT_EQ(one.source.config.getString("path"), "/data/x.jsonl");
  EXPECT_EQ(one.source.config.getString("stream"), "github_events");
  EXPECT_EQ(one.transforms.at(0).config.getStringListMap("match").at("type"),
            (std::vector<std::string>{"PushEvent", "CreateEvent"}));
  EXPECT_FALSE(one.sink.config.getBool("fsync"));
  EXPECT_EQ(one.maxRecords, 250u);
  EXPECT_EQ(one.maxLatency, etl::Millis(1500));
  EXPECT_EQ(one.queueBatches, 2u);
  EXPECT_EQ(one.retryMax, etl::Millis(120000));
  const auto& two = file.pipelines[1];
  EXPECT_EQ(two.source.config.getString("path"), "${literal}");
  EXPECT_EQ(two.source.config.getString("stream"), "events") << "default applied";
  EXPECT_EQ(two.sink.config.getString("path"), "-");
  EXPECT_EQ(two.maxRecords, 500u) << "default batch size";
}

TEST(PipelineSpec, SubstitutionForms) {
  const char* yaml = R"(pipelines:
  p:
    source: {plugin: file, path: "${A}-${B:-dflt}-${EMPTY:-fallback}-${EMPTY}"}
    sink: {plugin: jsonl}
)";
  auto file = load(yaml, fakeEnv({{"A", "a"}, {"EMPTY", ""}}));
  EXPECT_EQ(file.pipelines[0].source.config.getString("path"), "a-dflt-fallback-");
  auto errors = errorsOf(yaml, fakeEnv({}));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find(":3:34: 'path': environment variable A is not set"), std::string::npos)
      << errors[0];
}

TEST(PipelineSpec, SubstitutedSecretsAreNeverEchoed) {
  auto errors = errorsOf(R"(pipelines:
  p:
    source: {plugin: file, path: x}
    sink: {plugin: jsonl, fsync: "${SECRET}"}
)",
                         fakeEnv({{"SECRET", "hunter2-token"}}));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("'fsync' must be a boolean"), std::string::npos) << errors[0];
  EXPECT_EQ(errors[0].find("hunter2"), std::string::npos) << errors[0];
}

TEST(PipelineSpec, ReportsAllErrorsAtOnce) {
  auto errors = errorsOf(R"(pipelines:
  p:
    source: {plugin: file, pth: x}
    sink: {plugin: jsonl, fsync: maybe}
    batch: {max_records: 0}
)");
  ASSERT_EQ(errors.size(), 4u);
  EXPECT_NE(errors[0].find(":3:28: unknown key 'pth'"), std::string::npos) << errors[0];
  EXPECT_NE(errors[0].find("did you mean 'path'"), std::string::npos) << errors[0];
  EXPECT_NE(
      errors[1].find(":3:13: pipeline 'p' source (plugin 'file'): missing required key 'path'"),
      std::string::npos)
      << errors[1];
  EXPECT_NE(errors[2].find(":4:34: 'fsync' must be a boolean, got 'maybe'"), std::string::npos);
  EXPECT_NE(errors[3].find(":5:26: 'max_records' must be at least 1"), std::string::npos)
      << errors[3];
}

TEST(PipelineSpec, EditDistance) {
  EXPECT_EQ(etl::editDistance("pth", "path"), 1u);
  EXPECT_EQ(etl::editDistance("", "abc"), 3u);
  EXPECT_EQ(etl::editDistance("kitten", "sitting"), 3u);
}

}  // namespace
