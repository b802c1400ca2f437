// What one database says differently, in one class per database, the way Kafka Connect's JDBC sink
// keeps a DatabaseDialect per database and picks it by the URL's subprotocol:
//   sqlite:PATH                                  SQLite (sqlite_dialect.cpp; a relative path is
//                                                under state_dir)
//   mysql://user@host:port/db, mariadb://...     MariaDB or MySQL (mysql_dialect.cpp)
//   postgresql://..., postgres://..., key=value  PostgreSQL (postgres_dialect.cpp; anything else is
//                                                given to libpq)
// A dialect holds its words (placeholders, types, the upsert clause, ...), its table writer's own
// parts (database.h: the bulk path, locks) and the connection it talks through (session.h). The
// features (the table writer, checkpoints, dead letters, the claim queue, queries) are written once
// against it.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "column_types.h"
#include "migrations.h"

namespace Poco {
class Logger;
}

namespace sql {

class Session;
class Database;
struct DatabaseOptions;

// A statement and its values in the order its placeholders take them.
struct Bound {
  std::string statement;
  std::vector<std::string> values;
};

class SqlDialect {
 public:
  virtual ~SqlDialect() = default;
  // Its name, also the folder of its migrations ("postgresql", "sqlite", "mysql").
  virtual const char* name() const = 0;
  // Whether `uri` names a database of this dialect (see the top; the registry asks each in turn).
  virtual bool accepts(const std::string& uri) const = 0;
  // Connections and the table writer, nothing opened yet.
  virtual std::unique_ptr<Session> session(const std::string& uri, const std::string& stateDir,
                                           Poco::Logger& logger) const = 0;
  virtual std::unique_ptr<Database> database(DatabaseOptions options,
                                             Poco::Logger& logger) const = 0;

  // The placeholder of a statement's `i`-th value (1-based): $i, ?i, or MySQL's ?, which is
  // positional (values bind in the order their ? appear in the text: see bindMarks).
  virtual std::string placeholder(int i) const = 0;
  bool positional() const { return placeholder(1) == placeholder(2); }
  // The statement that begins a transaction.
  virtual const char* begin() const { return "BEGIN"; }
  // An INSERT's end for rows whose `key` (quoted columns, comma separated; "" for a table without
  // one) exists already: `sets` ("a = <incoming a>, ..."), or nothing done when "" (never MySQL's
  // INSERT IGNORE, which would also turn every data error into a warning and store a cut value).
  virtual std::string onConflict(const std::string& key, const std::string& sets) const {
    if (key.empty()) return " ON CONFLICT DO NOTHING";
    return " ON CONFLICT (" + key + ") DO " + (sets.empty() ? "NOTHING" : "UPDATE SET " + sets);
  }
  // The value an INSERT brought for `column` (quoted), inside onConflict's sets.
  virtual std::string incoming(const std::string& column) const { return "excluded." + column; }
  // The current time as this dialect's timestamp columns store it.
  virtual std::string now() const = 0;
  // An SQL expression giving timestamp column `column` as ISO 8601 UTC text with milliseconds
  // (2024-05-01T12:00:00.000Z); SQLite keeps that text as it was written.
  virtual std::string isoTimeText(const std::string& column) const { return column; }
  // An SQL expression giving bytes column `column` as hex text.
  virtual std::string hexText(const std::string& column) const { return "hex(" + column + ")"; }
  // LIKE's escape clause for a backslash.
  virtual std::string likeEscape() const { return " ESCAPE '\\'"; }
  // The query listing table `table`'s columns (name, type as the database shows it), in order; no
  // rows when there is no such table.
  virtual Bound columnsQuery(const std::string& table) const = 0;

  // The column type a column declared `declared` is made with by create: auto (`key`: the column is
  // in the table's key); SQLite's compares an existing column's affinity with it too.
  virtual std::string storageType(const std::string& declared, bool key = false) const = 0;
  // The type of an existing column the table shows as `shown`.
  virtual ColumnType shownType(const std::string& shown) const { return columnType(shown); }
  // Whether an existing column of type `has` (as the table shows it: `shown`) takes the values of
  // a column declared `declared`.
  virtual bool fits(const ColumnType& declared, const ColumnType& has,
                    const std::string& shown) const = 0;
  // How a user runs `statements` on the database `where` (Database::describe) by hand, for
  // messages that say what to do.
  virtual std::string byHand(const std::string& statements, const std::string& /*where*/) const {
    return statements;
  }
  // After the closing parenthesis of a table made by create: auto.
  virtual std::string createOptions() const { return ""; }
  // Whether column names match whatever their case.
  virtual bool namesIgnoreCase() const { return true; }
  // How converted values are written (column_types.h).
  virtual ValueStyle valueStyle() const { return {}; }

  // The claim queue's claim (claim_queue.cpp) in one statement: the due rows (`due`: a SELECT of
  // their keys) locked against other claimers, `set` (" SET status = ..., claimed_at = ...") on
  // them, and each returned as (key, the JSON object of `columns`). "" where the database has no
  // UPDATE ... RETURNING: the queue then locks the due rows (lockDue), updates them and reads them
  // in one transaction.
  virtual std::string claimStatement(const std::string& /*table*/, const std::string& /*key*/,
                                     const std::string& /*set*/, const std::string& /*due*/,
                                     const std::vector<std::string>& /*columns*/) const {
    return "";
  }
  // What a SELECT of due rows ends with to lock them, skipping rows another claimer holds.
  virtual std::string lockDue() const { return " FOR UPDATE SKIP LOCKED"; }
  // An expression giving the JSON object (as text) of `columns`, each read as `prefix` + column.
  virtual std::string jsonObject(const std::vector<std::string>& columns,
                                 const std::string& prefix = "") const;

  // Reads migration `m` (its statements as written) into how it runs (Migration::each,
  // noTransaction), refusing what cannot run (std::runtime_error naming file and line). By
  // default it runs whole in a transaction of its own: no statement may begin or end one.
  virtual void readMigration(Migration& m) const { checkTransactions(m); }

  // The column types of etlrun's own tables (etl_checkpoints, etl_dead_letters, ...).
  struct StateTypes {
    const char* key;      // short text in a key
    const char* text;     // text of any length
    const char* bytes;    // bytes of any length
    const char* id;       // an increasing id, the primary key
    const char* time;     // a timestamp
    const char* options;  // after a table's closing parenthesis
  };
  virtual StateTypes stateTypes() const = 0;
};

// The dialect of a URI (see the top). Throws std::runtime_error for an empty URI.
const SqlDialect& dialectOf(const std::string& uri);
// The dialect called `name` (SqlDialect::name). Throws std::invalid_argument for no such dialect.
const SqlDialect& dialectNamed(const std::string& name);

// A statement's values written once for every dialect: `mark(i)` stands for the i-th value
// (1-based) in the text, and bindMarks() makes the dialect's statement of it, with the values in
// the order its placeholders take them (MySQL's ? are positional: the order the marks appear).
std::string mark(int i);
Bound bindMarks(const SqlDialect& dialect, const std::string& marked,
                const std::vector<std::string>& values);

}  // namespace sql
