// Which database a connection URI names, decided in one place for every plugin (the sql sink, the
// claim queue, list queries, the GitHub store), the way JDBC URLs choose a driver:
//   sqlite:PATH                                  SQLite (a relative path is under state_dir)
//   mysql://user@host:port/db, mariadb://...     MariaDB or MySQL
//   postgresql://..., postgres://..., key=value  PostgreSQL (anything else is given to libpq)
#pragma once

#include <string>

#include "migrations.h"

namespace sql {

// Throws std::runtime_error for an empty URI.
Dialect dialectOf(const std::string& uri);

}  // namespace sql
