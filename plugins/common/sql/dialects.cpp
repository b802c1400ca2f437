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

std::string placeholder(Dialect dialect, int i) {
  switch (dialect) {
    case Dialect::Postgres:
      return "$" + std::to_string(i);
    case Dialect::Sqlite:
      return "?" + std::to_string(i);
    case Dialect::Mysql:
      break;
  }
  return "?";
}

const char* beginStatement(Dialect dialect) {
  return dialect == Dialect::Sqlite ? "BEGIN IMMEDIATE" : "BEGIN";
}

std::string mark(int i) {
  return "\x01" + std::to_string(i) + "\x02";
}

Bound bindMarks(Dialect dialect, const std::string& marked,
                const std::vector<std::string>& values) {
  Bound out;
  std::vector<bool> used(values.size());
  for (std::size_t at = 0; at < marked.size();) {
    std::size_t start = marked.find('\x01', at);
    out.statement += marked.substr(at, start == std::string::npos ? start : start - at);
    if (start == std::string::npos) break;
    std::size_t end = marked.find('\x02', start);
    int i = std::stoi(marked.substr(start + 1, end - start - 1));
    if (i < 1 || static_cast<std::size_t>(i) > values.size()) {
      throw std::logic_error("statement mark " + std::to_string(i) + " has no value");
    }
    used[static_cast<std::size_t>(i - 1)] = true;
    out.statement += placeholder(dialect, i);
    if (dialect == Dialect::Mysql) out.values.push_back(values[static_cast<std::size_t>(i - 1)]);
    at = end + 1;
  }
  if (dialect == Dialect::Mysql) return out;  // (a value no mark names is simply not sent)
  // $N and ?N values go whole: one no mark names would be the database's error (SQLite's
  // SQLITE_RANGE would pass for a row's refusal), not a row's. A mistake here, said so.
  for (std::size_t i = 0; i < used.size(); ++i) {
    if (!used[i]) throw std::logic_error("statement value " + std::to_string(i + 1) + " unused");
  }
  out.values = values;
  return out;
}

Bound columnsQuery(Dialect dialect, const std::string& table) {
  std::size_t dot = table.rfind('.');
  std::string bare = dot == std::string::npos ? table : table.substr(dot + 1);
  switch (dialect) {
    case Dialect::Postgres:
      return {
          "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a WHERE "
          "a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY "
          "a.attnum",
          {quoteIdentifier(table)}};
    case Dialect::Mysql: {
      // MariaDB shows a JSON column as longtext, DATETIME without a zone: resolveColumns knows.
      Bound out{
          "SELECT COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS WHERE "
          "TABLE_SCHEMA = " +
              std::string(dot == std::string::npos ? "DATABASE()" : "?") +
              " AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
          {}};
      if (dot != std::string::npos) out.values.push_back(table.substr(0, dot));
      out.values.push_back(bare);
      return out;
    }
    case Dialect::Sqlite:
      break;
  }
  return {"SELECT name, type FROM pragma_table_info(?1)", {bare}};
}

std::string isoTimeText(Dialect dialect, const std::string& column) {
  switch (dialect) {
    case Dialect::Postgres:
      return "to_char(" + column + " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')";
    case Dialect::Mysql:  // the session's zone is UTC
      return "CONCAT(LEFT(DATE_FORMAT(" + column + ", '%Y-%m-%dT%H:%i:%s.%f'), 23), 'Z')";
    case Dialect::Sqlite:
      break;
  }
  return column;
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
