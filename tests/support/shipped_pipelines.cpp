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

std::string shippedBlock(const std::string& file, const std::string& pipeline,
                         const std::string& name,
                         const std::map<std::string, std::string>& replace) {
  std::istringstream in(readFile(sourceDir() + "/pipelines/" + file));
  std::string line, block;
  bool inPipeline = false, inBlock = false;
  while (std::getline(in, line)) {
    if (blank(line)) continue;
    std::size_t indent = indentOf(line);
    if (indent == 2) inPipeline = line == "  " + pipeline + ":";
    if (inBlock && indent <= 4) break;
    if (inPipeline && indent == 4 && line.rfind("    " + name + ":", 0) == 0) {
      // "    batch: {max_records: 1000}": a block of one line.
      if (line.size() > indent + name.size() + 1) {
        block = line + "\n";
        break;
      }
      inBlock = true;
    }
    if (!inBlock) continue;
    bool replaced = false;
    for (const auto& [key, lines] : replace) {
      if (line.compare(indent, key.size() + 1, key + ":") == 0) {
        block += std::string(indent, ' ') + lines + "\n";
        replaced = true;
      }
    }
    if (!replaced) block += line + "\n";
  }
  if (block.empty()) {
    throw std::runtime_error("no " + name + " in pipelines/" + file + " " + pipeline);
  }
  return block;
}

std::string shippedSink(const std::string& file, const std::string& pipeline) {
  return shippedBlock(file, pipeline, "sink");
}

std::string githubConnection(const std::string& uri) {
  return "connections:\n  github:\n    uri: \"" + uri + "\"\n    migrations: \"" + sourceDir() +
         "/pipelines/github/migrations\"\n";
}

}  // namespace etltest
