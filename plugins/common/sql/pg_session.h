// One libpq connection with the error handling every PostgreSQL plugin needs: connection settings
// parsed by libpq, refusals that cannot heal (authentication, missing database) told apart from
// outages, failed statements classified (the row's data, the connection, or a bug), text values
// passed with their length and bytes in binary, COPY.
#pragma once

#include <libpq-fe.h>

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "connection_string.h"
#include "sql_error.h"

namespace Poco {
class Logger;
}

namespace sql {

// A statement parameter: text (NULL when empty), or bytes sent in binary format (bytea).
struct Param {
  std::optional<std::string> value;
  bool binary = false;
  Param(std::optional<std::string> v) : value(std::move(v)) {}  // NOLINT: implicit on purpose
  Param(std::string v) : value(std::move(v)) {}                 // NOLINT
  Param(const char* v) : value(std::string(v)) {}               // NOLINT
  static Param bytes(std::optional<std::string> v) {
    Param p(std::move(v));
    p.binary = true;
    return p;
  }
};

// Owns a PGresult.
struct Result {
  PGresult* result = nullptr;
  explicit Result(PGresult* r) : result(r) {}
  ~Result() {
    if (result) PQclear(result);
  }
  Result(const Result&) = delete;
  Result& operator=(const Result&) = delete;
  int rows() const { return PQntuples(result); }
  std::string value(int row, int column) const { return PQgetvalue(result, row, column); }
  bool isNull(int row, int column) const { return PQgetisnull(result, row, column); }
  long long affected() const { return std::atoll(PQcmdTuples(result)); }
};

class PgSession {
 public:
  // `uri`: postgresql://..., or libpq key=value. Nothing happens until connect(). The server's
  // notices (NOTICE, WARNING...) go to `logger` (see pg_notices.h).
  PgSession(std::string uri, Poco::Logger& logger) : uri_(std::move(uri)), logger_(&logger) {}
  ~PgSession() { disconnect(); }
  PgSession(const PgSession&) = delete;
  PgSession& operator=(const PgSession&) = delete;

  bool connected() const { return pg_ && PQstatus(pg_) == CONNECTION_OK; }
  // Throws std::runtime_error for what cannot heal (bad settings, wrong password, no such
  // database) and etl::RetryableError for the rest.
  void connect();
  void disconnect();
  std::string describe() const;

  void exec(const std::string& statement);
  // A statement the server may refuse (a setting an older server lacks): false then. Within the
  // answer deadline like every other call; a timeout or a lost connection still throws.
  bool tryExec(const std::string& statement);
  PGresult* query(const std::string& statement);
  // Text parameters holding a NUL throw DataError: PostgreSQL text cannot store one, and a C
  // string would cut the value there.
  PGresult* params(const std::string& statement, const std::vector<Param>& values);
  // COPY `target` FROM STDIN with `options`: start, send data in pieces (so a batch is never
  // held whole as COPY text), end.
  void copyStart(const std::string& target, const std::string& options);
  void copyPut(const std::string& data);
  void copyEnd(const std::string& target);
  void rollback();  // if a transaction is open; never throws
  // How long one statement (or COPY) may wait for the server's answer. A server that stopped
  // answering (frozen, a network cut without a reset) would otherwise hold the pipeline forever:
  // past it the connection is dropped (the server rolls the transaction back) and the work is
  // retried on a new one. 0: no limit.
  void setAnswerTimeout(std::chrono::milliseconds timeout) { answerTimeout_ = timeout; }

  // Classifies a failed result: lost connection and transient states -> RetryableError (and a
  // reconnect next time), SQLSTATE 22/23 -> DataError, anything else -> std::runtime_error.
  PGresult* check(PGresult* result, const std::string& what,
                  ExecStatusType expected = PGRES_COMMAND_OK);
  PGconn* handle() { return pg_; }

 private:
  [[noreturn]] void connectionFailure(const std::string& what);
  // Sends what is buffered, then waits for the statement's results (as PQexec would, but within
  // answerTimeout_). Returns the last result, or a COPY's start.
  PGresult* await(const std::string& what);
  void flush(const std::string& what, std::chrono::steady_clock::time_point deadline);
  // Waits for `events` on the socket until `deadline`; throws (dropping the connection) past it.
  void waitSocket(short events, const std::string& what,
                  std::chrono::steady_clock::time_point deadline);
  std::chrono::steady_clock::time_point deadline() const;
  std::chrono::milliseconds answerTimeout_{600000};
  std::chrono::steady_clock::time_point copyDeadline_{};

  std::string uri_;
  Poco::Logger* logger_;
  std::optional<Connection> connection_;
  PGconn* pg_ = nullptr;
};

}  // namespace sql
