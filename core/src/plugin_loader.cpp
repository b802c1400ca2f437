#include "plugin_loader.h"

#include <Poco/DirectoryIterator.h>
#include <Poco/Environment.h>
#include <Poco/File.h>
#include <Poco/Path.h>
#include <Poco/StringTokenizer.h>
#include <unistd.h>

#include <climits>

namespace etl {
namespace {

const std::string kPrefix = "libetl_";
const std::string kSuffix = ".so";

std::string executableDir() {
  char buffer[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buffer, sizeof(buffer) - 1);
  if (n <= 0) return ".";
  buffer[n] = 0;
  return Poco::Path(buffer).parent().toString();
}

}  // namespace

std::vector<std::string> PluginLoader::defaultSearchPath() {
  std::vector<std::string> path;
  std::string fromEnv = Poco::Environment::get("ETLRUN_PLUGIN_PATH", "");
  Poco::StringTokenizer tokens(
      fromEnv, ":", Poco::StringTokenizer::TOK_IGNORE_EMPTY | Poco::StringTokenizer::TOK_TRIM);
  for (const auto& dir : tokens) path.push_back(dir);
  std::string exeDir = executableDir();
  path.push_back(exeDir + "plugins");
  path.push_back(exeDir + "../" ETLRUN_PLUGIN_RELATIVE_DIR);
  path.push_back(ETLRUN_PLUGIN_INSTALL_DIR);
  return path;
}

PluginLoader::PluginLoader(std::vector<std::string> searchPath)
    : searchPath_(std::move(searchPath)) {
  for (const auto& dir : searchPath_) {
    Poco::File folder(dir);
    if (!folder.exists() || !folder.isDirectory()) continue;
    for (Poco::DirectoryIterator it(folder), end; it != end; ++it) {
      const std::string& file = it.name();
      if (file.size() <= kPrefix.size() + kSuffix.size() || file.rfind(kPrefix, 0) != 0 ||
          file.compare(file.size() - kSuffix.size(), kSuffix.size(), kSuffix) != 0) {
        continue;
      }
      std::string name = file.substr(kPrefix.size(), file.size() - kPrefix.size() - kSuffix.size());
      files_.emplace(name, it.path().toString());
    }
  }
}

std::vector<std::string> PluginLoader::available() const {
  std::vector<std::string> names;
  for (const auto& [name, path] : files_) names.push_back(name);
  for (const auto& [name, descriptor] : loaded_) {
    if (!files_.count(name)) names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string PluginLoader::pathOf(const std::string& name) const {
  auto it = files_.find(name);
  return it == files_.end() ? "(built in)" : it->second;
}

void PluginLoader::registerBuiltin(const PluginDescriptor& descriptor) {
  loaded_[descriptor.name] = &descriptor;
}

const PluginDescriptor& PluginLoader::load(const std::string& name) {
  if (auto it = loaded_.find(name); it != loaded_.end()) return *it->second;
  auto file = files_.find(name);
  if (file == files_.end()) {
    std::string known;
    for (const auto& candidate : available()) known += (known.empty() ? "" : ", ") + candidate;
    std::string where;
    for (const auto& dir : searchPath_) where += (where.empty() ? "" : ":") + dir;
    throw PluginError("unknown plugin '" + name + "'; known plugins: " +
                      (known.empty() ? "(none)" : known) + " (searched " + where + ")");
  }
  const std::string& path = file->second;
  auto library = std::make_unique<Poco::SharedLibrary>();
  try {
    library->load(path, Poco::SharedLibrary::SHLIB_LOCAL);
  } catch (const Poco::Exception& e) {
    throw PluginError("cannot load plugin '" + name + "' from " + path + ": " + e.displayText());
  }
  if (!library->hasSymbol("etl_plugin_abi") || !library->hasSymbol("etl_plugin_descriptor")) {
    throw PluginError(path + " is not an etlrun plugin (no ETL_PLUGIN declaration)");
  }
  auto abi = reinterpret_cast<unsigned (*)()>(library->getSymbol("etl_plugin_abi"))();
  if (abi != ETL_PLUGIN_ABI_VERSION) {
    throw PluginError("plugin '" + name + "' (" + path + ") has ABI version " +
                      std::to_string(abi) + ", this etlrun expects ABI version " +
                      std::to_string(ETL_PLUGIN_ABI_VERSION) +
                      ": rebuild the plugin against this etlrun's SDK");
  }
  auto describe =
      reinterpret_cast<const PluginDescriptor* (*)()>(library->getSymbol("etl_plugin_descriptor"));
  const PluginDescriptor* descriptor = nullptr;
  try {
    descriptor = describe();
  } catch (...) {
    throw PluginError("plugin '" + name + "' (" + path + ") threw while describing itself");
  }
  // A hand-written or half-built library can hand back anything: check before using it.
  std::string broken;
  if (!descriptor) {
    broken = "returned no descriptor";
  } else if (!descriptor->name || !descriptor->create) {
    broken = "has a descriptor without a name or a factory";
  } else if (descriptor->kind != Kind::Source && descriptor->kind != Kind::Transform &&
             descriptor->kind != Kind::Sink) {
    broken = "declares an unknown kind";
  }
  if (!broken.empty()) {
    throw PluginError("plugin '" + name + "' (" + path + ") " + broken +
                      ": it is not usable; rebuild it with ETL_PLUGIN(...) from etl/sdk.h");
  }
  if (name != descriptor->name) {
    throw PluginError(path + " declares plugin '" + descriptor->name +
                      "', but its file name says '" + name + "'");
  }
  libraries_.push_back(std::move(library));
  loaded_[name] = descriptor;
  return *descriptor;
}

}  // namespace etl
