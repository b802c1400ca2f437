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

}  // namespace

std::string withoutSecrets(const std::string& text) {
  static const std::regex keyword(
      R"((^|\s)(host|hostaddr|port|dbname)\s*=\s*('([^'\\]|\\.)*'|\S*))");
  std::size_t scheme = text.find("://");
  if (scheme != std::string::npos) {
    // The authority ends at the path, query or fragment; its host follows its last '@' (a
    // password may hold '@' itself).
    std::size_t from = scheme + 3;
    std::size_t end = text.find_first_of("/?#", from);
    std::string authority =
        text.substr(from, end == std::string::npos ? std::string::npos : end - from);
    std::size_t at = authority.rfind('@');
    std::string host = at == std::string::npos ? authority : authority.substr(at + 1);
    std::string path;
    if (end != std::string::npos && text[end] == '/') {
      std::size_t stop = text.find_first_of("?#", end);
      path = text.substr(end, stop == std::string::npos ? std::string::npos : stop - end);
    }
    return text.substr(0, from) + host + path;
  }
  static const std::regex keywords(R"(^\s*[a-z_]+\s*=)");
  if (std::regex_search(text, keywords)) {  // libpq's "host=... password=..."
    std::string out;
    for (std::sregex_iterator it(text.begin(), text.end(), keyword), end; it != end; ++it) {
      out += (out.empty() ? "" : " ") + (*it)[2].str() + "=" + (*it)[3].str();
    }
    return out;
  }
  return text;
}

namespace {

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
        identity.set(*key, withoutSecrets(plugin.config.getString(*key)));
        break;
      case Type::StringList: {
        Poco::JSON::Array list;
        for (const auto& item : plugin.config.getStringList(*key)) list.add(withoutSecrets(item));
        identity.set(*key, list);
        break;
      }
      case Type::Connection:
        identity.set(*key, withoutSecrets(plugin.config.getConnection(*key).uri));
        break;
      case Type::Int:
        identity.set(*key, plugin.config.getInt(*key));
        break;
      case Type::Document: {  // its entries, by what they name: what they hold may be edited
        Poco::JSON::Array names;
        try {
          auto object = Poco::JSON::Parser()
                            .parse(plugin.config.getDocument(*key))
                            .extract<Poco::JSON::Object::Ptr>();
          std::set<std::string> sorted;
          for (const auto& [name, value] : *object) {
            // An entry's `table:` when it has one (the entry's name is then a label).
            auto entry = value.type() == typeid(Poco::JSON::Object::Ptr)
                             ? value.extract<Poco::JSON::Object::Ptr>()
                             : nullptr;
            bool named = entry && entry->has("table") && entry->get("table").isString();
            sorted.insert(named ? entry->getValue<std::string>("table") : name);
          }
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
      // A partitioned checkpoint's parts (another pipeline of the same name, a consumer group):
      // its identity is one of them. Anything else is an earlier etlrun's, whole.
      if (stored.find("\"" + kPartKey + "\":") != std::string::npos) {
        try {
          auto parts = Poco::JSON::Parser().parse(stored).extract<Poco::JSON::Object::Ptr>();
          if (parts && parts->has(kPartKey)) return {canonical(parts->get(kPartKey)), stored};
        } catch (const Poco::Exception&) {
        }
      }
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
  if (!partitioned) {
    // Sized once: a watch list's checkpoint is a megabyte, and growing by appends doubles it.
    std::string out;
    out.reserve(kPositionKey.size() + position.size() + kIdentityKey.size() + identity.size() + 1);
    out.append(kPositionKey).append(position).append(kIdentityKey).append(identity).append("}");
    return out;
  }
  std::size_t open = position.find_first_not_of(" \t\r\n");
  if (open == std::string::npos || position[open] != '{') return position;  // the sink says so
  std::size_t next = position.find_first_not_of(" \t\r\n", open + 1);
  bool empty = next != std::string::npos && position[next] == '}';
  return "{\"" + kPartKey + "\":" + identity + (empty ? "}" : "," + position.substr(open + 1));
}

}  // namespace etl
