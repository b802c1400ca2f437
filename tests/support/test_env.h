// Paths and helpers shared by the tests: where the build put etlrun and the plugins, temp dirs,
// and running etlrun as a child process with its output captured.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace etltest {

// A port nobody listens on now, for a throwaway server (PostgreSQL, MariaDB).
int unusedPort();
std::string etlrunBinary();
std::string pluginDir();
std::string dataDir();
std::string sourceDir();

// A fresh directory, removed by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

struct ProcessResult {
  int exitCode = -1;
  std::string out;
  std::string err;
};

// Runs a command to completion; stdout/stderr go through files (no pipe deadlocks).
ProcessResult runProcess(const std::string& command, const std::vector<std::string>& args,
                         const std::map<std::string, std::string>& env = {});
ProcessResult runEtlrun(const std::vector<std::string>& args,
                        const std::map<std::string, std::string>& env = {});

// Starts a program in the background with output redirected to files; returns the pid.
int startProcess(const std::string& command, const std::vector<std::string>& args,
                 const std::string& stdoutFile, const std::string& stderrFile,
                 const std::map<std::string, std::string>& env = {});
// Starts etlrun in the background with output redirected to files; returns the pid.
int startEtlrun(const std::vector<std::string>& args, const std::string& stdoutFile,
                const std::string& stderrFile, const std::map<std::string, std::string>& env = {});
// Waits for the child; returns its exit code, or -signal when it was killed.
int waitFor(int pid);
// The same, but kills the child (and returns kTimedOut) if it has not ended within `seconds`.
constexpr int kTimedOut = -1000;
int waitFor(int pid, double seconds);

std::string readFile(const std::string& path);
void writeFile(const std::string& path, const std::string& content);

// Polls `done` (real time, every 50 ms) until it holds or `seconds` passed; returns done().
bool waitUntil(const std::function<bool()>& done, double seconds);

// GET http://127.0.0.1:port/path (2 s timeout): the status and body; {0, ""} when nothing
// answers (not listening yet).
std::pair<int, std::string> httpGet(unsigned short port, const std::string& path);

}  // namespace etltest
