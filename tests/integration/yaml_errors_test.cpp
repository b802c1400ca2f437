// Each YAML mistake a user can make gives "file:line:column: message" and exit code 78 from
// `etlrun validate` (and from a run), and the run starts nothing.
#include <Poco/DirectoryIterator.h>
#include <Poco/String.h>
#include <gtest/gtest.h>

#include "test_env.h"

namespace {

struct Mistake {
  const char* name;
  const char* yaml;
  const char* where;    // expected "line:column"
  const char* message;  // expected part of the message
  bool schema = false;  // also rejected by `etlrun schema`'s JSON Schema (an editor sees it)
};

const Mistake kMistakes[] = {
    {"bad_indentation",
     "pipelines:\n  p:\n    source:\n      plugin: file\n     path: x\n    sink: {plugin: jsonl}\n",
     "5:6", "YAML syntax error", true},
    {"unknown_key_did_you_mean",
     "pipelines:\n  p:\n    source: {plugin: file, path: x, steam: s}\n    sink: {plugin: jsonl}\n",
     "3:37", "unknown key 'steam' in pipeline 'p' source (plugin 'file') (did you mean 'stream'?)",
     true},
    {"wrong_type",
     "pipelines:\n  p:\n    source: {plugin: file, path: x}\n    sink: {plugin: jsonl}\n"
     "    batch: {max_records: many}\n",
     "5:26", "'max_records' must be a integer, got 'many'", true},
    {"missing_source", "pipelines:\n  p:\n    sink: {plugin: jsonl}\n", "2:3",
     "pipeline 'p' has no 'source'", true},
    {"unknown_plugin",
     "pipelines:\n  p:\n    source: {plugin: fil, path: x}\n    sink: {plugin: jsonl}\n", "3:22",
     "unknown plugin 'fil'; known plugins: event_filter, file, github_enrich, github_events, "
     "github_watch, http_listen, http_poll, jq, jsonl, ",
     true},
    {"unset_required_variable",
     "pipelines:\n  p:\n    source: {plugin: file, path: \"${INPUT_FILES:?name the input}\"}\n"
     "    sink: {plugin: jsonl}\n",
     "3:34", "environment variable INPUT_FILES is not set: name the input"},
    {"missing_required_key",
     "pipelines:\n  p:\n    source: {plugin: file}\n    sink: {plugin: jsonl}\n", "3:13",
     "missing required key 'path'", true},
    {"plugin_of_wrong_kind",
     "pipelines:\n  p:\n    source: {plugin: jsonl}\n    sink: {plugin: jsonl}\n", "3:22",
     "plugin 'jsonl' is a sink, but pipeline 'p' source needs a source", true},
    {"unknown_pipeline_key",
     "pipelines:\n  p:\n    source: {plugin: file, path: x}\n    sinks: {plugin: jsonl}\n", "4:5",
     "unknown key 'sinks' in pipeline 'p' (did you mean 'sink'?)", true},
    {"transforms_not_a_list",
     "pipelines:\n  p:\n    source: {plugin: file, path: x}\n    transforms: {plugin: "
     "event_filter}\n"
     "    sink: {plugin: jsonl}\n",
     "4:17", "'transforms' must be a list", true},
    {"duplicate_key",
     "pipelines:\n  p:\n    source: {plugin: file, path: x, path: y}\n    sink: {plugin: jsonl}\n",
     "3:37", "duplicate key 'path'"},
    {"bad_duration",
     "pipelines:\n  p:\n    source: {plugin: file, path: x}\n    sink: {plugin: jsonl}\n"
     "    batch: {max_latency: soon}\n",
     "5:26", "'max_latency' must be a duration", true},
    {"missing_pipelines", "state_dir: /tmp/x\n", "1:1", "missing required key 'pipelines'", true},
    {"list_instead_of_map_value",
     "pipelines:\n  p:\n    source: {plugin: file, path: [a, b]}\n    sink: {plugin: jsonl}\n",
     "3:34", "'path' must be a string, not a list", true},
    {"unterminated_quote",
     "pipelines:\n  p:\n    source: {plugin: file, path: \"x}\n    sink: {plugin: jsonl}\n", "",
     "YAML syntax error", true},
    // Values a run would spin on or overflow with: range-checked before anything starts.
    {"zero_backoff",
     "pipelines:\n  p:\n    source: {plugin: file, path: x}\n    sink: {plugin: jsonl}\n"
     "    retry: {initial_backoff: 0}\n",
     "5:30", "'initial_backoff' must be at least 10ms, got '0'"},
    {"huge_duration",
     "pipelines:\n  p:\n    source: {plugin: file, path: x}\n    sink: {plugin: jsonl}\n"
     "    retry: {max_backoff: 99999999999999999999h}\n",
     "5:26", "'max_backoff' must be a duration, got '99999999999999999999h' (too large"},
    {"backoff_inverted",
     "pipelines:\n  p:\n    source: {plugin: file, path: x}\n    sink: {plugin: jsonl}\n"
     "    retry: {initial_backoff: 10m, max_backoff: 1m}\n",
     "5:48", "'max_backoff' must be at least 'initial_backoff'"},
    {"zero_latency",
     "pipelines:\n  p:\n    source: {plugin: file, path: x}\n    sink: {plugin: jsonl}\n"
     "    batch: {max_latency: 0ms}\n",
     "5:26", "'max_latency' must be at least 1ms"},
    {"plugin_key_out_of_range",
     "pipelines:\n  p:\n    source: {plugin: github_events, per_page: 500}\n"
     "    sink: {plugin: jsonl}\n",
     "3:47", "'per_page' must be at most 100, got '500'", true},
    {"plugin_duration_too_short",
     "pipelines:\n  p:\n    source: {plugin: github_events, timeout: 0s}\n"
     "    sink: {plugin: jsonl}\n",
     "3:46", "'timeout' must be at least 100ms"},
    {"not_one_of_the_choices",
     "pipelines:\n  p:\n    source: {plugin: file, path: x}\n"
     "    transforms: [{plugin: event_filter, match: {type: [A]}, mode: maybe}]\n"
     "    sink: {plugin: jsonl}\n",
     "4:67", "'mode' must be one of keep, drop, got 'maybe'", true},
    // The sql sink's table mapping is checked by validate too, each mistake where it is.
    {"mapping_unknown_column_key",
     "pipelines:\n  p:\n    source: {plugin: file, path: x}\n    sink:\n      plugin: sql\n"
     "      connection: \"sqlite:x.sqlite\"\n      tables:\n        t:\n          columns:\n"
     "            a: {pth: id}\n",
     "10:22", "unknown key 'pth' (did you mean 'path'?)"},
    {"mapping_upsert_without_key",
     "pipelines:\n  p:\n    source: {plugin: file, path: x}\n    sink:\n      plugin: sql\n"
     "      connection: \"sqlite:x.sqlite\"\n      tables:\n        t:\n          mode: upsert\n"
     "          columns: {a: id}\n",
     "9:11", "mode: upsert needs a key"},
    {"unknown_connection",
     "connections:\n  warehouse: \"sqlite:w.sqlite\"\npipelines:\n  p:\n"
     "    source: {plugin: file, path: x}\n    sink: {plugin: sql, connection: warehous, "
     "tables: {t: {columns: {a: id}}}}\n",
     "6:37",
     "no connection named 'warehous' in this file's connections (did you mean 'warehouse'?)"},
    {"not_matching_the_pattern",
     "pipelines:\n  p:\n    source: {plugin: github_events, endpoint: /event}\n"
     "    sink: {plugin: jsonl}\n",
     "3:47",
     "'endpoint' must be an events endpoint (/events, /repos/OWNER/REPO/events, ...), "
     "got '/event'",
     true},
    // A jq program is compiled by validate: jq's message, at the program's own line in the YAML.
    {"jq_undefined_function_in_block",
     "pipelines:\n  p:\n    source: {plugin: file, path: x}\n    transforms:\n      - plugin: jq\n"
     "        program: |\n          .a\n          | foo(1)\n    sink: {plugin: jsonl}\n",
     "8:11", "jq: foo/1 is not defined"},
    {"jq_unknown_argument",
     "pipelines:\n  p:\n    source: {plugin: file, path: x}\n    transforms:\n"
     "      - {plugin: jq, args: {limt: 2}, program: \".n > $limit\"}\n    sink: {plugin: jsonl}\n",
     "5:49", "jq: $limit is not defined"},
    {"jq_syntax_error",
     "pipelines:\n  p:\n    source: {plugin: file, path: x}\n    transforms:\n      - plugin: jq\n"
     "        program: .items[] | {sku\n    sink: {plugin: jsonl}\n",
     "6:18", "jq: syntax error"},
    {"jq_program_and_file",
     "pipelines:\n  p:\n    source: {plugin: file, path: x}\n    transforms:\n      - plugin: jq\n"
     "    sink: {plugin: jsonl}\n",
     "5:9", "set exactly one of program"},
    // libjq 1.6 aborts on an import without a library path: it finds no module instead (an inline
    // program has no folder to import from).
    {"jq_import_in_an_inline_program",
     "pipelines:\n  p:\n    source: {plugin: file, path: x}\n    transforms:\n      - plugin: jq\n"
     "        program: 'import \"shop\" as shop; .'\n    sink: {plugin: jsonl}\n",
     "6:19", "jq: module not found: shop"},
    {"jq_empty_program",
     "pipelines:\n  p:\n    source: {plugin: file, path: x}\n    transforms:\n      - plugin: jq\n"
     "        program: \"  # nothing yet\"\n    sink: {plugin: jsonl}\n",
     "6:19", "the program is empty"},
    {"jq_program_file_is_a_folder",
     "pipelines:\n  p:\n    source: {plugin: file, path: x}\n    transforms:\n      - plugin: jq\n"
     "        program_file: /tmp\n    sink: {plugin: jsonl}\n",
     "6:9", "cannot read program_file /tmp (not a file)"},
    // The sql mapping: a declared type goes into CREATE TABLE, so only a type name passes; names
    // that PostgreSQL would read otherwise (a dot, cut at 63 bytes, empty) fail; so does an update
    // with nothing to write.
    {"sql_type_is_not_sql",
     "pipelines:\n  p:\n    source: {plugin: file, path: x}\n    sink:\n      plugin: sql\n      "
     "connection: \"sqlite:x.sqlite\"\n"
     "      create: auto\n      tables:\n        victim:\n          columns:\n"
     "            a: {path: a, type: \"text); DROP TABLE victim; CREATE TABLE pwned (x int\"}\n",
     "11:32", "is not a type name"},
    {"sql_column_with_a_dot",
     "pipelines:\n  p:\n    source: {plugin: file, path: x}\n    sink:\n      plugin: sql\n      "
     "connection: \"sqlite:x.sqlite\"\n"
     "      tables:\n        t:\n          columns:\n            a.b: a\n",
     "10:18", "column name 'a.b' holds a dot"},
    {"sql_empty_column_name",
     "pipelines:\n  p:\n    source: {plugin: file, path: x}\n    sink:\n      plugin: sql\n      "
     "connection: \"sqlite:x.sqlite\"\n"
     "      tables:\n        t:\n          columns:\n            \"\": a\n",
     "10:17", "a column name cannot be empty"},
    {"sql_table_name_beyond_63_bytes",
     "pipelines:\n  p:\n    source: {plugin: file, path: x}\n    sink:\n      plugin: sql\n      "
     "connection: \"sqlite:x.sqlite\"\n"
     "      tables:\n        events_from_the_github_archive_backfill_of_two_thousand_and_"
     "twenty_one_a:\n          columns: {a: a}\n",
     "9:11", "is longer than 63 bytes"},
    {"sql_update_of_key_columns_only",
     "pipelines:\n  p:\n    source: {plugin: file, path: x}\n    sink:\n      plugin: sql\n      "
     "connection: \"sqlite:x.sqlite\"\n"
     "      tables:\n        t:\n          mode: update\n          key: [id]\n"
     "          columns: {id: id}\n",
     "9:11", "mode: update needs a column to write besides the key"},
    {"choice_typo",
     "pipelines:\n  p:\n    source: {plugin: file, path: x, on_corrupt: skp}\n"
     "    sink: {plugin: jsonl}\n",
     "3:49", "'on_corrupt' must be one of fail, skip, got 'skp' (did you mean 'skip'?)", true},
};

void PrintTo(const Mistake& m, std::ostream* os) {
  *os << m.name;
}

class YamlMistake : public testing::TestWithParam<Mistake> {};

TEST_P(YamlMistake, IsReportedWithFileLineColumnAndExit78) {
  const Mistake& m = GetParam();
  etltest::TempDir dir;
  std::string path = dir / (std::string(m.name) + ".yaml");
  etltest::writeFile(path, m.yaml);
  for (const char* command : {"validate", "run"}) {
    std::vector<std::string> args = {"--state-dir=" + (dir / "state")};
    if (std::string(command) == "validate") args.push_back("validate");
    args.push_back(path);
    auto result = etltest::runEtlrun(args, {{"-INPUT_FILES", ""}});
    EXPECT_EQ(result.exitCode, 78) << command << "\n" << result.err;
    std::string location = path + ":" + m.where;
    EXPECT_NE(result.err.find(location), std::string::npos)
        << command << ": expected " << location << " in:\n"
        << result.err;
    EXPECT_NE(result.err.find(m.message), std::string::npos)
        << command << ": expected '" << m.message << "' in:\n"
        << result.err;
  }
}

INSTANTIATE_TEST_SUITE_P(Etlrun, YamlMistake, testing::ValuesIn(kMistakes),
                         [](const testing::TestParamInfo<Mistake>& info) {
                           return std::string(info.param.name);
                         });

TEST(EtlrunCli, ValidateAcceptsEveryShippedPipeline) {
  int files = 0;
  for (Poco::DirectoryIterator it(etltest::sourceDir() + "/pipelines"), end; it != end; ++it) {
    if (!Poco::endsWith(it.name(), std::string(".yaml"))) continue;
    ++files;
    auto result = etltest::runEtlrun(
        {"validate", it.path().toString()},
        {{"GHARCHIVE_FILES", "x"}, {"ORDERS_FILES", "x"}, {"GITHUB_WEBHOOK_SECRET", "x"}});
    EXPECT_EQ(result.exitCode, 0) << it.name() << "\n" << result.err;
  }
  EXPECT_GE(files, 4);
}

// `etlrun schema` is a JSON Schema editors check pipeline files with (yaml-language-server).
// Checked here with Debian's python3-jsonschema: it accepts every shipped pipeline and rejects the
// mistakes of the corpus above that a schema can see.
TEST(JsonSchema, AcceptsEveryShippedPipelineAndRejectsTheCorpusMistakes) {
  etltest::TempDir dir;
  auto schema = etltest::runEtlrun({"schema"});
  ASSERT_EQ(schema.exitCode, 0) << schema.err;
  etltest::writeFile(dir / "schema.json", schema.out);
  etltest::writeFile(dir / "check.py", R"(import json, sys, yaml, jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft7Validator.check_schema(schema)
validator = jsonschema.Draft7Validator(schema)
for path in sys.argv[2:]:
    try:
        errors = list(validator.iter_errors(yaml.safe_load(open(path))))
    except yaml.YAMLError as e:
        errors = [e]
    print(path, "OK" if not errors else "INVALID: " + str(errors[0]).splitlines()[0])
)");
  std::vector<std::string> args{dir / "check.py", dir / "schema.json"};
  int shipped = 0;
  for (Poco::DirectoryIterator it(etltest::sourceDir() + "/pipelines"), end; it != end; ++it) {
    if (!Poco::endsWith(it.name(), std::string(".yaml"))) continue;
    args.push_back(it.path().toString());
    ++shipped;
    // Each shipped pipeline names the schema for editors.
    EXPECT_NE(etltest::readFile(it.path().toString()).find("# yaml-language-server: $schema="),
              std::string::npos)
        << it.name();
  }
  int mistakes = 0;
  for (const auto& m : kMistakes) {
    if (!m.schema) continue;
    args.push_back(dir / (std::string(m.name) + ".yaml"));
    etltest::writeFile(args.back(), m.yaml);
    ++mistakes;
  }
  auto result = etltest::runProcess("/usr/bin/python3", args);
  ASSERT_EQ(result.exitCode, 0) << result.err;
  for (std::size_t i = 2; i < args.size(); ++i) {
    bool isMistake = i >= 2 + static_cast<std::size_t>(shipped);
    std::string line = args[i] + (isMistake ? " INVALID" : " OK");
    EXPECT_NE(result.out.find(line), std::string::npos) << line << " expected in:\n" << result.out;
  }
  EXPECT_GE(shipped, 4);
  EXPECT_GE(mistakes, 14);
  // The copy editors read next to the pipelines is the current one.
  EXPECT_EQ(etltest::readFile(etltest::sourceDir() + "/pipelines/etlrun.schema.json"), schema.out)
      << "pipelines/etlrun.schema.json is stale: build/etlrun schema > "
         "pipelines/etlrun.schema.json";
}

TEST(EtlrunCli, PluginsSqlDocumentsEveryMappingKey) {
  auto doc = etltest::runEtlrun({"plugins", "sql"});
  ASSERT_EQ(doc.exitCode, 0) << doc.err;
  // The mapping's keys, nested under the key they belong to, each with its type.
  for (const char* key :
       {"connection", "tables", "create", "unmatched", "  table (", "  stream (", "  where (",
        "  mode (", "  key (", "  on_conflict (", "  update (", "  columns (", "    path (",
        "    value (", "    const (", "    required (", "    type (", "    keep_existing ("}) {
    EXPECT_NE(doc.out.find(key), std::string::npos) << key << " is not documented:\n" << doc.out;
  }
}

TEST(EtlrunCli, HelpVersionAndUsage) {
  auto help = etltest::runEtlrun({"--help"});
  EXPECT_EQ(help.exitCode, 0);
  EXPECT_NE(help.out.find("--once"), std::string::npos);
  EXPECT_NE(help.out.find("--plugin-path"), std::string::npos);
  auto version = etltest::runEtlrun({"--version"});
  EXPECT_NE(version.out.find("etlrun 0."), std::string::npos);
  EXPECT_EQ(etltest::runEtlrun({}).exitCode, 64);
}

}  // namespace
