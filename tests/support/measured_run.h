// Runs etlrun to its end and measures its peak RSS as the kernel counts it (wait4's rusage), so
// no peak falls between samples. The figure also covers the copy of this test process that fork
// made until exec replaced it, i.e. this process's RSS at that moment (selfRssKiB, a few MiB): an
// upper bound of etlrun's own, never an underestimate.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace etltest {

struct MeasuredRun {
  int exitCode = -1;  // -signal when killed; kTimedOut (test_env.h) when it ran out of time
  long peakRssKiB = 0;
  double seconds = 0;
  std::string out, err;
};

// `addressSpace`: etlrun's address-space limit in bytes (0: none), so that a regression fails
// with bad_alloc instead of taking a shared machine's memory.
MeasuredRun runEtlrunMeasured(const std::vector<std::string>& args,
                              const std::map<std::string, std::string>& env = {},
                              double timeoutSeconds = 300, uint64_t addressSpace = 4ULL << 30);

long selfRssKiB();  // this process's resident set now

}  // namespace etltest
