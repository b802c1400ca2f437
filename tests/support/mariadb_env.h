// MariaDB for tests: a fresh database on the shared throwaway server that scripts/with-mariadb.sh
// starts (ETLTEST_MYSQL_URI), like TestDatabase on PostgreSQL. Queries go through MariaDB
// Connector/C directly, not through the code under test.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace etltest {

// True when scripts/with-mariadb.sh started a server for this run.
bool haveMariaDb();

class TestMariaDb {
 public:
  TestMariaDb();  // CREATE DATABASE etltest_<unique>
  ~TestMariaDb();
  TestMariaDb(const TestMariaDb&) = delete;
  TestMariaDb& operator=(const TestMariaDb&) = delete;
  // mysql://root@127.0.0.1:PORT/etltest_...
  const std::string& uri() const { return uri_; }
  const std::string& name() const { return name_; }
  // Runs `statement` in this database, in sql_mode ANSI (|| joins text, "name" is a name, as in
  // PostgreSQL); returns the first column of each row ("" for NULL). Throws on error.
  std::vector<std::string> query(const std::string& statement) const;
  int64_t count(const std::string& statement) const;

 private:
  std::string host_, user_, name_, uri_;
  unsigned port_ = 3306;
};

// A MariaDB server of the test's own (its data dir, socket and port), for freezing it (SIGSTOP):
// root without a password, a database `etl` made.
class PrivateMariaDb {
 public:
  PrivateMariaDb();
  ~PrivateMariaDb();
  PrivateMariaDb(const PrivateMariaDb&) = delete;
  PrivateMariaDb& operator=(const PrivateMariaDb&) = delete;
  std::string uri() const;  // mysql://root@127.0.0.1:PORT/etl
  int pid() const { return pid_; }
  // The first column of each row (sql_mode ANSI), through the server's socket.
  std::vector<std::string> query(const std::string& statement) const;

 private:
  std::string dir_;
  int port_ = 0, pid_ = 0;
};

}  // namespace etltest
