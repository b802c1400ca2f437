#include "etl/config.h"

#include <stdexcept>

#include "etl/plugin.h"

namespace etl {

const char* typeName(Type type) {
  switch (type) {
    case Type::String:
      return "string";
    case Type::Int:
      return "integer";
    case Type::Double:
      return "number";
    case Type::Bool:
      return "boolean";
    case Type::Duration:
      return "duration";
    case Type::StringList:
      return "list of strings";
    case Type::StringListMap:
      return "map of string lists";
    case Type::Document:
      return "YAML document";
    case Type::Connection:
      return "connection";
    case Type::Path:
      return "path";
    case Type::Json:
      return "YAML value";
  }
  return "?";
}

const char* kindName(Kind kind) {
  switch (kind) {
    case Kind::Source:
      return "source";
    case Kind::Transform:
      return "transform";
    case Kind::Sink:
      return "sink";
  }
  return "?";
}

void Config::set(const std::string& key, Value value, std::string location,
                 std::map<std::string, std::string> locations) {
  values_[key] = std::move(value);
  locations_[key] = std::move(location);
  for (auto& [path, where] : locations) locations_[key + "/" + path] = std::move(where);
}

const Config::Value& Config::value(const std::string& key) const {
  auto it = values_.find(key);
  if (it == values_.end()) {
    throw std::out_of_range("config key '" + key + "' is not set and has no default");
  }
  return it->second;
}

std::string Config::location(const std::string& key) const {
  // The nearest known place: a path inside a document falls back to its parent's.
  for (std::string path = key;;) {
    auto it = locations_.find(path);
    if (it != locations_.end()) return it->second;
    std::size_t slash = path.rfind('/');
    if (slash == std::string::npos) return {};
    path.erase(slash);
  }
}

std::string Config::valueLocation(const std::string& key, std::size_t line) const {
  auto it = valuePlaces_.find(key);
  if (it == valuePlaces_.end()) return location(key);
  const ValuePlace& place = it->second;
  return place.file + ":" + std::to_string(place.line + (line ? line - 1 : 0)) + ":" +
         std::to_string(place.column);
}

const Config::Connection& Config::getConnection(const std::string& key) const {
  return std::get<Connection>(value(key));
}

const std::string& Config::getDocument(const std::string& key) const {
  return std::get<Json>(value(key)).text;
}

const std::string& Config::getString(const std::string& key) const {
  return std::get<std::string>(value(key));
}
int64_t Config::getInt(const std::string& key) const {
  return std::get<int64_t>(value(key));
}
double Config::getDouble(const std::string& key) const {
  return std::get<double>(value(key));
}
bool Config::getBool(const std::string& key) const {
  return std::get<bool>(value(key));
}
std::chrono::milliseconds Config::getDuration(const std::string& key) const {
  return std::get<std::chrono::milliseconds>(value(key));
}
const Config::StringList& Config::getStringList(const std::string& key) const {
  return std::get<StringList>(value(key));
}
const Config::StringListMap& Config::getStringListMap(const std::string& key) const {
  return std::get<StringListMap>(value(key));
}

}  // namespace etl
