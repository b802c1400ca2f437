// Which database a connection URI names, decided in one place for every plugin (the sql sink, the
// claim queue, list queries, the GitHub store), the way JDBC URLs choose a driver:
//   sqlite:PATH                                  SQLite (a relative path is under state_dir)
//   mysql://user@host:port/db, mariadb://...     MariaDB or MySQL
//   postgresql://..., postgres://..., key=value  PostgreSQL (anything else is given to libpq)
#pragma once

#include <string>
#include <vector>

#include "migrations.h"

namespace sql {

// Throws std::runtime_error for an empty URI.
Dialect dialectOf(const std::string& uri);

// The placeholder of a statement's `i`-th value (1-based): $i, ?i, or MySQL's ?, which is
// positional (values bind in the order their ? appear in the text).
std::string placeholder(Dialect dialect, int i);
// The statement that begins a transaction: SQLite's takes the write lock at once (a deferred one
// that writes later can fail as busy where waiting would have done).
const char* beginStatement(Dialect dialect);

// A statement's values written once for every dialect: `mark(i)` stands for the i-th value
// (1-based) in the text, and bindMarks() makes the dialect's statement of it, with the values in
// the order its placeholders take them (MySQL's ? are positional: the order the marks appear).
std::string mark(int i);
struct Bound {
  std::string statement;
  std::vector<std::string> values;
};
Bound bindMarks(Dialect dialect, const std::string& marked, const std::vector<std::string>& values);

// The query listing table `table`'s columns (name, type as the database shows it), in order; no
// rows when there is no such table.
Bound columnsQuery(Dialect dialect, const std::string& table);

// An SQL expression giving timestamp column `column` as ISO 8601 UTC text with milliseconds
// (2024-05-01T12:00:00.000Z); SQLite keeps that text as it was written.
std::string isoTimeText(Dialect dialect, const std::string& column);

}  // namespace sql
