#include "mariadb_env.h"

#include <Poco/File.h>
#include <mysql.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <thread>

#include "test_env.h"

namespace etltest {
namespace {

struct Server {
  std::string host = "127.0.0.1", user = "root";
  unsigned port = 3306;
};

Server sharedServer() {
  const char* uri = std::getenv("ETLTEST_MYSQL_URI");
  if (!uri) {
    throw std::runtime_error(
        "ETLTEST_MYSQL_URI is not set: run the tests with scripts/test.sh "
        "(or scripts/with-mariadb.sh ctest ...)");
  }
  // mysql://user@host:port/db, as scripts/with-mariadb.sh writes it.
  std::string rest = std::string(uri).substr(std::string(uri).find("://") + 3);
  Server s;
  s.user = rest.substr(0, rest.find('@'));
  rest = rest.substr(rest.find('@') + 1);
  std::string hostPort = rest.substr(0, rest.find('/'));
  s.host = hostPort.substr(0, hostPort.find(':'));
  if (hostPort.find(':') != std::string::npos) {
    s.port = static_cast<unsigned>(std::stoul(hostPort.substr(hostPort.find(':') + 1)));
  }
  return s;
}

std::vector<std::string> run(const Server& s, const std::string& database,
                             const std::string& statement, const std::string& socket = "") {
  std::unique_ptr<MYSQL, void (*)(MYSQL*)> h(mysql_init(nullptr), mysql_close);
  unsigned timeout = 30;
  mysql_options(h.get(), MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
  if (!mysql_real_connect(h.get(), socket.empty() ? s.host.c_str() : "localhost", s.user.c_str(),
                          nullptr, database.empty() ? nullptr : database.c_str(), s.port,
                          socket.empty() ? nullptr : socket.c_str(), 0)) {
    throw std::runtime_error(std::string("cannot connect to MariaDB: ") + mysql_error(h.get()));
  }
  mysql_set_character_set(h.get(), "utf8mb4");
  const std::string setup = "SET SESSION sql_mode = 'ANSI', time_zone = '+00:00'";
  if (mysql_real_query(h.get(), setup.data(), setup.size()) != 0 ||
      mysql_real_query(h.get(), statement.data(), statement.size()) != 0) {
    throw std::runtime_error(statement + ": " + mysql_error(h.get()));
  }
  std::vector<std::string> rows;
  MYSQL_RES* result = mysql_store_result(h.get());
  if (!result) return rows;
  while (MYSQL_ROW row = mysql_fetch_row(result)) {
    unsigned long* lengths = mysql_fetch_lengths(result);
    rows.push_back(row[0] ? std::string(row[0], lengths[0]) : "");
  }
  mysql_free_result(result);
  return rows;
}

}  // namespace

bool haveMariaDb() {
  return std::getenv("ETLTEST_MYSQL_URI") != nullptr;
}

TestMariaDb::TestMariaDb() {
  static std::atomic<int> counter{0};
  Server s = sharedServer();
  host_ = s.host;
  user_ = s.user;
  port_ = s.port;
  name_ = "etltest_" + std::to_string(getpid()) + "_" + std::to_string(counter++);
  run(s, "", "DROP DATABASE IF EXISTS " + name_);
  run(s, "", "CREATE DATABASE " + name_ + " CHARACTER SET utf8mb4 COLLATE utf8mb4_bin");
  uri_ = "mysql://" + user_ + "@" + host_ + ":" + std::to_string(port_) + "/" + name_;
}

TestMariaDb::~TestMariaDb() {
  try {
    run(sharedServer(), "", "DROP DATABASE IF EXISTS " + name_);
  } catch (...) {
  }
}

std::vector<std::string> TestMariaDb::query(const std::string& statement) const {
  return run(Server{host_, user_, port_}, name_, statement);
}

int64_t TestMariaDb::count(const std::string& statement) const {
  auto rows = query(statement);
  return rows.empty() || rows[0].empty() ? 0 : std::stoll(rows[0]);
}

PrivateMariaDb::PrivateMariaDb() {
  char pattern[] = "/tmp/etlrun-privmariadb-XXXXXX";
  if (!mkdtemp(pattern)) throw std::runtime_error("mkdtemp failed");
  dir_ = pattern;
  std::string user = geteuid() == 0 ? "root" : std::getenv("USER") ? std::getenv("USER") : "nobody";
  // Temporary files in a folder of its own: in the shared /tmp, another server's bootstrap deleted
  // one of this one's (install-db failed, "Error on delete of '/tmp/#sql-temptable-...'").
  std::string tmp = dir_ + "/tmp";
  if (::mkdir(tmp.c_str(), 0700) != 0) throw std::runtime_error("cannot make " + tmp);
  if (std::system(("mariadb-install-db --no-defaults --datadir=" + dir_ + "/data --tmpdir=" + tmp +
                   " --auth-root-authentication-method=normal --skip-test-db --user=" + user +
                   " > " + dir_ + "/install.log 2>&1")
                      .c_str()) != 0) {
    throw std::runtime_error("mariadb-install-db failed: see " + dir_ + "/install.log");
  }
  port_ = unusedPort();
  pid_ = fork();
  if (pid_ == 0) {
    std::string datadir = "--datadir=" + dir_ + "/data", socket = "--socket=" + dir_ + "/sock",
                port = "--port=" + std::to_string(port_), log = "--log-error=" + dir_ + "/log",
                userArg = "--user=" + user, tmpArg = "--tmpdir=" + tmp;
    execlp("mariadbd", "mariadbd", "--no-defaults", userArg.c_str(), datadir.c_str(),
           tmpArg.c_str(), socket.c_str(), port.c_str(), "--bind-address=127.0.0.1",
           "--skip-name-resolve", "--innodb-buffer-pool-size=32M", log.c_str(),
           static_cast<char*>(nullptr));
    _exit(127);
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (;;) {
    try {
      query("CREATE DATABASE IF NOT EXISTS etl");
      return;
    } catch (const std::exception& e) {
      if (std::chrono::steady_clock::now() > deadline) {
        throw std::runtime_error(std::string("the private MariaDB did not start: ") + e.what());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
}

PrivateMariaDb::~PrivateMariaDb() {
  if (pid_ > 0) {
    ::kill(pid_, SIGCONT);
    ::kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  try {
    Poco::File(dir_).remove(true);
  } catch (...) {
  }
}

std::string PrivateMariaDb::uri() const {
  return "mysql://root@127.0.0.1:" + std::to_string(port_) + "/etl";
}

std::vector<std::string> PrivateMariaDb::query(const std::string& statement) const {
  return run(Server{"127.0.0.1", "root", static_cast<unsigned>(port_)}, "", statement,
             dir_ + "/sock");
}

}  // namespace etltest
