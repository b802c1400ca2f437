// A schema the user owns: versioned SQL files, one folder per dialect,
//   DIR/postgresql/001_create_tables.sql, DIR/sqlite/001_create_tables.sql, ...
// applied in version order, each once, recorded in etl_schema_migrations (version, name).
#pragma once

#include <string>
#include <vector>

namespace sql {

enum class Dialect { Postgres, Sqlite };
const char* dialectName(Dialect dialect);  // "postgresql", "sqlite": also the folder names

struct Migration {
  int version = 0;
  std::string name;  // the file name without version and extension
  std::string file;
  std::string statements;
};

// The migrations of `dialect` under `dir`, by version. Throws std::runtime_error naming the file
// for a name without a version, two files with one version, or a missing dialect folder.
std::vector<Migration> readMigrations(const std::string& dir, Dialect dialect);

}  // namespace sql
