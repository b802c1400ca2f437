// A library with the right ABI whose descriptor function returns null (a hand-written or
// half-built plugin): the loader must name it and refuse it, not crash.
#include "etl/plugin.h"

ETL_PLUGIN_EXPORT unsigned etl_plugin_abi() {
  return ETL_PLUGIN_ABI_VERSION;
}
ETL_PLUGIN_EXPORT const etl::PluginDescriptor* etl_plugin_descriptor() {
  return nullptr;
}
