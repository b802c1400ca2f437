#include "pg_session.h"

#include <poll.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <regex>

#include "etl/errors.h"
#include "pg_notices.h"

namespace sql {
namespace {

// What to tell an operator for a connection the server refused for good (SQLSTATE class 28:
// authentication; 3D000: no such database).
std::string hintFor(const std::string& state) {
  if (state.rfind("28", 0) == 0) {
    return "check the user and the password (PGPASSWORD, or the connection's password) and "
           "pg_hba.conf";
  }
  if (state == "3D000") return "create the database, or fix dbname in the connection";
  return "";
}

// "FATAL:  28P01: password authentication failed ..." (verbose libpq errors) -> "28P01".
// Whether an error of this SQLSTATE may be one row's fault, so that writing the rows one at a time
// tells which (the row-by-row path decides, not the class alone): bad values (22), constraints
// (23), limits a value can exceed (54: an index row too large, nesting too deep), a trigger or
// function that raises (P0, 38, 39, 2F, 09, 27), a view's check option (44), a key twice in one
// statement (21). The rest is the pipeline's or the server's: a mapping that does not fit the
// table (42), unsupported features (0A), a broken transaction (25), the server itself (XX, 58),
// and what heals by itself (08, 53, 57, 40, 55P03), which never gets here.
bool mayBeTheRows(const std::string& state) {
  for (const char* rowClass : {"22", "23", "54", "P0", "38", "39", "2F", "09", "27", "44", "21"}) {
    if (state.rfind(rowClass, 0) == 0) return true;
  }
  return false;
}

std::string sqlstateIn(const std::string& message) {
  static const std::regex state("(FATAL|ERROR|PANIC):  ([0-9A-Z]{5}): ");
  std::smatch m;
  return std::regex_search(message, m, state) ? m[2].str() : std::string();
}

void trimEnd(std::string& text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
}

}  // namespace

std::string PgSession::describe() const {
  return connection_ ? connection_->description : "PostgreSQL";
}

void PgSession::disconnect() {
  if (pg_) PQfinish(pg_);
  pg_ = nullptr;
}

// A refusal that waiting cannot cure (wrong password, no such database, a password needed and
// none given) is permanent; the rest (server down, starting up, too many connections, network)
// is retried by the runner.
void PgSession::connect() {
  disconnect();
  // Parsed here, not at construction: a mistake fails the pipeline (exit 70) with a message, and
  // the environment (PGPASSWORD) is read when the connection is made.
  if (!connection_) connection_ = parseConnection(uri_, "PGPASSWORD");
  std::vector<const char*> keys, values;
  int timeoutSeconds = 10;
  for (std::size_t i = 0; i < connection_->keywords.size(); ++i) {
    keys.push_back(connection_->keywords[i].c_str());
    values.push_back(connection_->values[i].c_str());
    if (connection_->keywords[i] == "connect_timeout") {
      timeoutSeconds = std::max(2, std::atoi(connection_->values[i].c_str()));
    }
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);
  pg_ = PQconnectStartParams(keys.data(), values.data(), 0);
  if (!pg_) throw etl::RetryableError("cannot connect to " + describe() + ": out of memory");
  routeNotices(pg_, *logger_);
  // Verbose errors carry the server's SQLSTATE, which tells a refusal from an outage.
  PQsetErrorVerbosity(pg_, PQERRORS_VERBOSE);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeoutSeconds);
  PostgresPollingStatusType state = PGRES_POLLING_WRITING;
  while (PQstatus(pg_) != CONNECTION_BAD && state != PGRES_POLLING_OK &&
         state != PGRES_POLLING_FAILED) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) {
      disconnect();
      throw etl::RetryableError("cannot connect to " + describe() + ": timed out after " +
                                std::to_string(timeoutSeconds) + " s");
    }
    pollfd fd{PQsocket(pg_), static_cast<short>(state == PGRES_POLLING_READING ? POLLIN : POLLOUT),
              0};
    if (::poll(&fd, 1, static_cast<int>(std::min<int64_t>(left, 1000))) == 0) continue;
    state = PQconnectPoll(pg_);
  }
  if (PQstatus(pg_) == CONNECTION_OK) {
    PQsetErrorVerbosity(pg_, PQERRORS_DEFAULT);
    // Every wait is ours (await, waitSocket), each with the answer deadline.
    PQsetnonblocking(pg_, 1);
    return;
  }
  std::string message = scrub(PQerrorMessage(pg_), *connection_);
  bool needsPassword = PQconnectionNeedsPassword(pg_);
  disconnect();
  trimEnd(message);
  std::string hint = hintFor(sqlstateIn(message));
  if (needsPassword) hint = "the server asks for a password and none was given: " + hintFor("28");
  std::string what = "cannot connect to " + describe() + ": " + message;
  if (!hint.empty()) throw std::runtime_error(what + " (" + hint + ")");
  throw etl::RetryableError(what);
}

void PgSession::exec(const std::string& statement) {
  Result r(query(statement));
}

bool PgSession::tryExec(const std::string& statement) {
  if (!PQsendQuery(pg_, statement.c_str())) connectionFailure("sending a statement");
  Result r(await(statement.substr(0, 60)));
  if (PQstatus(pg_) != CONNECTION_OK) connectionFailure(statement.substr(0, 60));
  ExecStatusType status = r.result ? PQresultStatus(r.result) : PGRES_FATAL_ERROR;
  return status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;
}

PGresult* PgSession::query(const std::string& statement) {
  if (!PQsendQuery(pg_, statement.c_str())) connectionFailure("sending a statement");
  return check(await(statement.substr(0, 60)), statement.substr(0, 60));
}

std::chrono::steady_clock::time_point PgSession::deadline() const {
  if (answerTimeout_.count() <= 0) return std::chrono::steady_clock::time_point::max();
  return std::chrono::steady_clock::now() + answerTimeout_;
}

void PgSession::waitSocket(short events, const std::string& what,
                           std::chrono::steady_clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                  deadline - std::chrono::steady_clock::now())
                  .count();
  if (left <= 0) {
    std::string server = describe();
    disconnect();  // the server rolls the open transaction back when it notices
    auto ms = answerTimeout_.count();
    throw etl::RetryableError(
        "no answer from " + server + " within " +
        (ms % 1000 ? std::to_string(ms) + " ms" : std::to_string(ms / 1000) + " s") + " to " +
        what +
        " (the server may be frozen, or the network cut): the connection was dropped and the "
        "work is retried on a new one; if the server is only slow, raise answer_timeout");
  }
  pollfd fd{PQsocket(pg_), events, 0};
  (void)::poll(&fd, 1, static_cast<int>(std::min<int64_t>(left, 1000)));
}

void PgSession::flush(const std::string& what, std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    int left = PQflush(pg_);
    if (left == 0) return;
    if (left < 0) connectionFailure("sending " + what);
    waitSocket(POLLIN | POLLOUT, what, deadline);
    // The server may answer (an error) while we still send: read it, or it could wait for us.
    if (!PQconsumeInput(pg_)) connectionFailure("sending " + what);
  }
}

PGresult* PgSession::await(const std::string& what) {
  auto until = deadline();
  flush(what, until);
  PGresult* last = nullptr;
  for (;;) {
    while (PQisBusy(pg_)) {
      waitSocket(POLLIN, what, until);
      if (!PQconsumeInput(pg_)) break;  // the connection is gone: PQgetResult reports it
    }
    PGresult* result = PQgetResult(pg_);
    if (!result) return last;
    if (last) PQclear(last);
    last = result;
    ExecStatusType status = PQresultStatus(result);
    if (status == PGRES_COPY_IN || status == PGRES_COPY_OUT || status == PGRES_COPY_BOTH ||
        PQstatus(pg_) == CONNECTION_BAD) {
      return last;
    }
  }
}

PGresult* PgSession::params(const std::string& statement, const std::vector<Param>& values) {
  std::vector<const char*> pointers;
  std::vector<int> lengths, formats;
  for (std::size_t i = 0; i < values.size(); ++i) {
    const auto& v = values[i].value;
    if (v && !values[i].binary && std::memchr(v->data(), 0, v->size())) {
      throw DataError("value $" + std::to_string(i + 1) +
                      " holds a NUL byte, which PostgreSQL text cannot store");
    }
    pointers.push_back(v ? v->data() : nullptr);
    lengths.push_back(v ? static_cast<int>(v->size()) : 0);
    formats.push_back(values[i].binary ? 1 : 0);
  }
  if (!PQsendQueryParams(pg_, statement.c_str(), static_cast<int>(pointers.size()), nullptr,
                         pointers.data(), lengths.data(), formats.data(), 0)) {
    connectionFailure("sending a statement");
  }
  return check(await(statement.substr(0, 60)), statement.substr(0, 60));
}

void PgSession::copyStart(const std::string& target, const std::string& options) {
  if (!PQsendQuery(pg_, ("COPY " + target + " FROM STDIN " + options).c_str())) {
    connectionFailure("starting COPY into " + target);
  }
  Result start(
      check(await("starting COPY into " + target), "starting COPY into " + target, PGRES_COPY_IN));
  copyDeadline_ = deadline();
}

void PgSession::copyPut(const std::string& data) {
  if (data.empty()) return;
  // Non-blocking: a server that stops reading fills the socket's buffers, and a blocking send
  // would wait for it forever.
  for (;;) {
    int sent = PQputCopyData(pg_, data.data(), static_cast<int>(data.size()));
    if (sent == 1) break;
    if (sent < 0) connectionFailure("sending COPY data");
    waitSocket(POLLOUT, "COPY data", copyDeadline_);
  }
}

void PgSession::copyEnd(const std::string& target) {
  for (;;) {
    int ended = PQputCopyEnd(pg_, nullptr);
    if (ended == 1) break;
    if (ended < 0) connectionFailure("ending COPY");
    waitSocket(POLLOUT, "the end of COPY", copyDeadline_);
  }
  Result end(check(await("COPY into " + target), "COPY into " + target));
}

void PgSession::rollback() {
  if (pg_ && PQstatus(pg_) == CONNECTION_OK && PQtransactionStatus(pg_) != PQTRANS_IDLE) {
    try {
      Result done(query("ROLLBACK"));  // within the answer deadline too
    } catch (const std::exception&) {
    }
  }
}

void PgSession::connectionFailure(const std::string& what) {
  std::string message = pg_ ? PQerrorMessage(pg_) : "";
  if (connection_) message = scrub(message, *connection_);
  trimEnd(message);
  disconnect();  // reconnect on the next attempt
  throw etl::RetryableError(what + " on " + describe() + ": " + message);
}

PGresult* PgSession::check(PGresult* result, const std::string& what, ExecStatusType expected) {
  ExecStatusType status = result ? PQresultStatus(result) : PGRES_FATAL_ERROR;
  if (status == expected || (expected == PGRES_COMMAND_OK && status == PGRES_TUPLES_OK)) {
    return result;
  }
  std::string state = result && PQresultErrorField(result, PG_DIAG_SQLSTATE)
                          ? PQresultErrorField(result, PG_DIAG_SQLSTATE)
                          : "";
  std::string message = result ? PQresultErrorMessage(result) : PQerrorMessage(pg_);
  if (result) PQclear(result);
  trimEnd(message);
  if (connection_) message = scrub(message, *connection_);
  if (PQstatus(pg_) == CONNECTION_OK && (state == "55P03" || state == "40P01")) {
    throw LockConflict(message + " [SQLSTATE " + state + "]");
  }
  if (PQstatus(pg_) != CONNECTION_OK || state.rfind("08", 0) == 0 || state.rfind("57P", 0) == 0 ||
      state.rfind("53", 0) == 0 || state == "40001" || state.empty()) {
    connectionFailure(what + " (" + message + ")");
  }
  if (mayBeTheRows(state)) throw DataError(message + " [SQLSTATE " + state + "]", state);
  throw std::runtime_error(what + ": " + message + " [SQLSTATE " + state + "]");
}

}  // namespace sql
