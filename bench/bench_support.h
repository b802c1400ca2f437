// What the benchmarks share: the PostgreSQL server bench/run.sh started, one-value queries, and
// running the real etlrun binary while sampling its peak RSS.
#pragma once

#include <libpq-fe.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>

#include "test_env.h"

namespace bench {

// The server bench/run.sh started (ETLTEST_PG, ETLTEST_PG_URI); exits 2 naming `script` when the
// benchmark was started without it.
struct Server {
  std::string conninfo, uri;
};
inline Server serverFromEnv(const char* script) {
  const char* conninfo = std::getenv("ETLTEST_PG");
  const char* uri = std::getenv("ETLTEST_PG_URI");
  if (!conninfo || !uri) {
    std::fprintf(stderr, "ETLTEST_PG and ETLTEST_PG_URI must be set: run %s\n", script);
    std::exit(2);
  }
  return {conninfo, uri};
}

inline PGconn* connect(const std::string& conninfo) {
  PGconn* conn = PQconnectdb(conninfo.c_str());
  if (PQstatus(conn) != CONNECTION_OK) throw std::runtime_error(PQerrorMessage(conn));
  PQclear(PQexec(conn, "SET client_min_messages = warning"));
  return conn;
}

// The first value of `sql`'s first row ("" when it has none); throws when the statement fails.
inline std::string one(PGconn* conn, const std::string& sql) {
  PGresult* r = PQexec(conn, sql.c_str());
  if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK) {
    std::string error = PQresultErrorMessage(r);
    PQclear(r);
    throw std::runtime_error(sql + ": " + error);
  }
  std::string value = PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "";
  PQclear(r);
  return value;
}

struct Run {
  double seconds;
  long peakRssKb;
  int exitCode;
};

// The peak RSS of the program `pid` runs now, in KiB: VmHWM belongs to the address space exec
// made, unlike rusage's maxrss, which keeps the pre-exec copy of this (large) process.
inline long peakRss(pid_t pid) {
  std::string name;
  std::getline(std::ifstream("/proc/" + std::to_string(pid) + "/comm"), name);
  if (name != "etlrun") return 0;  // not exec'd yet: still a copy of this process
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

// `etlrun --once yaml`, its log in logFile; its peak RSS sampled every 20 ms while it runs.
inline Run etlrun(const std::string& yaml, const std::string& stateDir,
                  const std::string& logFile) {
  auto start = std::chrono::steady_clock::now();
  pid_t pid = fork();
  if (pid == 0) {
    std::freopen(logFile.c_str(), "w", stderr);
    std::string binary = etltest::etlrunBinary();
    std::string pluginPath = "--plugin-path=" + etltest::pluginDir();
    std::string state = "--state-dir=" + stateDir;
    execl(binary.c_str(), binary.c_str(), "--once", pluginPath.c_str(), state.c_str(), yaml.c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  long peak = 0;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    peak = std::max(peak, peakRss(pid));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return {seconds, peak, WIFEXITED(status) ? WEXITSTATUS(status) : -1};
}

}  // namespace bench
