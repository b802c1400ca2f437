#include "pipeline_spec.h"

#include <Poco/File.h>
#include <Poco/Path.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <regex>
#include <set>

#include "etl/record.h"

namespace etl {

ConfigErrors::ConfigErrors(std::vector<std::string> errors)
    : std::runtime_error(errors.empty() ? "" : errors.front()), errors_(std::move(errors)) {}

EnvLookup processEnvironment() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (!value) return std::nullopt;
    return std::string(value);
  };
}

std::size_t editDistance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string didYouMean(const std::string& key, const std::vector<std::string>& candidates) {
  std::string best;
  std::size_t bestDistance = std::max<std::size_t>(2, key.size() / 3) + 1;
  for (const auto& candidate : candidates) {
    std::size_t d = editDistance(key, candidate);
    if (d < bestDistance) {
      bestDistance = d;
      best = candidate;
    }
  }
  if (!best.empty()) return " (did you mean '" + best + "'?)";
  std::string all;
  for (const auto& candidate : candidates) all += (all.empty() ? "" : ", ") + candidate;
  return all.empty() ? std::string() : " (valid keys: " + all + ")";
}

namespace {

// Milliseconds of "250ms", "30s", "5m", "24h", "2d" or plain seconds; nullopt with `problem` set
// when malformed or longer than ten years (beyond that a duration is a typo, and arithmetic on it
// overflows).
std::optional<int64_t> durationMs(const std::string& text, std::string& problem) {
  static const std::regex duration("([0-9]+(\\.[0-9]+)?)(ms|s|m|h|d)?");
  std::smatch m;
  if (!std::regex_match(text, m, duration)) {
    problem = "like 250ms, 30s, 5m, 24h";
    return std::nullopt;
  }
  double amount = std::stod(m[1]);
  std::string unit = m[3];
  double ms = unit == "ms"  ? amount
              : unit == "m" ? amount * 60e3
              : unit == "h" ? amount * 3600e3
              : unit == "d" ? amount * 86400e3
                            : amount * 1e3;
  if (ms > 3650 * 86400e3) {
    problem = "too large: at most 3650d";
    return std::nullopt;
  }
  return static_cast<int64_t>(ms);
}

// Collects errors while walking the document; knows the file name for locations.
class Validator {
 public:
  Validator(std::string path, const EnvLookup& env) : path_(std::move(path)), env_(env) {}
  const std::string& path() const { return path_; }

  std::string at(const YAML::Mark& mark) const {
    if (mark.is_null()) return path_;
    return path_ + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
  }
  void error(const YAML::Node& node, const std::string& message) { error(node.Mark(), message); }
  void error(const YAML::Mark& mark, const std::string& message) {
    errors_.push_back(at(mark) + ": " + message);
  }
  std::vector<std::string>& errors() { return errors_; }

  // The scalar's text with ${VAR}, ${VAR:-default} and ${VAR:?message} replaced; $$ is a literal $.
  // `fromEnv` tells whether anything was substituted (such values are never echoed: secrets).
  std::optional<std::string> scalar(const YAML::Node& node, const std::string& key,
                                    bool* fromEnv = nullptr) {
    if (!node.IsScalar()) {
      error(node, "'" + key + "' must be a scalar value");
      return std::nullopt;
    }
    const std::string& text = node.Scalar();
    std::string out;
    bool substituted = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
      if (text[i] != '$' || i + 1 >= text.size()) {
        out.push_back(text[i]);
        continue;
      }
      if (text[i + 1] == '$') {
        out.push_back('$');
        ++i;
        continue;
      }
      if (text[i + 1] != '{') {
        out.push_back('$');
        continue;
      }
      std::size_t close = text.find('}', i + 2);
      if (close == std::string::npos) {
        error(node, "'" + key + "': unterminated ${ in value");
        return std::nullopt;
      }
      std::string expr = text.substr(i + 2, close - i - 2);
      std::string name = expr, op, arg;
      if (auto pos = expr.find(":-"); pos != std::string::npos) {
        name = expr.substr(0, pos), op = ":-", arg = expr.substr(pos + 2);
      } else if (auto pos = expr.find(":?"); pos != std::string::npos) {
        name = expr.substr(0, pos), op = ":?", arg = expr.substr(pos + 2);
      }
      static const std::regex validName("[A-Za-z_][A-Za-z0-9_]*");
      if (!std::regex_match(name, validName)) {
        error(node, "'" + key + "': invalid variable name '" + name + "' in ${" + expr + "}");
        return std::nullopt;
      }
      auto value = env_(name);
      if (!value || (value->empty() && !op.empty())) {
        if (op == ":-") {
          value = arg;
        } else if (op == ":?") {
          error(node, "'" + key + "': environment variable " + name + " is not set" +
                          (arg.empty() ? "" : ": " + arg));
          return std::nullopt;
        } else if (!value) {
          error(node, "'" + key + "': environment variable " + name + " is not set (use ${" + name +
                          ":-default} for a default)");
          return std::nullopt;
        }
      }
      out += *value;
      substituted = true;
      i = close;
    }
    if (fromEnv) *fromEnv = substituted;
    lastFromEnv_ = substituted;
    return out;
  }

  // Converts a node to the type a schema asks for; nullopt (with an error recorded) on mismatch.
  std::optional<Config::Value> typed(const YAML::Node& node, const std::string& key, Type type) {
    auto mismatch = [&](const std::string& shown) -> std::optional<Config::Value> {
      error(node, "'" + key + "' must be a " + typeName(type) + shown);
      return std::nullopt;
    };
    switch (type) {
      case Type::StringList: {
        Config::StringList list;
        if (node.IsScalar()) {
          auto s = scalar(node, key);
          if (!s) return std::nullopt;
          list.push_back(*s);
          return list;
        }
        if (!node.IsSequence()) return mismatch("");
        for (const auto& item : node) {
          auto s = scalar(item, key);
          if (!s) return std::nullopt;
          list.push_back(*s);
        }
        return list;
      }
      case Type::StringListMap: {
        if (!node.IsMap()) return mismatch(", e.g. {type: [PushEvent]}");
        Config::StringListMap map;
        for (auto it = node.begin(); it != node.end(); ++it) {
          auto field = scalar(it->first, key);
          if (!field) return std::nullopt;
          auto values = typed(it->second, key + "." + *field, Type::StringList);
          if (!values) return std::nullopt;
          map[*field] = std::get<Config::StringList>(*values);
        }
        return map;
      }
      case Type::Document:
      case Type::Json: {
        std::string json;
        locations_.clear();
        if (!toJson(node, key, "", json, type == Type::Json)) return std::nullopt;
        return Config::Value(Config::Json{json});
      }
      case Type::Connection: {
        auto name = scalar(node, key);
        if (!name) return std::nullopt;
        auto it = connections_.find(*name);
        if (it != connections_.end()) return Config::Value(it->second);
        // A URI or libpq key=value written in place (never echoed: it may hold a password).
        if (name->find_first_of(":=") != std::string::npos) {
          return Config::Value(Config::Connection{"", *name, ""});
        }
        std::vector<std::string> declared;
        for (const auto& [n, uri] : connections_) declared.push_back(n);
        error(node, "'" + key + "': no connection named '" + *name +
                        "' in this file's connections" +
                        (declared.empty() ? " (it declares none)" : didYouMean(*name, declared)));
        return std::nullopt;
      }
      default:
        break;
    }
    if (!node.IsScalar()) return mismatch(", not a " + std::string(node.IsMap() ? "map" : "list"));
    bool fromEnv = false;
    auto text = scalar(node, key, &fromEnv);
    if (!text) return std::nullopt;
    std::string shown = fromEnv ? "" : ", got '" + *text + "'";
    switch (type) {
      case Type::String:
        return Config::Value(*text);
      case Type::Path: {
        if (text->empty()) return mismatch(" (an empty path)");
        Poco::Path path(*text);
        if (path.isRelative()) {
          path = Poco::Path(Poco::Path(path_).absolute().parent(), *text);
        }
        return Config::Value(path.toString());
      }
      case Type::Int: {
        static const std::regex integer("[-+]?[0-9]+");
        if (!std::regex_match(*text, integer)) return mismatch(shown);
        try {
          return Config::Value(static_cast<int64_t>(std::stoll(*text)));
        } catch (const std::out_of_range&) {
          return mismatch(shown + " (out of range)");
        }
      }
      case Type::Double: {
        try {
          std::size_t used = 0;
          double d = std::stod(*text, &used);
          if (used != text->size()) return mismatch(shown);
          return Config::Value(d);
        } catch (const std::exception&) {
          return mismatch(shown);
        }
      }
      case Type::Bool: {
        static const std::set<std::string> yes{"true", "yes", "on", "True", "TRUE"};
        static const std::set<std::string> no{"false", "no", "off", "False", "FALSE"};
        if (yes.count(*text)) return Config::Value(true);
        if (no.count(*text)) return Config::Value(false);
        return mismatch(shown + " (true or false)");
      }
      case Type::Duration: {
        std::string problem;
        auto ms = durationMs(*text, problem);
        if (!ms) return mismatch(shown + " (" + problem + ")");
        return Config::Value(std::chrono::milliseconds(*ms));
      }
      default:
        return std::nullopt;
    }
  }

  // A YAML node as JSON text, recording where each inner node is (locations()). Scalars are
  // strings after ${VAR} substitution, or with `typedScalars` what YAML reads a plain scalar as
  // (a number, a boolean); YAML null is null.
  bool toJson(const YAML::Node& node, const std::string& key, const std::string& path,
              std::string& out, bool typedScalars = false) {
    if (!path.empty()) locations_[path] = at(node.Mark());
    std::string prefix = path.empty() ? "" : path + "/";
    if (node.IsMap()) {
      out += "{";
      bool first = true;
      std::set<std::string> seen;
      for (auto it = node.begin(); it != node.end(); ++it) {
        if (!it->first.IsScalar()) {
          error(it->first, "keys in '" + key + "' must be plain names");
          return false;
        }
        const std::string& name = it->first.Scalar();
        if (!seen.insert(name).second) {
          error(it->first, "duplicate key '" + name + "' in '" + key + "'");
          return false;
        }
        out += first ? "" : ",";
        first = false;
        appendJsonString(out, name);
        out += ":";
        if (!toJson(it->second, key, prefix + name, out, typedScalars)) return false;
      }
      out += "}";
      return true;
    }
    if (node.IsSequence()) {
      out += "[";
      for (std::size_t i = 0; i < node.size(); ++i) {
        out += i ? "," : "";
        if (!toJson(node[i], key, prefix + std::to_string(i), out, typedScalars)) return false;
      }
      out += "]";
      return true;
    }
    if (!node.IsDefined() || node.IsNull()) {
      out += "null";
      return true;
    }
    auto text = scalar(node, key);
    if (!text) return false;
    if (typedScalars && node.Tag() == "?") {
      // YAML 1.2's core schema, as far as JSON can say it (no .inf, no hex).
      static const std::regex number("-?(0|[1-9][0-9]*)(\\.[0-9]+)?([eE][-+]?[0-9]+)?");
      static const std::set<std::string> yes{"true", "True", "TRUE"}, no{"false", "False", "FALSE"};
      if (std::regex_match(*text, number)) {
        out += *text;
        return true;
      }
      if (yes.count(*text) || no.count(*text)) {
        out += yes.count(*text) ? "true" : "false";
        return true;
      }
      if (*text == "null" || *text == "~" || text->empty()) {
        out += "null";
        return true;
      }
    }
    appendJsonString(out, *text);
    return true;
  }

  // Where a scalar value's text begins (1-based line and column): a block scalar (| or >) on the
  // first non-empty line after its indicator.
  std::pair<std::size_t, std::size_t> contentStart(const YAML::Node& node) {
    YAML::Mark mark = node.Mark();
    if (mark.is_null()) return {0, 0};
    if (lines_.empty()) {
      std::ifstream in(path_);
      for (std::string line; std::getline(in, line);) lines_.push_back(line);
    }
    std::size_t line = static_cast<std::size_t>(mark.line);
    std::size_t column = static_cast<std::size_t>(mark.column);
    bool block = line < lines_.size() && column < lines_[line].size() &&
                 (lines_[line][column] == '|' || lines_[line][column] == '>');
    if (!block) {
      bool quoted = line < lines_.size() && column < lines_[line].size() &&
                    (lines_[line][column] == '"' || lines_[line][column] == '\'');
      return {line + 1, column + 1 + (quoted ? 1 : 0)};
    }
    for (std::size_t next = line + 1; next < lines_.size(); ++next) {
      std::size_t indent = lines_[next].find_first_not_of(' ');
      if (indent != std::string::npos) return {next + 1, indent + 1};
    }
    return {line + 2, 1};
  }
  std::map<std::string, std::string> takeLocations() { return std::move(locations_); }
  void setConnections(std::map<std::string, Config::Connection> connections) {
    connections_ = std::move(connections);
  }

  // Checks a typed value against a key's bounds and choices (see ConfigField); records an error
  // and returns false when it is outside them.
  bool withinLimits(const YAML::Node& node, const std::string& key, const ConfigField& field,
                    const Config::Value& value) {
    std::string shown =
        lastFromEnv_ ? "" : ", got '" + (node.IsScalar() ? node.Scalar() : "") + "'";
    if (field.choices && std::holds_alternative<std::string>(value)) {
      std::string choices = field.choices;
      std::string v = std::get<std::string>(value);
      std::string padded = "|" + choices + "|";
      if (padded.find("|" + v + "|") == std::string::npos) {
        std::vector<std::string> options;
        for (std::size_t at = 0, bar; at <= choices.size(); at = bar + 1) {
          bar = choices.find('|', at);
          if (bar == std::string::npos) bar = choices.size();
          options.push_back(choices.substr(at, bar - at));
        }
        std::string list;
        for (const auto& o : options) list += (list.empty() ? "" : ", ") + o;
        std::string hint = lastFromEnv_ ? "" : didYouMean(v, options);
        if (hint.rfind(" (did you mean", 0) != 0) hint.clear();  // the list is already shown
        error(node, "'" + key + "' must be one of " + list + shown + hint);
        return false;
      }
    }
    if (field.pattern && std::holds_alternative<std::string>(value)) {
      std::string spec = field.pattern;
      std::size_t hash = spec.find('#');
      std::string meaning = hash == std::string::npos ? spec : spec.substr(hash + 1);
      if (!std::regex_search(std::get<std::string>(value),
                             std::regex(spec.substr(0, hash), std::regex::ECMAScript))) {
        error(node, "'" + key + "' must be " + meaning + shown);
        return false;
      }
    }
    auto number = [&](const Config::Value& v) -> double {
      if (auto* i = std::get_if<int64_t>(&v)) return static_cast<double>(*i);
      if (auto* d = std::get_if<double>(&v)) return *d;
      if (auto* ms = std::get_if<std::chrono::milliseconds>(&v))
        return static_cast<double>(ms->count());
      return 0;
    };
    auto bound = [&](const char* text) -> std::optional<double> {
      if (!text) return std::nullopt;
      if (field.type == Type::Duration) {
        std::string problem;
        auto ms = durationMs(text, problem);
        return ms ? std::optional<double>(static_cast<double>(*ms)) : std::nullopt;
      }
      return std::stod(text);
    };
    if (field.type != Type::Int && field.type != Type::Double && field.type != Type::Duration) {
      return true;
    }
    double n = number(value);
    if (auto low = bound(field.min); low && n < *low) {
      error(node, "'" + key + "' must be at least " + field.min + shown);
      return false;
    }
    if (auto high = bound(field.max); high && n > *high) {
      error(node, "'" + key + "' must be at most " + field.max + shown);
      return false;
    }
    return true;
  }

  // Checks that `node` is a map, that keys are unique and known; calls `onKey` for each.
  template <class OnKey>
  void mapKeys(const YAML::Node& node, const std::string& what,
               const std::vector<std::string>& known, OnKey onKey) {
    if (!node.IsMap()) {
      error(node, what + " must be a map of keys");
      return;
    }
    std::set<std::string> seen;
    for (auto it = node.begin(); it != node.end(); ++it) {
      if (!it->first.IsScalar()) {
        error(it->first, "keys in " + what + " must be plain names");
        continue;
      }
      const std::string& key = it->first.Scalar();
      if (!seen.insert(key).second) {
        error(it->first, "duplicate key '" + key + "' in " + what);
        continue;
      }
      if (std::find(known.begin(), known.end(), key) == known.end()) {
        error(it->first, "unknown key '" + key + "' in " + what + didYouMean(key, known));
        continue;
      }
      onKey(key, it->first, it->second);
    }
  }

 private:
  std::string path_;
  const EnvLookup& env_;
  std::vector<std::string> errors_;
  bool lastFromEnv_ = false;  // the last scalar read came (partly) from the environment
  std::map<std::string, std::string> locations_;           // of the last Document's inner nodes
  std::vector<std::string> lines_;                         // the file's text, read when needed
  std::map<std::string, Config::Connection> connections_;  // the file's connections
};

std::optional<PluginSpec> pluginBlock(Validator& v, PluginLoader& loader, const YAML::Node& node,
                                      Kind kind, const std::string& where) {
  if (!node.IsMap()) {
    v.error(node, where + " must be a map with a 'plugin' key");
    return std::nullopt;
  }
  YAML::Node nameNode = node["plugin"];
  if (!nameNode) {
    v.error(node, where + ": missing required key 'plugin'");
    return std::nullopt;
  }
  auto name = v.scalar(nameNode, "plugin");
  if (!name) return std::nullopt;
  PluginSpec spec;
  spec.name = *name;
  spec.location = v.at(node.Mark());
  try {
    spec.descriptor = &loader.load(spec.name);
  } catch (const PluginError& e) {
    v.error(nameNode, e.what());
    return std::nullopt;
  }
  const PluginDescriptor& d = *spec.descriptor;
  if (d.kind != kind) {
    v.error(nameNode, "plugin '" + spec.name + "' is a " + kindName(d.kind) + ", but " + where +
                          " needs a " + kindName(kind));
    return std::nullopt;
  }
  std::vector<std::string> keys{"plugin"};
  if (kind == Kind::Sink) keys.push_back("writers");
  for (const ConfigField* f = d.schema; f && f->key; ++f) keys.push_back(f->key);
  std::size_t errorsBefore = v.errors().size();
  std::set<std::string> given;
  v.mapKeys(node, where + " (plugin '" + spec.name + "')", keys,
            [&](const std::string& key, const YAML::Node& keyNode, const YAML::Node& value) {
              if (key == "plugin") return;
              if (key == "writers") {
                const ConfigField& field = *sinkKeys();
                auto typed = v.typed(value, key, field.type);
                if (typed && v.withinLimits(value, key, field, *typed)) {
                  spec.writers = static_cast<std::size_t>(std::get<int64_t>(*typed));
                }
                return;
              }
              given.insert(key);
              const ConfigField* field = d.schema;
              while (field->key != key) ++field;
              if (auto typed = v.typed(value, key, field->type)) {
                if (v.withinLimits(value, key, *field, *typed)) {
                  ConfigBuilder::set(spec.config, key, *typed, v.at(keyNode.Mark()),
                                     v.takeLocations());
                  if (value.IsScalar()) {
                    auto [line, column] = v.contentStart(value);
                    if (line)
                      ConfigBuilder::setValuePlace(spec.config, key, v.path(), line, column);
                  }
                }
              }
            });
  for (const ConfigField* f = d.schema; f && f->key; ++f) {
    if (given.count(f->key)) continue;
    if (f->required) {
      v.error(node, where + " (plugin '" + spec.name + "'): missing required key '" + f->key +
                        "' (" + typeName(f->type) + ": " + f->description + ")");
    } else if (f->defaultValue) {
      // Defaults of list and map keys are YAML; scalar defaults are taken literally ("-").
      bool structured = f->type == Type::StringList || f->type == Type::StringListMap ||
                        f->type == Type::Document || f->type == Type::Json;
      YAML::Node value = structured ? YAML::Load(f->defaultValue) : YAML::Node(f->defaultValue);
      auto typed = v.typed(value, f->key, f->type);
      if (typed) {
        ConfigBuilder::set(spec.config, f->key, *typed, "default of plugin " + spec.name,
                           v.takeLocations());
      }
    }
  }
  if (v.errors().size() != errorsBefore) return std::nullopt;
  if (d.check) {
    try {
      d.check(spec.config);
    } catch (const std::exception& e) {
      // The plugin names the place when it can ("file:line:column: ..."); otherwise its block.
      std::string message = e.what();
      bool located = message.rfind(v.at(YAML::Mark::null_mark()), 0) == 0;
      if (located) {
        // A plugin may report several mistakes at once, one a line.
        for (std::size_t from = 0, end; from < message.size(); from = end + 1) {
          end = message.find('\n', from);
          if (end == std::string::npos) end = message.size();
          v.errors().push_back(message.substr(from, end - from));
        }
      } else {
        v.error(node, where + " (plugin '" + spec.name + "'): " + message);
      }
      return std::nullopt;
    }
  }
  return spec;
}

}  // namespace

// The runner's own keys, with the same kind of limits as plugin keys.
const ConfigField kBatchKeys[] = {{"max_records", Type::Int, false, nullptr, "", "1", "1000000"},
                                  {"max_latency", Type::Duration, false, nullptr, "", "1ms", "1h"},
                                  {"queue", Type::Int, false, nullptr, "", "1", "1000"},
                                  {}};
const ConfigField kRetryKeys[] = {
    {"initial_backoff", Type::Duration, false, nullptr, "", "10ms", "1h"},
    {"max_backoff", Type::Duration, false, nullptr, "", "10ms", "24h"},
    {"give_up_after", Type::Duration, false, nullptr, "", "1s", nullptr},
    {}};

std::optional<Millis> parseDuration(const std::string& text) {
  std::string problem;
  auto ms = durationMs(text, problem);
  if (!ms) return std::nullopt;
  return Millis(*ms);
}

const ConfigField kHealthKeys[] = {
    {"max_staleness", Type::Duration, false, nullptr,
     "unhealthy when neither a batch committed nor the source was caught up for this long", "1s",
     nullptr},
    {"max_dead_letter_ratio", Type::Double, false, nullptr,
     "the pipeline fails (exit 70, /health 503) when more than this share of the last "
     "dead_letter_window records became dead letters (default: 0.9 with --once, else off; 1: "
     "never)",
     "0", "1"},
    {"dead_letter_window", Type::Int, false, "1000",
     "how many of the latest records max_dead_letter_ratio looks at (it waits for this many "
     "records, or the end of a --once run that read at least 100, before it judges)",
     "10", "10000000"},
    {}};

const ConfigField kSinkKeys[] = {
    {"writers", Type::Int, false, nullptr,
     "batches written at once, each by its own connection in its own transaction, committed in "
     "batch order (for sinks that can; default: from the machine's cores, at least 2)",
     "1", "64"},
    {}};

const ConfigField* sinkKeys() {
  return kSinkKeys;
}

const ConfigField* healthKeys() {
  return kHealthKeys;
}

const ConfigField* batchKeys() {
  return kBatchKeys;
}
const ConfigField* retryKeys() {
  return kRetryKeys;
}

namespace {

// Validates a map of the runner's keys; calls `onValue` for each valid one.
template <class OnValue>
void runnerBlock(Validator& v, const YAML::Node& node, const std::string& what,
                 const ConfigField* keys, OnValue onValue) {
  std::vector<std::string> names;
  for (const ConfigField* f = keys; f->key; ++f) names.push_back(f->key);
  v.mapKeys(node, what, names,
            [&](const std::string& key, const YAML::Node&, const YAML::Node& value) {
              const ConfigField* field = keys;
              while (field->key != key) ++field;
              auto typed = v.typed(value, key, field->type);
              if (typed && v.withinLimits(value, key, *field, *typed)) onValue(key, value, *typed);
            });
}

void batchBlock(Validator& v, const YAML::Node& node, PipelineSpec& p) {
  runnerBlock(v, node, "batch", kBatchKeys,
              [&](const std::string& key, const YAML::Node&, const Config::Value& value) {
                if (key == "max_latency") {
                  p.maxLatency = std::get<std::chrono::milliseconds>(value);
                } else {
                  (key == "max_records" ? p.maxRecords : p.queueBatches) =
                      static_cast<std::size_t>(std::get<int64_t>(value));
                }
              });
}

void retryBlock(Validator& v, const YAML::Node& node, PipelineSpec& p) {
  const YAML::Node* maxNode = nullptr;
  YAML::Node maxValue;
  runnerBlock(v, node, "retry", kRetryKeys,
              [&](const std::string& key, const YAML::Node& valueNode, const Config::Value& value) {
                auto duration = std::get<std::chrono::milliseconds>(value);
                if (key == "give_up_after") {
                  p.retryGiveUp = duration;
                } else if (key == "initial_backoff") {
                  p.retryInitial = duration;
                } else {
                  p.retryMax = duration;
                  maxValue = valueNode;
                  maxNode = &maxValue;
                }
              });
  if (p.retryMax < p.retryInitial) {
    v.error(maxNode ? *maxNode : node, "'max_backoff' must be at least 'initial_backoff'");
  }
}

}  // namespace

PipelineFile loadPipelineFile(const std::string& path, PluginLoader& loader, const EnvLookup& env) {
  Validator v(path, env);
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    throw ConfigErrors({path + ": cannot read the pipeline file"});
  } catch (const YAML::ParserException& e) {
    throw ConfigErrors({v.at(e.mark) + ": YAML syntax error: " + e.msg});
  }
  PipelineFile file;
  file.path = path;
  if (!root.IsMap()) {
    throw ConfigErrors({v.at(root.Mark()) + ": a pipeline file is a map with a 'pipelines' key"});
  }
  bool sawPipelines = false;
  // Connections first: plugins of any pipeline refer to them by name.
  if (YAML::Node connections = root["connections"]) {
    std::map<std::string, Config::Connection> named;
    if (!connections.IsMap()) {
      v.error(connections, "'connections' must map names to database URIs");
    } else {
      std::string dir = Poco::Path(Poco::Path(path).absolute()).parent().toString();
      for (auto it = connections.begin(); it != connections.end(); ++it) {
        std::string name = it->first.Scalar();
        static const std::regex validName("[A-Za-z0-9_-]+");
        if (!std::regex_match(name, validName)) {
          v.error(it->first,
                  "connection name '" + name + "' may use only letters, digits, '_' and '-'");
          continue;
        }
        Config::Connection connection{name, "", ""};
        if (it->second.IsMap()) {
          // {uri: ..., migrations: folder}: the folder is relative to the pipeline file.
          v.mapKeys(it->second, "connection '" + name + "'", {"uri", "migrations"},
                    [&](const std::string& key, const YAML::Node&, const YAML::Node& value) {
                      auto text = v.scalar(value, key);
                      if (!text) return;
                      if (key == "uri") {
                        connection.uri = *text;
                      } else {
                        connection.migrations =
                            Poco::Path(dir).resolve(Poco::Path(*text)).toString();
                        Poco::File folder(connection.migrations);
                        if (!folder.exists() || !folder.isDirectory()) {
                          v.error(value,
                                  "migrations folder " + connection.migrations + " does not exist");
                        }
                      }
                    });
          if (!it->second["uri"]) v.error(it->second, "connection '" + name + "' has no 'uri'");
        } else if (auto uri = v.scalar(it->second, name)) {
          connection.uri = *uri;
        }
        named[name] = connection;
      }
    }
    v.setConnections(std::move(named));
  }
  v.mapKeys(
      root, "the pipeline file", {"pipelines", "state_dir", "connections"},
      [&](const std::string& key, const YAML::Node& keyNode, const YAML::Node& value) {
        if (key == "connections") return;  // read above
        if (key == "state_dir") {
          if (auto s = v.scalar(value, key)) file.stateDir = *s;
          return;
        }
        sawPipelines = true;
        if (!value.IsMap() || value.size() == 0) {
          v.error(value.IsNull() ? keyNode : value,
                  "'pipelines' must map pipeline names to pipelines");
          return;
        }
        for (auto it = value.begin(); it != value.end(); ++it) {
          PipelineSpec p;
          p.name = it->first.as<std::string>();
          p.file = path;
          static const std::regex validName("[A-Za-z0-9_-]+");
          if (!std::regex_match(p.name, validName)) {
            v.error(it->first,
                    "pipeline name '" + p.name + "' may use only letters, digits, '_' and '-'");
          }
          const YAML::Node body = it->second;  // a copy: it-> is a temporary
          std::string where = "pipeline '" + p.name + "'";
          bool haveSource = false, haveSink = false;
          v.mapKeys(body, where, {"source", "transforms", "sink", "batch", "retry", "health"},
                    [&](const std::string& k, const YAML::Node& kn, const YAML::Node& val) {
                      if (k == "source") {
                        haveSource = true;
                        if (auto s = pluginBlock(v, loader, val, Kind::Source, where + " source"))
                          p.source = *s;
                      } else if (k == "sink") {
                        haveSink = true;
                        if (auto s = pluginBlock(v, loader, val, Kind::Sink, where + " sink"))
                          p.sink = *s;
                      } else if (k == "transforms") {
                        if (val.IsNull()) return;
                        if (!val.IsSequence()) {
                          v.error(val, where + ": 'transforms' must be a list");
                          return;
                        }
                        for (std::size_t i = 0; i < val.size(); ++i) {
                          auto t = pluginBlock(v, loader, val[i], Kind::Transform,
                                               where + " transform #" + std::to_string(i + 1));
                          if (t) p.transforms.push_back(*t);
                        }
                      } else if (k == "batch") {
                        batchBlock(v, val, p);
                      } else if (k == "health") {
                        runnerBlock(v, val, "health", kHealthKeys,
                                    [&](const std::string& key, const YAML::Node&,
                                        const Config::Value& value) {
                                      if (key == "max_staleness") {
                                        p.maxStaleness = std::get<std::chrono::milliseconds>(value);
                                      } else if (key == "max_dead_letter_ratio") {
                                        p.maxDeadLetterRatio = std::get<double>(value);
                                      } else {
                                        p.deadLetterWindow = std::get<int64_t>(value);
                                      }
                                    });
                      } else {
                        retryBlock(v, val, p);
                      }
                    });
          if (body.IsMap() && !haveSource) v.error(it->first, where + " has no 'source'");
          if (body.IsMap() && !haveSink) v.error(it->first, where + " has no 'sink'");
          file.pipelines.push_back(std::move(p));
        }
      });
  if (!sawPipelines && v.errors().empty()) {
    v.error(root, "missing required key 'pipelines'");
  }
  if (!v.errors().empty()) throw ConfigErrors(v.errors());
  return file;
}

}  // namespace etl
