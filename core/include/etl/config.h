// etl/config.h: a plugin's configuration schema, and the validated, typed view it receives.
//
// Each plugin declares its keys once (see ETL_PLUGIN in etl/plugin.h). The core checks a pipeline
// file against that schema before creating anything (unknown key with "did you mean", wrong type,
// missing required key, all reported as file:line:column) and fills in defaults, so a plugin reads
// values without re-checking them.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

namespace etl {

enum class Type {
  String,
  Int,
  Double,
  Bool,
  Duration,       // "250ms", "30s", "5m", "24h", or a plain number of seconds
  StringList,     // [a, b] or a single scalar
  StringListMap,  // {field: [value, ...], ...}
  Document,       // any YAML (maps, lists, scalars), handed over as JSON text: scalars become
                  // strings (${VAR} substituted), YAML null becomes null
  Connection,     // the name of an entry of the file's `connections:` (or a URI written in place);
                  // read with getConnection(): URI and migrations
  Path,           // a file's path, read with getString(): a relative path is taken from the
                  // pipeline file's folder (the core makes it absolute)
  Json,           // any YAML value as JSON text (getDocument), typed the way YAML reads it: plain
                  // 2 is a number, true a boolean, ~ null, "2" (quoted) a string
};
const char* typeName(Type type);

constexpr bool Required = true;
constexpr bool Optional = false;

// One key of a plugin's schema. An array of these ends with an empty entry ({}). The limits make
// `etlrun validate` refuse what the plugin would refuse at start.
struct ConfigField {
  const char* key = nullptr;
  Type type = Type::String;
  bool required = false;
  const char* defaultValue = nullptr;  // in YAML syntax; nullptr = no default
  const char* description = "";
  // Int, Double, Duration: inclusive bounds in the key's own syntax ("1", "0.5", "10ms");
  // nullptr = unbounded on that side (durations are always at most 3650d).
  const char* min = nullptr;
  const char* max = nullptr;
  // String: the allowed values separated by '|' ("fail|skip"); nullptr = any string.
  const char* choices = nullptr;
  // String: an ECMAScript regular expression the whole value must match ("^/[^ ]*$"), with what
  // it means for the error message after a '#' ("^/.*#a path starting with /").
  const char* pattern = nullptr;
  // Document: a map of names to objects of these keys (ending with {}; a key of type Document
  // may have entries of its own). The one description of a nested mapping: the plugin's parser
  // checks its keys by it, and `etlrun plugins` and the JSON Schema show it.
  const ConfigField* entries = nullptr;
  // Document with entries: an entry may be a plain string, standing for this key of its object
  // (a column written `name: path.to.field` is `{path: path.to.field}`).
  const char* shorthand = nullptr;
};

// " (did you mean 'x'?)" for the candidate closest to `key`, else " (valid keys: a, b, ...)".
std::string didYouMean(const std::string& key, const std::vector<std::string>& candidates);

class Config {
 public:
  using StringList = std::vector<std::string>;
  using StringListMap = std::map<std::string, StringList>;
  struct Json {
    std::string text;
  };
  // A database connection declared under the file's `connections:`.
  struct Connection {
    std::string name;        // "" when the URI was written in place
    std::string uri;         // postgresql://..., libpq key=value, or sqlite:PATH
    std::string migrations;  // folder of versioned SQL files for it ("" = none), absolute
  };
  using Value = std::variant<std::string, int64_t, double, bool, std::chrono::milliseconds,
                             StringList, StringListMap, Json, Connection>;

  bool has(const std::string& key) const { return values_.count(key) != 0; }
  const std::string& getString(const std::string& key) const;
  int64_t getInt(const std::string& key) const;
  double getDouble(const std::string& key) const;
  bool getBool(const std::string& key) const;
  std::chrono::milliseconds getDuration(const std::string& key) const;
  const StringList& getStringList(const std::string& key) const;
  const StringListMap& getStringListMap(const std::string& key) const;
  // Document keys: the JSON text.
  const std::string& getDocument(const std::string& key) const;
  const Connection& getConnection(const std::string& key) const;
  // "file:line:column" of a key in the pipeline file, for errors a plugin finds at start. Inside
  // a Document key, a path of member names and list indexes: "tables/push_events/columns/ref".
  std::string location(const std::string& key) const;
  // For a String or Path key written in the file: "file:line:column" of line `line` (1 = the
  // first) of its value, for a mistake found inside it (a program's syntax error). A block
  // scalar (| or >) starts on the line after its indicator. "" when the value has no place.
  std::string valueLocation(const std::string& key, std::size_t line = 1) const;

 private:
  friend class ConfigBuilder;  // the core fills a Config while validating; plugins only read it
  void set(const std::string& key, Value value, std::string location = {},
           std::map<std::string, std::string> locations = {});
  struct ValuePlace {
    std::string file;
    std::size_t line = 0, column = 0;  // of the value's first character (1-based)
  };
  const Value& value(const std::string& key) const;
  std::map<std::string, Value> values_;
  std::map<std::string, std::string> locations_;
  std::map<std::string, ValuePlace> valuePlaces_;
};

}  // namespace etl
