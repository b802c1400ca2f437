// PostgreSQL for tests: a fresh database on the shared throwaway server that scripts/test.sh
// starts (ETLTEST_PG), or a private server of the test's own (for stopping it mid-run).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace etltest {

// Runs one SQL statement on `conninfo`; returns the first column of each row. Throws on error.
std::vector<std::string> sql(const std::string& conninfo, const std::string& statement);
int64_t sqlCount(const std::string& conninfo, const std::string& statement);

class TestDatabase {
 public:
  TestDatabase();  // CREATE DATABASE etltest_<unique>
  ~TestDatabase();
  const std::string& conninfo() const { return conninfo_; }
  const std::string& uri() const { return uri_; }
  int64_t count(const std::string& statement) const { return sqlCount(conninfo_, statement); }

 private:
  std::string server_, name_, conninfo_, uri_;
};

// Its own initdb'd server on a free port; start()/stop() at will. With `superuserPassword`, TCP
// connections need a password (scram-sha-256) instead of being trusted.
class PrivatePostgres {
 public:
  explicit PrivatePostgres(const std::string& superuserPassword = "");
  ~PrivatePostgres();
  void start();
  void stop();
  std::string conninfo() const;
  std::string uri() const;
  // The server's processes (the postmaster and its children): to freeze it with SIGSTOP.
  std::vector<int> pids() const;

 private:
  void pgctl(const std::string& args);
  std::string dir_;
  int port_;
  bool started_ = false;
};

}  // namespace etltest
