// The shipped pipelines' own blocks, for tests: a test stores exactly what pipelines/*.yaml
// store, into a database of the test's own.
#pragma once

#include <map>
#include <string>

namespace etltest {

// The `sink:` block (with its 4-space indentation, ending in a newline) of `pipeline` in
// pipelines/<file>. Throws if there is none.
std::string shippedSink(const std::string& file, const std::string& pipeline);
// The same for another block of the pipeline ("source", "transforms"), with each line that starts
// (after its indentation) with a key of `replace` replaced by that key's lines.
std::string shippedBlock(const std::string& file, const std::string& pipeline,
                         const std::string& block,
                         const std::map<std::string, std::string>& replace = {});

// A `connections:` block declaring `github` (as the shipped GitHub pipelines name it) at `uri`,
// with the shipped GitHub migrations.
std::string githubConnection(const std::string& uri);

// The URI of the embedded SQLite file `path`.
inline std::string sqliteUri(const std::string& path) {
  return "sqlite:" + path;
}

}  // namespace etltest
