#include "dialects.h"

#include <stdexcept>

#include "database.h"
#include "mysql_session.h"

namespace sql {

std::unique_ptr<Database> makePostgresDatabase(DatabaseOptions options, Poco::Logger& logger);
std::unique_ptr<Database> makeSqliteDatabase(DatabaseOptions options, std::string path,
                                             Poco::Logger& logger);
std::unique_ptr<Database> makeMysqlDatabase(DatabaseOptions options, Poco::Logger& logger);

Dialect dialectOf(const std::string& uri) {
  if (uri.empty()) {
    throw std::runtime_error(
        "no database: the connection is empty (use sqlite:PATH for the embedded store, "
        "postgresql://user@host:port/db or mysql://user@host:port/db)");
  }
  if (uri.rfind("sqlite:", 0) == 0) return Dialect::Sqlite;
  if (isMysqlUri(uri)) return Dialect::Mysql;
  return Dialect::Postgres;
}

std::unique_ptr<Database> makeDatabase(DatabaseOptions options, Poco::Logger& logger) {
  switch (dialectOf(options.uri)) {
    case Dialect::Sqlite: {
      std::string path = *sqlitePathOf(options.uri, options.stateDir);
      return makeSqliteDatabase(std::move(options), std::move(path), logger);
    }
    case Dialect::Mysql:
      return makeMysqlDatabase(std::move(options), logger);
    case Dialect::Postgres:
      break;
  }
  return makePostgresDatabase(std::move(options), logger);
}

}  // namespace sql
