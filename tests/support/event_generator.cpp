#include "event_generator.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/ParseHandler.h>
#include <Poco/JSON/Parser.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace etltest {

std::vector<std::string> readLines(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

std::vector<std::string> templateEvents(const std::string& dataDir) {
  auto lines = readLines(dataDir + "/gharchive/gharchive_2021-07-21_hour06_200events.jsonl");
  // Add the 2026 API shape (PushEvent without size/commits) so both shapes are exercised.
  std::ifstream in(dataDir + "/events/api_events_2026-01-12.json");
  Poco::JSON::Parser parser(new Poco::JSON::ParseHandler(true));  // keep GitHub's key order
  auto root = parser.parse(in).extract<Poco::JSON::Object::Ptr>();
  auto body = root->getArray("exchanges")->getObject(0)->getObject("response")->getArray("body");
  for (std::size_t i = 0; i < body->size(); ++i) {
    std::ostringstream out;
    body->getObject(static_cast<unsigned>(i))->stringify(out);
    lines.push_back(out.str());
  }
  return lines;
}

namespace {
// Replaces the digits of the first `"<field>":` value (quoted or not) after `from`.
void replaceNumber(std::string& line, const std::string& field, uint64_t value, std::size_t from) {
  std::string needle = "\"" + field + "\":";
  std::size_t pos = line.find(needle, from);
  if (pos == std::string::npos) return;
  std::size_t start = pos + needle.size();
  bool quoted = start < line.size() && line[start] == '"';
  if (quoted) ++start;
  std::size_t end = start;
  while (end < line.size() && std::isdigit(static_cast<unsigned char>(line[end]))) ++end;
  line.replace(start, end - start, std::to_string(value));
}
}  // namespace

std::string withUniqueIds(const std::string& line, uint64_t id) {
  // Every template starts with the event's own id ({"id":"..."): the recorded order of GitHub's
  // JSON.
  if (line.compare(0, 7, "{\"id\":\"") != 0) {
    throw std::invalid_argument("template event does not start with its id: " + line.substr(0, 40));
  }
  std::string out = line;
  replaceNumber(out, "id", id, 0);
  if (out.find("\"type\":\"PushEvent\"") != std::string::npos) replaceNumber(out, "push_id", id, 0);
  return out;
}

uint64_t writeEvents(const std::vector<std::string>& templates, uint64_t count, uint64_t firstId,
                     const std::string& path) {
  std::ofstream out(path, std::ios::binary);
  uint64_t bytes = 0;
  for (uint64_t i = 0; i < count; ++i) {
    std::string line = withUniqueIds(templates[i % templates.size()], firstId + i);
    out << line << '\n';
    bytes += line.size() + 1;
  }
  return bytes;
}

}  // namespace etltest
