// One JSON Schema (draft-07) for pipeline files, made from the schemas of every plugin the loader
// can load: editors with yaml-language-server complete and check pipeline files with it
//   # yaml-language-server: $schema=../etlrun.schema.json
// Each plugin block is one alternative of a oneOf, chosen by its `plugin:` value; enums, numeric
// ranges and duration patterns come from the plugins' ConfigFields. Values may always be
// ${VAR} references, checked when etlrun reads the file.
#pragma once

#include <string>

#include "plugin_loader.h"

namespace etl {

std::string pipelineJsonSchema(PluginLoader& loader);

}  // namespace etl
