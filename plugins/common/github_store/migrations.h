// The schema, as numbered migrations per database. A migration is never edited once released:
// changes come as a new number. Applied versions are recorded in etl_schema_migrations.
#pragma once

#include <string>
#include <vector>

namespace store {

struct Migration {
  int version;
  const char* name;
  std::vector<const char*> statements;
};

const std::vector<Migration>& postgresMigrations();
const std::vector<Migration>& sqliteMigrations();

}  // namespace store
