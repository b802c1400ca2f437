// The databases a test can run on, one parameter for all of them: each gives a fresh database's
// URI and a query helper, so one test body checks PostgreSQL, the embedded SQLite file and
// MariaDB alike.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace etltest {

enum class Backend { Postgres, Sqlite, Mariadb };

// "PostgreSQL", "EmbeddedSQLite", "MariaDB": test name suffixes.
std::string backendName(Backend backend);

class TestDatabase;
class TestMariaDb;

// A fresh database of `backend` (SQLite: the file `sqlitePath`, created when first written).
class BackendDb {
 public:
  BackendDb(Backend backend, std::string sqlitePath);
  ~BackendDb();
  Backend backend() const { return backend_; }
  std::string uri() const;
  // The first column of each row `statement` returns ("" for NULL). MariaDB runs it in sql_mode
  // ANSI (|| joins text, "name" is a name); SQLite through Poco::Data.
  std::vector<std::string> column(const std::string& statement) const;
  int64_t count(const std::string& statement) const;

 private:
  Backend backend_;
  std::string sqlitePath_;
  std::unique_ptr<TestDatabase> postgres_;
  std::unique_ptr<TestMariaDb> mariadb_;
};

}  // namespace etltest
