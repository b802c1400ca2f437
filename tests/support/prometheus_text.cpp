#include "prometheus_text.h"

#include <map>
#include <set>
#include <sstream>

namespace etltest {
namespace {

bool endsWith(const std::string& text, const std::string& end) {
  return text.size() >= end.size() && text.compare(text.size() - end.size(), end.size(), end) == 0;
}

// The family a sample line belongs to: its name, less a histogram's _bucket/_sum/_count.
std::string familyOf(const std::string& sample, const std::map<std::string, std::string>& types) {
  std::string name = sample.substr(0, sample.find_first_of("{ "));
  if (types.count(name)) return name;
  for (const char* suffix : {"_bucket", "_sum", "_count"}) {
    if (endsWith(name, suffix)) {
      std::string base = name.substr(0, name.size() - std::string(suffix).size());
      auto it = types.find(base);
      if (it != types.end() && it->second == "histogram") return base;
    }
  }
  return name;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> prometheusFamilies(const std::string& text) {
  std::vector<std::pair<std::string, std::string>> out;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("# TYPE ", 0) != 0) continue;
    std::istringstream words(line.substr(7));
    std::string name, type;
    words >> name >> type;
    out.emplace_back(name, type);
  }
  return out;
}

std::vector<std::string> prometheusProblems(const std::string& text, bool describedOnly) {
  std::vector<std::string> problems;
  std::map<std::string, std::string> types, helps;
  std::set<std::string> sampled;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty()) continue;
    if (line.rfind("# HELP ", 0) == 0) {
      std::string rest = line.substr(7);
      std::string name = rest.substr(0, rest.find(' '));
      std::string help = rest.find(' ') == std::string::npos ? "" : rest.substr(rest.find(' ') + 1);
      if (helps.count(name)) problems.push_back(name + ": a second # HELP line");
      if (sampled.count(name)) problems.push_back(name + ": # HELP after its samples");
      if (help.empty()) problems.push_back(name + ": an empty # HELP");
      if (describedOnly && help.find("(no description)") != std::string::npos) {
        problems.push_back(name + ": no description in core/src/metric_help.cpp");
      }
      helps[name] = help;
    } else if (line.rfind("# TYPE ", 0) == 0) {
      std::istringstream words(line.substr(7));
      std::string name, type;
      words >> name >> type;
      if (types.count(name)) problems.push_back(name + ": a second # TYPE line");
      if (!helps.count(name)) problems.push_back(name + ": # TYPE without a # HELP before it");
      if (type != "counter" && type != "gauge" && type != "histogram") {
        problems.push_back(name + ": unknown type '" + type + "'");
      }
      if (type == "counter" && !endsWith(name, "_total")) {
        problems.push_back(name + ": a counter whose name does not end in _total");
      }
      if (type != "counter" && endsWith(name, "_total")) {
        problems.push_back(name + ": a " + type + " named _total (the suffix of counters)");
      }
      types[name] = type;
    } else if (line[0] == '#') {
      continue;
    } else {
      std::string family = familyOf(line, types);
      if (!types.count(family)) problems.push_back("'" + line + "': no # TYPE for its family");
      sampled.insert(family);
    }
  }
  return problems;
}

}  // namespace etltest
