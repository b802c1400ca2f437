// Finds plugin libraries (libetl_<name>.so) on the search path and loads them on demand. The ABI
// number is read through a plain C function before anything else in the library is touched.
#pragma once

#include <Poco/SharedLibrary.h>

#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "etl/plugin.h"

namespace etl {

class PluginError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class PluginLoader {
 public:
  // Directories are searched in order; the first file for a name wins.
  explicit PluginLoader(std::vector<std::string> searchPath);
  // $ETLRUN_PLUGIN_PATH, then the plugins folder beside the executable (build tree), then the
  // install's plugin dir relative to the executable, then the configured install dir.
  static std::vector<std::string> defaultSearchPath();

  // Names of every plugin file found, sorted (built-ins included).
  std::vector<std::string> available() const;
  // Loads a plugin by name. Throws PluginError naming the known plugins for an unknown name, and
  // naming the file with the expected and found ABI for a mismatched one.
  const PluginDescriptor& load(const std::string& name);
  // Registers a plugin compiled into the host (tests use this for instrumented plugins).
  void registerBuiltin(const PluginDescriptor& descriptor);
  const std::vector<std::string>& searchPath() const { return searchPath_; }
  std::string pathOf(const std::string& name) const;

 private:
  std::vector<std::string> searchPath_;
  std::map<std::string, std::string> files_;
  std::map<std::string, const PluginDescriptor*> loaded_;
  // Libraries stay loaded for the life of the process: plugin objects and their vtables live there.
  std::vector<std::unique_ptr<Poco::SharedLibrary>> libraries_;
};

}  // namespace etl
