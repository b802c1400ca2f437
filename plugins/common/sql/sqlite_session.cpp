#include "sqlite_session.h"

#include <Poco/Exception.h>
#include <Poco/File.h>
#include <Poco/Path.h>
#include <unistd.h>

#include <cerrno>

#include "etl/errors.h"
#include "etl/files.h"

namespace sql {
namespace {

// "" when this process may use `path` as `mode` asks; otherwise why not, when it is one of the
// reasons an operator can fix.
std::string denied(const std::string& path, int mode) {
  if (::access(path.c_str(), mode) == 0) return "";
  if (errno == EACCES || errno == EPERM) return "permission denied";
  if (errno == EROFS) return "read-only file system";
  return "";
}

}  // namespace

void SqliteSession::open() {
  if (db_) return;
  std::string dir = Poco::Path(path_).parent().toString();
  try {
    if (!dir.empty()) Poco::File(dir).createDirectories();
  } catch (const Poco::FileAccessDeniedException&) {
    throw std::runtime_error("SQLite " + path_ + ": cannot create its folder " + dir +
                             ": permission denied (etlrun runs as user '" + etl::processUser() +
                             "')");
  }
  int rc =
      sqlite3_open_v2(path_.c_str(), &db_,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    try {
      fail(rc, "opening");
    } catch (...) {
      close();  // a failed open still returns a handle, which would pass for an open one
      throw;
    }
  }
  sqlite3_busy_timeout(db_, 30000);
  try {
    exec(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA "
        "cache_size=-16384");
  } catch (...) {
    close();
    throw;
  }
}

void SqliteSession::requireWritable() {
  if (sqlite3_db_readonly(db_, "main") != 1) return;
  std::string problem = accessProblem();
  close();
  throw std::runtime_error("SQLite " + path_ + ": opened read-only: " +
                           (problem.empty() ? "the file cannot be written" : problem));
}

void SqliteSession::close() {
  if (db_) sqlite3_close_v2(db_);
  db_ = nullptr;
}

void SqliteSession::exec(const std::string& statements) {
  char* message = nullptr;
  int rc = sqlite3_exec(db_, statements.c_str(), nullptr, nullptr, &message);
  if (message) sqlite3_free(message);
  if (rc != SQLITE_OK) fail(rc, statements.substr(0, 60));
}

void SqliteSession::rollback() {
  if (db_ && !sqlite3_get_autocommit(db_)) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
}

// SQLite's "unable to open database file" and "attempt to write a readonly database" name neither
// the file nor the reason: the file system can tell which file or folder this user may not write.
std::string SqliteSession::accessProblem() const {
  std::string dir = Poco::Path(path_).parent().toString();
  if (dir.empty()) dir = ".";
  for (const std::string& file : {path_, path_ + "-wal", path_ + "-shm"}) {
    if (::access(file.c_str(), F_OK) != 0) continue;
    std::string why = denied(file, R_OK | W_OK);
    if (!why.empty())
      return why + ": " + file + " cannot be written by user '" + etl::processUser() + "'";
  }
  std::string why = denied(dir, W_OK | X_OK);
  if (!why.empty()) {
    return why + ": the folder " + dir + " cannot be written by user '" + etl::processUser() +
           "' (SQLite creates the database and its -wal and -shm files there)";
  }
  return "";
}

void SqliteSession::fail(int rc, const std::string& what) {
  std::string message = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
  std::string text = "SQLite " + path_ + ": " + what + ": " + message;
  int primary = rc & 0xff;
  if (primary == SQLITE_CANTOPEN || primary == SQLITE_READONLY || primary == SQLITE_PERM) {
    std::string problem = accessProblem();
    if (!problem.empty()) text += ": " + problem;
  }
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) throw etl::RetryableError(text);
  if (primary == SQLITE_CONSTRAINT || primary == SQLITE_MISMATCH || primary == SQLITE_TOOBIG ||
      primary == SQLITE_RANGE) {
    throw DataError(message);
  }
  if (primary == SQLITE_FULL || primary == SQLITE_IOERR) throw etl::RetryableError(text);
  throw std::runtime_error(text);
}

SqliteSession::Statement::Statement(SqliteSession& session, const std::string& sql)
    : session_(session), sql_(sql) {
  int rc =
      sqlite3_prepare_v2(session_.db_, sql.c_str(), static_cast<int>(sql.size()), &stmt_, nullptr);
  if (rc != SQLITE_OK) session_.fail(rc, "preparing " + sql.substr(0, 60));
}

SqliteSession::Statement::~Statement() {
  if (stmt_) sqlite3_finalize(stmt_);
}

void SqliteSession::Statement::bindBlob(int index, const std::optional<std::string>& bytes) {
  blobs_.emplace_back(index, bytes);
}

void SqliteSession::Statement::bind(const std::vector<std::optional<std::string_view>>& values) {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  for (std::size_t i = 0; i < values.size(); ++i) {
    int index = static_cast<int>(i) + 1;
    const auto& v = values[i];
    int rc =
        v ? sqlite3_bind_text64(stmt_, index, v->data(), v->size(), SQLITE_TRANSIENT, SQLITE_UTF8)
          : sqlite3_bind_null(stmt_, index);
    if (rc != SQLITE_OK) session_.fail(rc, "binding a value");
  }
  for (const auto& [index, bytes] : blobs_) {
    int rc = bytes
                 ? sqlite3_bind_blob64(stmt_, index, bytes->data(), bytes->size(), SQLITE_TRANSIENT)
                 : sqlite3_bind_null(stmt_, index);
    if (rc != SQLITE_OK) session_.fail(rc, "binding bytes");
  }
  blobs_.clear();
}

bool SqliteSession::Statement::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  sqlite3_reset(stmt_);
  session_.fail(rc, sql_.substr(0, 60));
}

bool SqliteSession::Statement::run(const std::vector<std::optional<std::string_view>>& values) {
  bind(values);
  return step();
}

bool SqliteSession::Statement::next() {
  return step();
}

std::optional<std::string> SqliteSession::Statement::text(int column) const {
  if (sqlite3_column_type(stmt_, column) == SQLITE_NULL) return std::nullopt;
  const auto* data = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
  return std::string(data, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column)));
}

int SqliteSession::Statement::columns() const {
  return sqlite3_column_count(stmt_);
}

int SqliteSession::Statement::changes() const {
  return sqlite3_changes(session_.db_);
}

}  // namespace sql
