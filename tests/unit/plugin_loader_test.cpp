#include "plugin_loader.h"

#include <gtest/gtest.h>

#include "test_env.h"

TEST(PluginLoader, FindsTheBundledPlugins) {
  etl::PluginLoader loader({etltest::pluginDir()});
  auto names = loader.available();
  for (const char* expected : {"event_filter", "file", "jsonl"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), expected), names.end()) << expected;
  }
  const auto& file = loader.load("file");
  EXPECT_STREQ(file.name, "file");
  EXPECT_EQ(file.kind, etl::Kind::Source);
  EXPECT_STREQ(file.schema[0].key, "path");
}

TEST(PluginLoader, UnknownPluginListsTheKnownOnes) {
  etl::PluginLoader loader({etltest::pluginDir()});
  try {
    loader.load("postgress");
    FAIL();
  } catch (const etl::PluginError& e) {
    std::string message = e.what();
    EXPECT_NE(message.find("unknown plugin 'postgress'"), std::string::npos) << message;
    EXPECT_NE(message.find("known plugins: event_filter, file, "), std::string::npos) << message;
    EXPECT_NE(message.find(", jsonl"), std::string::npos) << message;
  }
}

TEST(PluginLoader, RefusesAPluginBuiltForAnotherAbi) {
  etl::PluginLoader loader({ETLTEST_BAD_PLUGIN_DIR, etltest::pluginDir()});
  try {
    loader.load("bad_abi");
    FAIL() << "a mismatched plugin was accepted";
  } catch (const etl::PluginError& e) {
    std::string message = e.what();
    std::string file = std::string(ETLTEST_BAD_PLUGIN_DIR) + "/libetl_bad_abi.so";
    EXPECT_NE(message.find(file), std::string::npos) << message;
    EXPECT_NE(message.find("has ABI version 99"), std::string::npos) << message;
    EXPECT_NE(message.find("expects ABI version " + std::to_string(ETL_PLUGIN_ABI_VERSION)),
              std::string::npos)
        << message;
  }
  // The refusal does not poison the others.
  EXPECT_STREQ(loader.load("jsonl").name, "jsonl");
}

TEST(PluginLoader, RefusesAPluginWhoseDescriptorIsNullNamingIt) {
  etl::PluginLoader loader({ETLTEST_BAD_PLUGIN_DIR, etltest::pluginDir()});
  try {
    loader.load("null_descriptor");
    FAIL() << "a plugin without a descriptor was accepted";
  } catch (const etl::PluginError& e) {
    std::string message = e.what();
    EXPECT_NE(message.find("plugin 'null_descriptor'"), std::string::npos) << message;
    EXPECT_NE(message.find("returned no descriptor"), std::string::npos) << message;
  }
  // Through etlrun: listed as refused (not a crash), and a pipeline naming it is a config error.
  std::string path = std::string(ETLTEST_BAD_PLUGIN_DIR) + ":" + etltest::pluginDir();
  auto list = etltest::runProcess(etltest::etlrunBinary(), {"--plugin-path=" + path, "plugins"});
  EXPECT_EQ(list.exitCode, 0) << list.err;
  EXPECT_NE(list.out.find("null_descriptor"), std::string::npos) << list.out;
  auto one = etltest::runProcess(etltest::etlrunBinary(),
                                 {"--plugin-path=" + path, "plugins", "null_descriptor"});
  EXPECT_EQ(one.exitCode, 78) << one.err;
  EXPECT_NE(one.err.find("returned no descriptor"), std::string::npos) << one.err;
  etltest::TempDir dir;
  etltest::writeFile(dir / "p.yaml",
                     "pipelines:\n  p:\n    source: {plugin: file, path: x}\n"
                     "    sink: {plugin: null_descriptor}\n");
  auto run = etltest::runProcess(etltest::etlrunBinary(),
                                 {"--plugin-path=" + path, "validate", dir / "p.yaml"});
  EXPECT_EQ(run.exitCode, 78) << run.err;
  EXPECT_NE(run.err.find("returned no descriptor"), std::string::npos) << run.err;
}

TEST(PluginLoader, EtlrunPluginsCommandShowsRefusalAndSchema) {
  auto list = etltest::runProcess(
      etltest::etlrunBinary(),
      {std::string("--plugin-path=") + ETLTEST_BAD_PLUGIN_DIR + ":" + etltest::pluginDir(),
       "plugins"});
  EXPECT_EQ(list.exitCode, 0) << list.err;
  EXPECT_NE(list.out.find("bad_abi"), std::string::npos);
  EXPECT_NE(list.out.find("REFUSED"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("jsonl"), std::string::npos);
  auto schema = etltest::runEtlrun({"plugins", "event_filter"});
  EXPECT_EQ(schema.exitCode, 0);
  EXPECT_NE(schema.out.find("match (map of string lists, required)"), std::string::npos)
      << schema.out;
}

TEST(PluginLoader, PluginsWithTheSameSymbolNamesDoNotClash) {
  etl::PluginLoader loader({ETLTEST_CLASH_PLUGIN_DIR});
  const auto& a = loader.load("clash_a");
  const auto& b = loader.load("clash_b");
  etl::Metrics metrics;
  etl::StopSignal stop;
  struct NoHttp : etl::HttpClient {
    etl::HttpResponse get(const etl::HttpRequest&, const etl::StopSignal&) override { return {}; }
    void setReserve(const std::string&, double) override {}
    void reserveForSchedule(const std::string&, etl::Millis, int) override {}
  } http;
  struct : etl::HealthNote {
    void set(const std::string&) override {}
  } health;
  etl::Context context{
      "p", "t", Poco::Logger::get("p.t"), etl::systemClock(), stop, metrics, http, "/tmp", health};
  etl::Config config;
  std::unique_ptr<etl::Plugin> first(a.create(config, context));
  std::unique_ptr<etl::Plugin> second(b.create(config, context));
  etl::Batch batch;
  batch.records.emplace_back("s", "{}");
  dynamic_cast<etl::Transform&>(*first).apply(batch);
  dynamic_cast<etl::Transform&>(*second).apply(batch);
  dynamic_cast<etl::Transform&>(*first).apply(batch);
  EXPECT_EQ(batch.records[0].stream(), "s-a-b-a") << "one plugin ran the other's code";
}
