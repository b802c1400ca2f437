#include "measured_run.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <cerrno>
#include <chrono>
#include <fstream>
#include <stdexcept>
#include <thread>

#include "test_env.h"

namespace etltest {

MeasuredRun runEtlrunMeasured(const std::vector<std::string>& args,
                              const std::map<std::string, std::string>& env, double timeoutSeconds,
                              uint64_t addressSpace) {
  TempDir dir;
  auto start = std::chrono::steady_clock::now();
  pid_t pid = startEtlrun(args, dir / "out", dir / "err", env);
  if (addressSpace) {
    // Set from here, right after fork: etlrun allocates nothing large before it reads input.
    struct rlimit limit {};
    limit.rlim_cur = limit.rlim_max = addressSpace;
    ::prlimit(pid, RLIMIT_AS, &limit, nullptr);
  }
  MeasuredRun run;
  int status = 0;
  struct rusage usage {};
  auto deadline = start + std::chrono::duration<double>(timeoutSeconds);
  bool timedOut = false;
  while (true) {
    pid_t done = ::wait4(pid, &status, WNOHANG, &usage);
    if (done == pid) break;
    if (done < 0 && errno != EINTR) throw std::runtime_error("wait4 failed");
    if (!timedOut && std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      timedOut = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  run.peakRssKiB = usage.ru_maxrss;
  run.exitCode = timedOut ? kTimedOut : WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
  run.out = readFile(dir / "out");
  run.err = readFile(dir / "err");
  return run;
}

long selfRssKiB() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

}  // namespace etltest
