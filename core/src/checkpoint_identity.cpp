#include "checkpoint_identity.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <regex>
#include <set>
#include <sstream>

#include "etl/errors.h"

namespace etl {

namespace {

const std::string kPositionKey = "{\"position\":";
const std::string kIdentityKey = ",\"etl_written_by\":";
const std::string kPartKey = "etl_written_by";

// An identity is shown in logs and stored beside data: a password in a URL or a libpq string
// never goes into it.
std::string withoutPassword(const std::string& text) {
  static const std::regex inUrl(R"(^([A-Za-z][A-Za-z0-9+.-]*://[^/@:]*):[^@/]*@)");
  static const std::regex inKeywords(R"((^|\s|[?&])password\s*=\s*('([^'\\]|\\.)*'|[^\s&]*))",
                                     std::regex::icase);
  return std::regex_replace(std::regex_replace(text, inUrl, "$1@"), inKeywords, "$1");
}

std::string canonical(const Poco::Dynamic::Var& value) {
  std::ostringstream out;
  Poco::JSON::Stringifier::condense(value, out);
  return out.str();
}

const ConfigField* fieldOf(const PluginDescriptor& descriptor, const std::string& key) {
  for (const ConfigField* f = descriptor.schema; f && f->key; ++f) {
    if (key == f->key) return f;
  }
  return nullptr;
}

Poco::JSON::Object pluginIdentity(const PluginSpec& plugin) {
  Poco::JSON::Object identity;  // keys kept sorted: one text for one identity
  identity.set("plugin", plugin.name);
  const PluginDescriptor* descriptor = plugin.descriptor;
  for (const char* const* key = descriptor ? descriptor->identity : nullptr; key && *key; ++key) {
    const ConfigField* field = fieldOf(*descriptor, *key);
    if (!field || !plugin.config.has(*key)) continue;
    switch (field->type) {
      case Type::String:
      case Type::Path:
        identity.set(*key, withoutPassword(plugin.config.getString(*key)));
        break;
      case Type::StringList: {
        Poco::JSON::Array list;
        for (const auto& item : plugin.config.getStringList(*key)) list.add(withoutPassword(item));
        identity.set(*key, list);
        break;
      }
      case Type::Connection:
        identity.set(*key, withoutPassword(plugin.config.getConnection(*key).uri));
        break;
      case Type::Int:
        identity.set(*key, plugin.config.getInt(*key));
        break;
      case Type::Document: {  // its entries by name: what they hold may be edited
        Poco::JSON::Array names;
        try {
          auto object = Poco::JSON::Parser()
                            .parse(plugin.config.getDocument(*key))
                            .extract<Poco::JSON::Object::Ptr>();
          std::set<std::string> sorted;
          for (const auto& [name, value] : *object) sorted.insert(name);
          for (const auto& name : sorted) names.add(name);
        } catch (const Poco::Exception&) {  // not a map: validated elsewhere
        }
        identity.set(*key, names);
        break;
      }
      default:  // tuning, not identity: a type no plugin names
        break;
    }
  }
  return identity;
}

}  // namespace

bool isIdentityKey(const char* const* identity, const std::string& key) {
  for (; identity && *identity; ++identity) {
    if (key == *identity) return true;
  }
  return false;
}

const char* const kIdentityKeyNote =
    "identity: what the pipeline's checkpoint belongs to; after a change the pipeline refuses "
    "its checkpoint until `etlrun checkpoint FILE adopt` takes it over";

std::string pipelineIdentity(const PipelineSpec& pipeline) {
  Poco::JSON::Object identity;
  identity.set("source", pluginIdentity(pipeline.source));
  identity.set("sink", pluginIdentity(pipeline.sink));
  return canonical(identity);
}

namespace {

std::string describePlugin(const Poco::JSON::Object::Ptr& plugin) {
  if (!plugin) return "?";
  std::string out = plugin->has("plugin") ? plugin->getValue<std::string>("plugin") : "?";
  std::string keys;
  for (const auto& [key, value] : *plugin) {
    if (key == "plugin") continue;
    keys += (keys.empty() ? "" : ", ") + key + ": " + canonical(value);
  }
  return keys.empty() ? out : out + " (" + keys + ")";
}

}  // namespace

std::string describeIdentity(const std::string& identity) {
  try {
    auto object = Poco::JSON::Parser().parse(identity).extract<Poco::JSON::Object::Ptr>();
    if (!object) return identity;
    return describePlugin(object->getObject("source")) + " -> " +
           describePlugin(object->getObject("sink"));
  } catch (const Poco::Exception&) {
    return identity;
  }
}

bool sameIdentity(const std::string& a, const std::string& b) {
  if (a == b) return true;
  try {
    return canonical(Poco::JSON::Parser().parse(a)) == canonical(Poco::JSON::Parser().parse(b));
  } catch (const Poco::Exception&) {
    return false;
  }
}

StoredCheckpoint splitCheckpoint(const std::string& stored, bool partitioned) {
  if (!partitioned) {
    // The identity is the last member: the source's text before it is kept byte for byte, and a
    // quote inside the identity's strings is escaped, so its key cannot appear within it.
    std::size_t at = stored.rfind(kIdentityKey);
    if (stored.compare(0, kPositionKey.size(), kPositionKey) != 0 || at == std::string::npos ||
        at < kPositionKey.size() || stored.back() != '}') {
      return {std::nullopt, stored};
    }
    std::size_t from = at + kIdentityKey.size();
    return {stored.substr(from, stored.size() - 1 - from),
            stored.substr(kPositionKey.size(), at - kPositionKey.size())};
  }
  if (stored.empty()) return {std::nullopt, stored};
  Poco::JSON::Object::Ptr parts;
  try {
    parts = Poco::JSON::Parser().parse(stored).extract<Poco::JSON::Object::Ptr>();
  } catch (const Poco::Exception& e) {
    throw CheckpointError("a partitioned checkpoint is not a JSON object: " + e.displayText());
  }
  if (!parts) throw CheckpointError("a partitioned checkpoint is not a JSON object");
  if (!parts->has(kPartKey)) return {std::nullopt, stored};
  std::string identity = canonical(parts->get(kPartKey));
  parts->remove(kPartKey);
  return {identity, canonical(parts)};
}

std::string stampCheckpoint(const std::string& identity, const std::string& position,
                            bool partitioned) {
  if (position.empty()) return position;
  if (!partitioned) return kPositionKey + position + kIdentityKey + identity + "}";
  std::size_t open = position.find_first_not_of(" \t\r\n");
  if (open == std::string::npos || position[open] != '{') return position;  // the sink says so
  std::size_t next = position.find_first_not_of(" \t\r\n", open + 1);
  bool empty = next != std::string::npos && position[next] == '}';
  return "{\"" + kPartKey + "\":" + identity + (empty ? "}" : "," + position.substr(open + 1));
}

}  // namespace etl
