// Virtual time that ends: sleeping past the end raises a stop signal instead, so a test runs a
// simulated hour (or day) of a pipeline in milliseconds and then shuts it down gracefully. One
// instance is shared by the fake servers and the code under test.
#pragma once

#include "etl/clock.h"

namespace etltest {

class SimulatedClock : public etl::ManualClock {
 public:
  explicit SimulatedClock(etl::TimePoint start) : etl::ManualClock(start) {}
  // From now on, sleeping to or past now + `length` stops the run through `stop`.
  void runFor(etl::Millis length, etl::StopSignal& stop) {
    end_ = now() + length;
    stop_ = &stop;
  }
  bool sleepUntil(etl::TimePoint deadline, const etl::StopSignal& stop) override {
    if (stop_ && deadline >= end_) {
      etl::ManualClock::sleepUntil(end_, stop);
      stop_->request();
      return false;
    }
    return etl::ManualClock::sleepUntil(deadline, stop);
  }

 private:
  etl::TimePoint end_{};
  etl::StopSignal* stop_ = nullptr;
};

// A fixed, realistic start: 2026-01-12T10:00:00Z.
inline etl::TimePoint simulationStart() {
  return etl::TimePoint(std::chrono::seconds(1768212000));
}

}  // namespace etltest
