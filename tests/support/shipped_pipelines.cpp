#include "shipped_pipelines.h"

#include <sstream>
#include <stdexcept>

#include "test_env.h"

namespace etltest {
namespace {

std::size_t indentOf(const std::string& line) {
  std::size_t n = line.find_first_not_of(' ');
  return n == std::string::npos ? line.size() : n;
}

bool blank(const std::string& line) {
  std::size_t n = line.find_first_not_of(' ');
  return n == std::string::npos || line[n] == '#';
}

}  // namespace

std::string shippedSink(const std::string& file, const std::string& pipeline) {
  std::istringstream in(readFile(sourceDir() + "/pipelines/" + file));
  std::string line, block;
  bool inPipeline = false, inSink = false;
  while (std::getline(in, line)) {
    if (blank(line)) continue;
    std::size_t indent = indentOf(line);
    if (indent == 2) inPipeline = line == "  " + pipeline + ":";
    if (inSink && indent <= 4) break;
    if (inPipeline && indent == 4 && line == "    sink:") inSink = true;
    if (inSink) block += line + "\n";
  }
  if (block.empty()) throw std::runtime_error("no sink in pipelines/" + file + " " + pipeline);
  return block;
}

std::string githubConnection(const std::string& uri) {
  return "connections:\n  github:\n    uri: \"" + uri + "\"\n    migrations: \"" + sourceDir() +
         "/pipelines/github/migrations\"\n";
}

}  // namespace etltest
