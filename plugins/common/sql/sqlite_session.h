// One SQLite connection through the C API: text bound with its length (NUL bytes and all),
// blobs, WAL with synchronous=FULL, foreign keys on, and errors classified like PostgreSQL's:
// busy or locked -> etl::RetryableError, a constraint or type refusal -> DataError, the rest
// permanent.
#pragma once

#include <sqlite3.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sql_error.h"

namespace sql {

class SqliteSession {
 public:
  explicit SqliteSession(std::string path) : path_(std::move(path)) {}
  ~SqliteSession() { close(); }
  SqliteSession(const SqliteSession&) = delete;
  SqliteSession& operator=(const SqliteSession&) = delete;

  void open();  // creates the file's directory if needed
  // For sessions that write: SQLite opens a file it may not write read-only, without a word, and
  // the first write fails much later. Throws, naming the file and why, when that happened.
  void requireWritable();
  void close();
  bool isOpen() const { return db_ != nullptr; }
  const std::string& path() const { return path_; }

  void exec(const std::string& statements);  // one or several statements, no results
  void rollback();                           // if a transaction is open; never throws

  class Statement {
   public:
    Statement(SqliteSession& session, const std::string& sql);
    ~Statement();
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;
    // Binds parameters 1..n (nullopt: NULL) and runs the statement; returns true while a row is
    // available (read it with text()), false when done. Throws DataError for a refused row.
    bool run(const std::vector<std::optional<std::string_view>>& values);
    bool next();                                                        // the following result row
    void bindBlob(int index, const std::optional<std::string>& bytes);  // before run()
    std::optional<std::string> text(int column) const;
    int columns() const;  // of each result row
    int changes() const;

   private:
    void bind(const std::vector<std::optional<std::string_view>>& values);
    bool step();
    SqliteSession& session_;
    sqlite3_stmt* stmt_ = nullptr;
    std::string sql_;
    std::vector<std::pair<int, std::optional<std::string>>> blobs_;
  };

  // Throws the error of code `rc` for `what` (see the class comment).
  [[noreturn]] void fail(int rc, const std::string& what);
  sqlite3* handle() { return db_; }

 private:
  // Why the file or its folder cannot be written ("permission denied: ..."), or "".
  std::string accessProblem() const;

  std::string path_;
  sqlite3* db_ = nullptr;
};

}  // namespace sql
