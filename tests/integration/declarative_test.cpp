// Runs every folder of tests/declarative (pipeline.yaml + input.jsonl -> expected.jsonl) through
// the real etlrun binary. See tests/declarative/README.md.
#include <Poco/DirectoryIterator.h>
#include <Poco/File.h>
#include <gtest/gtest.h>

#include "test_env.h"

namespace {

std::vector<std::string> cases() {
  std::vector<std::string> names;
  for (Poco::DirectoryIterator it(etltest::sourceDir() + "/tests/declarative"), end; it != end;
       ++it) {
    if (it->isDirectory()) names.push_back(it.name());
  }
  std::sort(names.begin(), names.end());
  return names;
}

class Declarative : public testing::TestWithParam<std::string> {};

TEST_P(Declarative, OutputEqualsExpected) {
  std::string folder = etltest::sourceDir() + "/tests/declarative/" + GetParam();
  etltest::TempDir dir;
  auto result =
      etltest::runEtlrun({"--once", "--state-dir=" + (dir / "state"), folder + "/pipeline.yaml"},
                         {{"INPUT", folder + "/input.jsonl"}, {"OUTPUT", dir / "out.jsonl"}});
  ASSERT_EQ(result.exitCode, 0) << result.err;
  EXPECT_EQ(etltest::readFile(dir / "out.jsonl"), etltest::readFile(folder + "/expected.jsonl"));
  // The dead letters too, when the case says which it expects (none: the file must not exist).
  std::string letters = folder + "/expected_dead_letters.jsonl";
  if (Poco::File(letters).exists()) {
    std::string written = dir / "state/t.dead_letters.jsonl";
    std::string text = Poco::File(written).exists() ? etltest::readFile(written) : std::string();
    // A reason that names the input file names it as the case's own ${INPUT}: the same wherever
    // the repository is.
    const std::string input = folder + "/input.jsonl";
    for (std::size_t at; (at = text.find(input)) != std::string::npos;) {
      text.replace(at, input.size(), "${INPUT}");
    }
    EXPECT_EQ(text, etltest::readFile(letters));
  }
}

INSTANTIATE_TEST_SUITE_P(Pipelines, Declarative, testing::ValuesIn(cases()),
                         [](const testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

}  // namespace
