#include "migrations.h"

#include <Poco/DirectoryIterator.h>
#include <Poco/File.h>

#include <algorithm>
#include <map>
#include <regex>
#include <stdexcept>

#include "etl/files.h"

namespace sql {

const char* dialectName(Dialect dialect) {
  return dialect == Dialect::Postgres ? "postgresql" : "sqlite";
}

std::vector<Migration> readMigrations(const std::string& dir, Dialect dialect) {
  std::string folder = dir + "/" + dialectName(dialect);
  Poco::File file(folder);
  if (!file.exists() || !file.isDirectory()) {
    throw std::runtime_error("migrations: " + folder + " does not exist (the " +
                             dialectName(dialect) + " migrations of " + dir + ")");
  }
  static const std::regex name("([0-9]+)_([A-Za-z0-9_.-]+)\\.sql");
  std::map<int, Migration> byVersion;
  for (Poco::DirectoryIterator it(file), end; it != end; ++it) {
    std::smatch m;
    const std::string base = it.name();
    if (it->isDirectory() || base.size() < 4 || base.compare(base.size() - 4, 4, ".sql") != 0) {
      continue;
    }
    if (!std::regex_match(base, m, name)) {
      throw std::runtime_error("migrations: " + it.path().toString() +
                               " is not named VERSION_NAME.sql (e.g. 001_create_tables.sql)");
    }
    int version = std::stoi(m[1]);
    if (byVersion.count(version)) {
      throw std::runtime_error("migrations: " + it.path().toString() + " and " +
                               byVersion[version].file + " have the same version " +
                               std::to_string(version));
    }
    byVersion[version] = {version, m[2], it.path().toString(),
                          etl::readFileIfExists(it.path().toString()).value_or("")};
  }
  std::vector<Migration> out;
  for (auto& [version, migration] : byVersion) out.push_back(std::move(migration));
  return out;
}

}  // namespace sql
