// A schema the user owns: versioned SQL files, one folder per dialect,
//   DIR/postgresql/001_create_tables.sql, DIR/sqlite/001_create_tables.sql,
//   DIR/mysql/001_create_tables.sql, ...
// applied in version order, each once, recorded in etl_schema_migrations (version, name).
#pragma once

#include <string>
#include <vector>

namespace sql {

class SqlDialect;

struct Migration {
  int version = 0;
  std::string name;  // the file name without version and extension
  std::string file;
  std::string statements;
  // PostgreSQL: the file starts with "-- etlrun: no-transaction": its statements run one by one
  // outside a transaction (CREATE INDEX CONCURRENTLY needs it), in `each`.
  bool noTransaction = false;
  std::vector<std::string> each;
};

// The top-level statements of PostgreSQL SQL text, each with the line it starts on: split at
// semicolons outside quotes, comments, dollar-quoted bodies and BEGIN ATOMIC ... END.
std::vector<std::pair<std::string, std::size_t>> splitStatements(const std::string& sql);

// Refuses (std::runtime_error naming the file and line) a statement of `m` that begins or ends a
// transaction: a migration runs in one of its own. `hint` ends the message. A trigger's body
// (CREATE TRIGGER ... BEGIN ...; ...; END) holds statements of its own: not control.
void checkTransactions(const Migration& m, const std::string& hint = "");

// The migrations of `dialect` under `dir`, by version, each read by its dialect
// (SqlDialect::readMigration). Throws std::runtime_error naming the file for a name without a
// version, two files with one version, a missing dialect folder, or a statement its dialect
// refuses (naming the line too).
std::vector<Migration> readMigrations(const std::string& dir, const SqlDialect& dialect);

}  // namespace sql
