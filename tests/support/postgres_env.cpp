#include "postgres_env.h"

#include <Poco/File.h>
#include <libpq-fe.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>

#include "test_env.h"

namespace etltest {
namespace {

std::string sharedServer() {
  const char* conninfo = std::getenv("ETLTEST_PG");
  if (!conninfo) {
    throw std::runtime_error(
        "ETLTEST_PG is not set: run the tests with scripts/test.sh "
        "(or scripts/with-postgres.sh ctest ...)");
  }
  return conninfo;
}

std::string pgBin() {
  const char* bin = std::getenv("ETLTEST_PG_BIN");
  return bin ? bin : "/usr/lib/postgresql/15/bin";
}

void run(const std::string& command) {
  std::string full = geteuid() == 0 ? "su postgres -s /bin/sh -c '" + command + "'" : command;
  if (std::system((full + " > /dev/null 2>&1").c_str()) != 0) {
    throw std::runtime_error("command failed: " + command);
  }
}

}  // namespace

std::vector<std::string> sql(const std::string& conninfo, const std::string& statement) {
  PGconn* conn = PQconnectdb(conninfo.c_str());
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string error = PQerrorMessage(conn);
    PQfinish(conn);
    throw std::runtime_error("cannot connect: " + error);
  }
  PGresult* result = PQexec(conn, statement.c_str());
  auto status = PQresultStatus(result);
  if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
    std::string error = PQresultErrorMessage(result);
    PQclear(result);
    PQfinish(conn);
    throw std::runtime_error(statement + ": " + error);
  }
  std::vector<std::string> rows;
  for (int i = 0; i < PQntuples(result); ++i) {
    rows.push_back(PQgetisnull(result, i, 0) ? "" : PQgetvalue(result, i, 0));
  }
  PQclear(result);
  PQfinish(conn);
  return rows;
}

int64_t sqlCount(const std::string& conninfo, const std::string& statement) {
  auto rows = sql(conninfo, statement);
  return rows.empty() ? 0 : std::stoll(rows[0]);
}

TestDatabase::TestDatabase() : server_(sharedServer()) {
  static std::atomic<int> counter{0};
  name_ = "etltest_" + std::to_string(getpid()) + "_" + std::to_string(counter++);
  sql(server_, "DROP DATABASE IF EXISTS " + name_);
  sql(server_, "CREATE DATABASE " + name_);
  // The server's conninfo with our database instead of its own.
  std::string base = server_;
  std::size_t pos = base.find("dbname=");
  if (pos != std::string::npos) base.erase(pos, base.find(' ', pos) - pos);
  while (!base.empty() && base.back() == ' ') base.pop_back();  // Poco's parser takes no "  "
  conninfo_ = base + " dbname=" + name_;
  std::string host = "127.0.0.1", port = "5432", user = "postgres";
  auto value = [&](const std::string& key, std::string& out) {
    std::size_t at = server_.find(key + "=");
    if (at != std::string::npos) {
      std::size_t start = at + key.size() + 1;
      out = server_.substr(start, server_.find(' ', start) - start);
    }
  };
  value("host", host);
  value("port", port);
  value("user", user);
  uri_ = "postgresql://" + user + "@" + host + ":" + port + "/" + name_;
}

TestDatabase::~TestDatabase() {
  try {
    sql(server_, "DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
  } catch (...) {
  }
}

PrivatePostgres::PrivatePostgres(const std::string& superuserPassword) {
  char pattern[] = "/tmp/etlrun-privpg-XXXXXX";
  if (!mkdtemp(pattern)) throw std::runtime_error("mkdtemp failed");
  dir_ = pattern;
  port_ = unusedPort();
  if (geteuid() == 0) {
    if (std::system(("chown postgres " + dir_).c_str()) != 0) throw std::runtime_error("chown");
  }
  std::string auth = "-A trust";
  if (!superuserPassword.empty()) {
    std::string pwfile = dir_ + "/pwfile";
    std::ofstream(pwfile) << superuserPassword << "\n";
    if (geteuid() == 0 && std::system(("chown postgres " + pwfile).c_str()) != 0) {
      throw std::runtime_error("chown");
    }
    auth = "--auth-local=trust --auth-host=scram-sha-256 --pwfile=" + pwfile;
  }
  run(pgBin() + "/initdb -D " + dir_ + "/data -U postgres " + auth +
      " --no-sync -E UTF8 --no-locale");
  start();
}

PrivatePostgres::~PrivatePostgres() {
  try {
    pgctl("-m immediate stop");
  } catch (...) {
  }
  Poco::File(dir_).remove(true);
}

void PrivatePostgres::pgctl(const std::string& args) {
  run(pgBin() + "/pg_ctl -D " + dir_ + "/data -l " + dir_ + "/log -w " + args);
}

// A port taken between the check and the server's bind is only known from the server's log: the
// first start then moves to another port; a restart keeps its port (its URI was given out).
void PrivatePostgres::start() {
  for (int attempt = 1;; ++attempt) {
    try {
      pgctl("-o \"-p " + std::to_string(port_) + " -k " + dir_ +
            " -c listen_addresses=127.0.0.1 -c fsync=off\" start");
      started_ = true;
      return;
    } catch (const std::runtime_error& e) {
      std::ifstream logFile(dir_ + "/log");
      std::string log((std::istreambuf_iterator<char>(logFile)), std::istreambuf_iterator<char>());
      if (started_ || attempt == 5 || log.find("could not bind") == std::string::npos) {
        throw std::runtime_error(std::string(e.what()) + "\nthe server's log:\n" +
                                 log.substr(log.size() > 4000 ? log.size() - 4000 : 0));
      }
      port_ = unusedPort();
    }
  }
}

void PrivatePostgres::stop() {
  pgctl("-m fast stop");
}

std::string PrivatePostgres::conninfo() const {
  return "host=127.0.0.1 port=" + std::to_string(port_) + " user=postgres dbname=postgres";
}

std::string PrivatePostgres::uri() const {
  return "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/postgres";
}

}  // namespace etltest

namespace etltest {

std::vector<int> PrivatePostgres::pids() const {
  std::ifstream pidFile(dir_ + "/data/postmaster.pid");
  int postmaster = 0;
  pidFile >> postmaster;
  if (postmaster <= 0) throw std::runtime_error("the server is not running");
  std::vector<int> out{postmaster};
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    std::ifstream stat(entry.path() / "stat");
    std::string line;
    if (!std::getline(stat, line)) continue;
    // pid (comm) state ppid ...: the name may hold spaces, so read after its last ')'.
    std::istringstream rest(line.substr(line.rfind(')') + 2));
    char state = 0;
    int parent = 0;
    rest >> state >> parent;
    if (parent == postmaster) out.push_back(std::stoi(entry.path().filename()));
  }
  return out;
}

}  // namespace etltest
