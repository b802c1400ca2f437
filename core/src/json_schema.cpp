#include "json_schema.h"

#include <map>
#include <vector>

#include "checkpoint_identity.h"
#include "etl/record.h"
#include "pipeline_spec.h"

namespace etl {
namespace {

std::string quoted(const std::string& text) {
  std::string out;
  appendJsonString(out, text);
  return out;
}

// A ${VAR} reference: accepted wherever a scalar is.
const char* kVariable = R"({"type":"string","pattern":"\\$\\{"})";

std::string objectSchema(const ConfigField* fields, const std::string& extraProperties,
                         std::vector<std::string> required, const std::string& description,
                         const char* const* identity = nullptr);

std::string scalarSchema(const ConfigField& f) {
  auto withVariable = [](const std::string& schema) {
    return std::string(R"({"anyOf":[)") + schema + "," + kVariable + "]}";
  };
  std::string bounds;
  if (f.min) bounds += std::string(R"(,"minimum":)") + f.min;
  if (f.max) bounds += std::string(R"(,"maximum":)") + f.max;
  switch (f.type) {
    case Type::String:
    case Type::Path:
    case Type::Connection: {
      if (f.pattern) {
        std::string regex = f.pattern;
        regex = regex.substr(0, regex.find('#'));
        return withVariable(R"({"type":"string","pattern":)" + quoted(regex) + "}");
      }
      if (!f.choices) return R"({"type":"string"})";
      std::string list, choices = f.choices;
      for (std::size_t at = 0, bar; at <= choices.size(); at = bar + 1) {
        bar = choices.find('|', at);
        if (bar == std::string::npos) bar = choices.size();
        list += (list.empty() ? "" : ",") + quoted(choices.substr(at, bar - at));
      }
      return withVariable(R"({"enum":[)" + list + "]}");
    }
    case Type::Int:
      return withVariable(R"({"type":"integer")" + bounds + "}");
    case Type::Double:
      return withVariable(R"({"type":"number")" + bounds + "}");
    case Type::Bool:
      return withVariable(R"({"type":"boolean"})");
    case Type::Duration:
      // Ranges of durations are checked by etlrun; here the shape: 250ms, 30s, 5m, 24h, 2d.
      return withVariable(
          R"({"anyOf":[{"type":"number","minimum":0},{"type":"string","pattern":"^[0-9]+(\\.[0-9]+)?(ms|s|m|h|d)?$"}]})");
    case Type::StringList:
      return R"({"anyOf":[{"type":"string"},{"type":"array","items":{"type":"string"}}]})";
    case Type::StringListMap:
      return R"({"type":"object","additionalProperties":{"anyOf":[{"type":"string"},)"
             R"({"type":"array","items":{"type":"string"}}]}})";
    case Type::Document:
      if (f.entries) {
        // A map of names to objects of `entries` (or, with a shorthand, to a plain string).
        std::string entry = objectSchema(f.entries, "", {}, "");
        if (f.shorthand) entry = R"({"anyOf":[{"type":"string"},)" + entry + "]}";
        return R"({"type":"object","minProperties":1,"additionalProperties":)" + entry + "}";
      }
      return "{}";
    case Type::Json:
      return "{}";
  }
  return "{}";
}

// "key":{schema},... for `fields`; required keys are appended to `required`.
std::string properties(const ConfigField* fields, std::vector<std::string>& required,
                       const char* const* identity = nullptr) {
  std::string out;
  for (const ConfigField* f = fields; f && f->key; ++f) {
    std::string field = scalarSchema(*f);
    std::string doc = f->description ? f->description : "";
    if (isIdentityKey(identity, f->key))
      doc += (doc.empty() ? "" : "; ") + std::string(kIdentityKeyNote);
    if (!doc.empty())
      field.insert(1, R"("description":)" + quoted(doc) + (field.size() > 2 ? "," : ""));
    out += (out.empty() ? "" : ",") + quoted(f->key) + ":" + field;
    if (f->required) required.push_back(f->key);
  }
  return out;
}

// {"type":"object","properties":{...},"required":[...],"additionalProperties":false}
std::string objectSchema(const ConfigField* fields, const std::string& extraProperties,
                         std::vector<std::string> required, const std::string& description,
                         const char* const* identity) {
  std::string own = properties(fields, required, identity);
  std::string all = extraProperties + (extraProperties.empty() || own.empty() ? "" : ",") + own;
  std::string list;
  for (const auto& r : required) list += (list.empty() ? "" : ",") + quoted(r);
  return R"({"type":"object",)" +
         (description.empty() ? "" : R"("description":)" + quoted(description) + ",") +
         R"("properties":{)" + all + R"(},"required":[)" + list +
         R"(],"additionalProperties":false})";
}

}  // namespace

std::string pipelineJsonSchema(PluginLoader& loader) {
  std::map<Kind, std::vector<std::string>> byKind;
  std::string definitions;
  for (const auto& name : loader.available()) {
    const PluginDescriptor* d = nullptr;
    try {
      d = &loader.load(name);
    } catch (const PluginError&) {
      continue;  // a refused plugin cannot be used in a pipeline either
    }
    std::string id = "plugin_" + name;
    std::string core = R"("plugin":{"const":)" + quoted(name) + "}";
    // The core's own keys of a sink block, beside the plugin's.
    std::vector<std::string> none;
    if (d->kind == Kind::Sink) core += "," + properties(sinkKeys(), none);
    definitions += (definitions.empty() ? "" : ",") + quoted(id) + ":" +
                   objectSchema(d->schema, core, {"plugin"},
                                std::string(d->description ? d->description : "") + " (" +
                                    kindName(d->kind) + " " + (d->version ? d->version : "") + ")",
                                d->identity);
    byKind[d->kind].push_back(id);
  }
  auto oneOf = [&](Kind kind) {
    std::string list;
    for (const auto& id : byKind[kind]) {
      list += (list.empty() ? "" : ",") + std::string(R"({"$ref":"#/definitions/)") + id + "\"}";
    }
    return R"({"oneOf":[)" + list + "]}";
  };
  std::string pipeline = R"({"type":"object","properties":{"source":)" + oneOf(Kind::Source) +
                         R"(,"transforms":{"type":["array","null"],"items":)" +
                         oneOf(Kind::Transform) + R"(},"sink":)" + oneOf(Kind::Sink) +
                         R"(,"batch":)" + objectSchema(batchKeys(), "", {}, "") + R"(,"retry":)" +
                         objectSchema(retryKeys(), "", {}, "") + R"(,"health":)" +
                         objectSchema(healthKeys(), "", {}, "") +
                         R"(},"required":["source","sink"],"additionalProperties":false})";
  std::string connection =
      R"({"anyOf":[{"type":"string"},{"type":"object","properties":{"uri":{"type":"string"},)"
      R"("migrations":{"type":"string"}},"required":["uri"],"additionalProperties":false}]})";
  return R"({"$schema":"http://json-schema.org/draft-07/schema#","title":"etlrun pipeline file",)"
         R"("type":"object","properties":{"state_dir":{"type":"string"},)"
         R"("connections":{"type":"object","additionalProperties":)" +
         connection +
         R"(},"pipelines":{"type":"object","minProperties":1,"propertyNames":)"
         R"({"pattern":"^[A-Za-z0-9_-]+$"},"additionalProperties":{"$ref":"#/definitions/pipeline"}}},)"
         R"("required":["pipelines"],"additionalProperties":false,"definitions":{"pipeline":)" +
         pipeline + "," + definitions + "}}\n";
}

}  // namespace etl
