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

#include <atomic>
#include <mutex>

namespace etltest {

// Time-lapse: virtual time runs `speed` times faster than real time, so when several pipelines
// share the clock, real work still takes (proportional) virtual time and no thread can race the
// others days ahead. advance() jumps (for cache TTLs); runFor() ends a run as SimulatedClock does.
class TimeLapseClock : public etl::Clock {
 public:
  TimeLapseClock(etl::TimePoint start, double speed)
      : start_(start), realStart_(std::chrono::steady_clock::now()), speed_(speed) {}

  etl::TimePoint now() const override {
    auto real = std::chrono::steady_clock::now() - realStart_;
    auto virtualElapsed = std::chrono::duration_cast<etl::TimePoint::duration>(real * speed_);
    return start_ + virtualElapsed + etl::TimePoint::duration(offset_.load());
  }

  bool sleepUntil(etl::TimePoint deadline, const etl::StopSignal& stop) override {
    etl::StopSignal* ending = nullptr;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stop_ && deadline >= end_) {
        deadline = end_;
        ending = stop_;
      }
    }
    auto wait = deadline - now();
    if (wait.count() > 0) {
      auto real = std::chrono::duration_cast<std::chrono::nanoseconds>(wait / speed_);
      if (!stop.waitUntil(etl::Clock_::now() + real)) return false;
    }
    if (ending) {
      ending->request();
      return false;
    }
    return !stop.requested();
  }

  void advance(etl::Millis by) {
    offset_ += std::chrono::duration_cast<etl::TimePoint::duration>(by).count();
  }
  void runFor(etl::Millis length, etl::StopSignal& stop) {
    std::lock_guard<std::mutex> lock(mutex_);
    end_ = now() + length;
    stop_ = &stop;
  }

 private:
  etl::TimePoint start_;
  std::chrono::steady_clock::time_point realStart_;
  double speed_;
  std::atomic<etl::TimePoint::rep> offset_{0};
  std::mutex mutex_;
  etl::TimePoint end_{};
  etl::StopSignal* stop_ = nullptr;
};

}  // namespace etltest
