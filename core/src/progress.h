// How far a pipeline has got, in one line: records read and written and how fast, and, when its
// source counts files (gauge files_planned, counter files_done), which file it is on and an ETA.
// The runner logs it every 10 s; on a terminal etlrun also redraws it live.
#pragma once

#include <chrono>
#include <string>

#include "etl/metrics.h"

namespace etl {

class ProgressMeter {
 public:
  ProgressMeter(Metrics& metrics, std::string pipeline);
  // The line (starting with the pipeline's name when `named`); the rate is over the time since
  // the previous call.
  std::string line(bool named = true);

 private:
  Metrics& metrics_;
  std::string pipeline_;
  std::atomic<int64_t>&in_, &out_, &dead_;
  std::chrono::steady_clock::time_point started_, last_;
  int64_t lastIn_ = 0;
};

}  // namespace etl
