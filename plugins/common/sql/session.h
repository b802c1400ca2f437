// One interface over the three connections (pg_session.h, sqlite_session.h, mysql_session.h; each
// dialect's file adapts its own), for the features written once against it: the table writer's
// transactions, checkpoints and dead letters, the watch list's query, the claim queue, the GitHub
// enrichment's cache. Statements with parameters, rows back as text, errors classified the
// same way everywhere (DataError, etl::RetryableError, std::runtime_error: sql_error.h). What one
// database alone can do (COPY, multi-row INSERT, ...) stays on its own class.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dialects.h"

namespace Poco {
class Logger;
}

namespace sql {

class Session {
 public:
  using Values = std::vector<std::optional<std::string_view>>;  // nullopt: NULL
  using Rows = std::vector<std::vector<std::optional<std::string>>>;

  virtual ~Session() = default;
  virtual const SqlDialect& dialect() const = 0;
  virtual std::string describe() const = 0;  // for logs: never a password
  virtual bool isOpen() const = 0;
  // Connects (SQLite: opens the file, creating its folder). Throws std::runtime_error for what
  // cannot heal (a wrong password, no such database) and etl::RetryableError for the rest.
  // A view (a Database's own connection) never connects by itself: its Database connects with the
  // settings and in the transaction its work needs, and a connection lost mid-batch must fail the
  // batch (a RetryableError), not let the rest of it run on a new connection outside that
  // transaction.
  void open();
  // For sessions that write, after open(): SQLite opens a file it may not write read-only without
  // a word (the first write would fail much later); throws, naming the file and why.
  virtual void requireWritable() {}
  // One statement with `values` for its placeholders (SqlDialect::placeholder), opened first
  // if need be: the rows it returns, every value as text.
  virtual Rows query(const std::string& statement, const Values& values = {}) = 0;
  // The same for a statement that returns no rows: how many rows it changed (an UPDATE: matched,
  // changed or not, as PostgreSQL and SQLite count them).
  virtual int64_t execute(const std::string& statement, const Values& values = {}) = 0;
  virtual void rollback() = 0;  // if a transaction is open; never throws
  // PostgreSQL and MariaDB/MySQL: how long one statement may wait for the server's answer; past it
  // the connection is dropped and the call fails as retryable (a frozen server, a network cut),
  // and the server ends the statement a second later. Before open(): MariaDB's is the
  // connection's. SQLite is embedded: nothing to wait for but its own lock.
  virtual void setAnswerTimeout(std::chrono::milliseconds /*timeout*/) {}

 protected:
  virtual bool ownsConnection() const = 0;  // made by makeSession, not a view
  virtual void connect() = 0;
};

// The connection a URI names (dialectOf): sqlite:PATH (relative under `stateDir`), mysql:// or
// mariadb://, anything else PostgreSQL. Nothing is opened yet.
std::unique_ptr<Session> makeSession(const std::string& uri, const std::string& stateDir,
                                     Poco::Logger& logger);

}  // namespace sql
