// The jq transform's worker processes (etl_jq_worker), driven from the transform's thread: a
// batch is cut into one contiguous run of records per worker, the records stream to them over a
// socket each and the outputs come back, in order. A worker that runs one record past the time
// budget is killed and replaced, as is one that dies (out of memory, a crash in libjq): that record
// gets the reason, the rest of the run goes on.
#pragma once

#include <Poco/Logger.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "etl/clock.h"

namespace jq_transform {

struct Setup {
  std::string executable;  // etl_jq_worker
  std::string program;
  std::string args;  // JSON object
  uint64_t maxOutputs = 10000;
  uint64_t maxOutputBytes = 4u << 20;
  uint64_t maxMemory = 512u << 20;  // per worker, address space (0 = unlimited)
  std::string origin;               // where import and include look: the program file's folder
  std::chrono::milliseconds timeout{2000};
};

struct Output {
  uint8_t flags = 0;  // jq_wire::kIdentity, kHasStream, kHasKey
  std::string stream, key, json;
};

struct Result {
  std::vector<Output> outputs;
  std::string error;  // "" when the program ran through
};

// The program does not compile: jq's errors, one "LINE:message" a line (LINE 0: not located).
class CompileFailed : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Workers {
 public:
  // Starts `count` workers; throws CompileFailed for a program that does not compile, and
  // std::runtime_error when they cannot run it.
  Workers(Setup setup, std::size_t count, Poco::Logger& logger);
  ~Workers();
  Workers(const Workers&) = delete;
  Workers& operator=(const Workers&) = delete;

  // results[i] is what the program made of *inputs[i]. Throws etl::StoppedError once `stop` is
  // raised (the workers are then replaced before the next run).
  std::vector<Result> run(const std::vector<const std::string*>& inputs,
                          const etl::StopSignal& stop);
  std::size_t size() const { return workers_.size(); }
  // Workers started again after a timeout or a death, since the start.
  uint64_t restarts() const { return restarts_; }

 private:
  struct Worker;
  void start(Worker& worker);
  void stopWorker(Worker& worker);

  Setup setup_;
  Poco::Logger& logger_;
  std::vector<std::unique_ptr<Worker>> workers_;
  uint64_t restarts_ = 0;
};

}  // namespace jq_transform
